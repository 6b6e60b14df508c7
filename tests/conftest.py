"""Shared fixtures: a tiny BERT built from a config with a locally trained tokenizer (no
downloads), the real embedded MiniLM for slow tests, the shared data folder, a fake Hub."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never reach the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

CORPUS = [
    "my card never arrived",
    "when will my new card come",
    "please cancel my order",
    "i want to cancel the purchase",
    "what is my account balance",
    "how much money do i have",
    "reset my password please",
    "i forgot my login password",
    "hello there how are you",
    "goodbye and see you later",
    "book a flight to paris",
    "what is the weather today",
]


def made_up_word(i: int) -> str:
    """A word of four letters, distinct for each i below 26**4."""
    letters = ""
    for _ in range(4):
        letters, i = letters + "abcdefghijklmnopqrstuvwxyz"[i % 26], i // 26
    return letters


def made_up_texts(n: int = 2000, vocabulary: int = 600, seed: int = 0) -> list[str]:
    """Texts of 5 words drawn from ``vocabulary`` made-up words: about 17 texts per word, under 1% each,
    so that cloze tasks (fewshot_nlp.tasks.cloze) have hundreds of classes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [" ".join(made_up_word(int(i)) for i in rng.choice(vocabulary, 5, replace=False)) for _ in range(n)]


def build_tiny_model(folder: Path) -> Path:
    """A 2-layer, 32-wide BERT with a WordPiece tokenizer made from CORPUS, saved to ``folder``.

    The vocabulary is built, not trained: the WordPiece trainer breaks ties between pieces in an
    order that changes from one process to the next, so the tiny model (and every test on it)
    would differ between runs. Here: CORPUS's words whole, and single characters (plain and
    ``##``) for any other lower-case word, number or punctuation.
    """
    import string

    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = sorted({w for line in CORPUS for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))})
    characters = sorted(set("".join(words)) | set(string.ascii_lowercase + string.digits + string.punctuation))
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = [*special, *characters, *(f"##{c}" for c in characters), *(w for w in words if w not in characters)]
    tokenizer = Tokenizer(models.WordPiece({piece: i for i, piece in enumerate(pieces)}, unk_token="[UNK]"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizer, pre_tokenizer
    tokenizer.post_processor = processors.BertProcessing(
        ("[SEP]", tokenizer.token_to_id("[SEP]")), ("[CLS]", tokenizer.token_to_id("[CLS]"))
    )
    fast = BertTokenizerFast(tokenizer_object=tokenizer, model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def _tiny_encoder(tiny_model_dir):
    from fewshot_nlp import SentenceEncoder

    return SentenceEncoder(str(tiny_model_dir))


@pytest.fixture
def tiny_encoder(_tiny_encoder):
    """A fresh copy per test, so no test sees another's LoRA or weights."""
    return copy.deepcopy(_tiny_encoder)


@pytest.fixture(scope="session")
def minilm():
    """The plain, frozen all-MiniLM-L6-v2: the floors of the real-model tests are its own."""
    from fewshot_nlp import DEFAULT_ENCODER, SentenceEncoder

    return SentenceEncoder(DEFAULT_ENCODER)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "intents").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}; these tests need ../shared/data beside the project")
    return SHARED_DATA


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A Hub in a temp folder: uploads copy a folder in, downloads read from it.

    Patches huggingface_hub at its boundary (HfApi uploads, hf_hub_download,
    snapshot_download), so the package's real push/pull code runs end to end.
    """
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    store = tmp_path / "hub"
    calls = SimpleNamespace(create_repo=[], upload_folder=[])

    def create_repo(self, repo_id, *, private=None, exist_ok=False, **kwargs):
        calls.create_repo.append({"repo_id": repo_id, "private": private, "exist_ok": exist_ok})
        (store / repo_id).mkdir(parents=True, exist_ok=True)
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, **kwargs):
        calls.upload_folder.append({"repo_id": repo_id, "commit_message": commit_message, "token": self.token})
        target = store / repo_id
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder_path, target)
        return f"https://hub.test/{repo_id}/commit/1"

    def hf_hub_download(repo_id, filename, **kwargs):
        path = store / repo_id / filename
        if not path.is_file():
            raise LocalEntryNotFoundError(f"{repo_id}/{filename} not in the fake hub")
        return str(path)

    def snapshot_download(repo_id, **kwargs):
        path = store / repo_id
        if not path.is_dir():
            raise LocalEntryNotFoundError(f"{repo_id} not in the fake hub")
        return str(path)

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return SimpleNamespace(store=store, calls=calls)


class KeywordEncoder:
    """A transparent stand-in encoder: one dimension per keyword, so tests know every score.

    A text's embedding is the normalised count of the keywords it contains (plus a small
    constant dimension so that a text without keywords is not a zero vector).
    """

    keywords = ("card", "cancel", "balance", "password", "refund", "weather")
    name_or_path = "keyword-encoder"
    lora_settings = None

    def __init__(self):
        self.embedding_dim = len(self.keywords) + 1
        self.calls: list[list[str]] = []

    def encode(self, texts, **kwargs):
        import torch

        self.calls.append(list(texts))
        rows = [[float(t.count(k)) for k in self.keywords] + [0.2] for t in texts]
        return torch.nn.functional.normalize(torch.tensor(rows), dim=-1).reshape(len(rows), self.embedding_dim)


@pytest.fixture
def keyword_encoder():
    return KeywordEncoder()


TOY_PAIRS = [
    ("hallo welt", "hello world"),
    ("guten morgen", "good morning"),
    ("gute nacht", "good night"),
    ("danke schön", "thank you"),
    ("wie geht es dir", "how are you"),
    ("ich liebe dich", "i love you"),
    ("das haus ist groß", "the house is big"),
    ("der hund schläft", "the dog sleeps"),
]


def build_tiny_seq2seq(folder, seed=0, special_tokens=()) -> str:
    """A one-layer Marian model (d_model 32) with a tokenizer trained on the toy pairs, saved in ``folder``."""
    import torch

    from fewshot_nlp.translation.base_models import marian_from_scratch, train_tokenizer

    torch.manual_seed(seed)
    texts = [s for pair in TOY_PAIRS for s in pair] * 3
    tokenizer = train_tokenizer(texts, vocab_size=80, special_tokens=special_tokens)
    model = marian_from_scratch(tokenizer, d_model=32, layers=1, heads=2, ffn_dim=64, max_positions=64, dropout=0.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """Path of a tiny seq2seq base model (see :func:`build_tiny_seq2seq`)."""
    return build_tiny_seq2seq(tmp_path_factory.mktemp("tiny-marian"))


WORDS = {"Toya": lambda s: s, "Toyb": lambda s: s[::-1], "Toyc": lambda s: s.upper()}  # three "languages"


@pytest.fixture(scope="session")
def tiny_bible(tmp_path_factory):
    """data/bible with English and three toy languages (Toyc for evaluation): MRK (base books),
    MAT (meta books), JHN.21 (dev), ACT (held out)."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "bible"
    folder.mkdir()
    verses = [(f"b.MAT.1.{i + 1}", pair) for i, pair in enumerate(TOY_PAIRS * 3)]
    verses += [(f"b.MRK.1.{i + 1}", pair) for i, pair in enumerate(TOY_PAIRS)]
    verses += [(f"b.JHN.21.{i + 1}", pair) for i, pair in enumerate(TOY_PAIRS)]
    verses += [(f"b.ACT.1.{i + 1}", pair) for i, pair in enumerate(TOY_PAIRS)]

    def write(name, side):
        segments = "\n".join(f'<seg id="{v}" type="verse">{side(p)}</seg>' for v, p in verses)
        (folder / name).write_text(f"<cesDoc><text><body>\n{segments}\n</body></text></cesDoc>\n")

    write("English-KJV-NT.xml", lambda p: p[1])
    for language, spell in WORDS.items():
        write(f"{language}-NT.xml", lambda p, spell=spell: spell(p[0]))
    split = root / "split.yaml"
    split.write_text("held_out_books: [ACT]\nmeta_books: [MAT]\ndev_chapters: [JHN.21]\nevaluation_languages: [Toyc]\n")
    return root
