"""FewShotTranslator on a tiny Marian model built from a config, with a tokenizer trained here."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from conftest import TOY_PAIRS, build_tiny_seq2seq

from fewshot_nlp import FewShotTranslator
from fewshot_nlp.meta.fomaml import first_order_maml_gradients
from fewshot_nlp.translation import language_setup

PAIRS = TOY_PAIRS


@pytest.fixture(scope="session")
def other_base(tmp_path_factory):
    """Same architecture, other weights: an adapter must not be loaded onto it."""
    return build_tiny_seq2seq(tmp_path_factory.mktemp("other-marian"), seed=1)


@pytest.fixture
def translator(tiny_base):
    torch.manual_seed(0)
    return FewShotTranslator.from_pretrained(tiny_base, source_language="German", target_language="English")


def test_lora_attaches_and_only_lora_trains(translator):
    trainable = [n for n, p in translator.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert set(trainable) == set(translator.lora_parameters())
    assert translator.lora_settings.target_modules == ["q_proj", "v_proj"]  # found by name: peft lacks marian
    assert any(".encoder." in n for n in trainable) and any(".decoder." in n for n in trainable)


def test_fomaml_step_lowers_query_loss(translator):
    support = translator.batch(PAIRS[:4])
    query = translator.batch(PAIRS[4:])
    weights = {n: p.detach().clone() for n, p in translator.lora_parameters().items()}

    def adapted_query_loss(w):
        return first_order_maml_gradients(
            w, lambda f: translator.loss(support, f), lambda f: translator.loss(query, f), 2, 2.0
        )

    before, grads, _ = adapted_query_loss(weights)
    assert any(float(g.abs().sum()) > 0 for n, g in grads.items() if "lora_A" in n)  # A moves despite B = 0
    for _ in range(3):
        _, grads, _ = adapted_query_loss(weights)
        weights = {n: w - 20.0 * grads[n] for n, w in weights.items()}  # tiny random base: small grads
    after, _, _ = adapted_query_loss(weights)
    assert after < before - 0.01


def test_adapt_translate_save_load_round_trip(translator, tiny_base, tmp_path):
    base_weights = {n: p.detach().clone() for n, p in translator.model.named_parameters() if "lora_" not in n}
    with torch.no_grad():
        before_loss = float(translator.loss(translator.batch(PAIRS)))
    losses = translator.adapt(PAIRS, steps=40, lr=3e-2, batch_size=4, progress=False)
    with torch.no_grad():
        after_loss = float(translator.loss(translator.batch(PAIRS)))
    assert len(losses) == 40 and after_loss < before_loss - 0.05, (before_loss, after_loss)  # LoRA on a random base
    assert all(torch.equal(p, base_weights[n]) for n, p in translator.model.named_parameters() if "lora_" not in n)
    sources = [s for s, _ in PAIRS]
    before = translator.translate(sources, beams=2, max_new_tokens=8)
    assert len(before) == len(sources) and all(isinstance(t, str) for t in before)

    translator.save_pretrained(tmp_path / "de-en")
    assert sorted(p.name for p in (tmp_path / "de-en").iterdir()) == [
        "README.md",
        "adapter_model.safetensors",
        "config.json",
    ]
    config = json.loads((tmp_path / "de-en" / "config.json").read_text())
    assert config["base_model"] == tiny_base and config["adaptation"]["pairs"] == len(PAIRS)
    card = (tmp_path / "de-en" / "README.md").read_text()
    assert "pipeline_tag: translation" in card and "- German" in card and "fewshot-nlp" in card

    loaded = FewShotTranslator.from_pretrained(tmp_path / "de-en")
    assert (loaded.source_language, loaded.target_language) == ("German", "English")
    assert loaded.translate(sources, beams=2, max_new_tokens=8) == before
    scores = loaded.score(PAIRS[:3], beams=1)
    assert set(scores) == {"chrf", "bleu", "sentences"} and 0 <= scores["chrf"] <= 100


def test_adapter_refused_on_another_base(translator, other_base, tmp_path):
    translator.save_pretrained(tmp_path / "adapter")
    with pytest.raises(ValueError, match="different model"):
        FewShotTranslator.from_pretrained(tmp_path / "adapter", base_model=other_base)


def test_push_to_hub_then_from_pretrained(translator, fake_hub):
    translator.adapt(PAIRS, steps=5, progress=False)
    translator.push_to_hub("me/de-en", private=True)
    loaded = FewShotTranslator.from_pretrained("me/de-en")
    assert loaded.adaptation["steps"] == 5
    for name, tensor in translator.lora_parameters().items():
        assert torch.equal(loaded.lora_parameters()[name], tensor)


def test_too_long_sentence_is_truncated_with_a_warning(translator):
    long = " ".join(["hallo welt"] * 200)
    with pytest.warns(UserWarning, match="truncated"):
        out = translator.translate([long, "gute nacht"], beams=1, max_new_tokens=4)
    assert len(out) == 2
    with pytest.warns(UserWarning, match="truncated"):
        translator.adapt([(long, "hello")], steps=1, progress=False)


def test_bad_inputs_are_explained(translator, tiny_base):
    with pytest.raises(ValueError, match="at least one"):
        translator.adapt([], steps=1)
    with pytest.raises(ValueError, match="pair 0"):
        translator.adapt([("only one side",)], steps=1)
    with pytest.raises(ValueError, match="steps"):
        translator.adapt(PAIRS, steps=0)
    with pytest.raises(ValueError, match="could not load the base seq2seq model"):
        FewShotTranslator.from_pretrained("no-such-org/no-such-model")
    with pytest.raises(ValueError, match="max_source_length"):
        FewShotTranslator.from_pretrained(tiny_base, max_source_length=0)


def test_marian_target_codes(tmp_path):
    folder = build_tiny_seq2seq(tmp_path / "multi", special_tokens=[">>eng<<", ">>fra<<"])
    translator = FewShotTranslator.from_pretrained(folder, target_language="fra")
    assert translator.languages.prefix == ">>fra<< "
    with pytest.raises(ValueError, match="'>>xyz<<' is not known"):
        FewShotTranslator.from_pretrained(folder, target_language="xyz")


def test_language_conventions_of_other_families():
    assert language_setup(None, "t5", "German", "English").prefix == "translate German to English: "

    class CodeTokenizer(SimpleNamespace):  # the mBART-50 / NLLB convention
        unk_token_id = 0
        additional_special_tokens = ["deu_Latn", "eng_Latn"]

        def convert_tokens_to_ids(self, token):
            return {"deu_Latn": 5, "eng_Latn": 6}.get(token, 0)

    tokenizer = CodeTokenizer(src_lang=None, tgt_lang=None)
    setup = language_setup(tokenizer, "m2m_100", "deu_Latn", "eng_Latn")
    assert tokenizer.src_lang == "deu_Latn" and setup.generate_kwargs == {"forced_bos_token_id": 6}
    with pytest.raises(ValueError, match="'swh' is not known.*deu_Latn"):
        language_setup(CodeTokenizer(src_lang=None), "m2m_100", "swh", "eng_Latn")
