"""The default encoder: the embedded MiniLM with the package's meta-trained adapter merged in.

Tiny-model tests stand the tiny BERT in for MiniLM and a tiny adapter in for the shipped one;
the slow tests load the real ones.
"""

import fnmatch
import json
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import fewshot_nlp.encoders as encoders
from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, LoraSettings, SentenceEncoder

TEXTS = ["my card never arrived", "please cancel my order", "what is the weather today"]


@pytest.fixture
def tiny_default(tiny_model_dir, tmp_path, monkeypatch):
    """The tiny BERT as the 'embedded' encoder, with a tiny all-linear adapter as the default; returns
    the adapted (unmerged) encoder that the default must reproduce."""
    adapted = SentenceEncoder(str(tiny_model_dir), lora=LoraSettings(r=2, target_modules="all-linear"))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in adapted.lora_parameters().items():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    folder = tmp_path / "default_adapter"
    folder.mkdir()
    save_file(adapted.lora_state_dict(), folder / encoders.ADAPTER_WEIGHTS)
    lora = vars(adapted.lora_settings)
    (folder / encoders.ADAPTER_CONFIG).write_text(json.dumps({"lora": lora}))
    monkeypatch.setattr(encoders, "embedded_default_path", lambda: tiny_model_dir)
    monkeypatch.setattr(encoders, "DEFAULT_ADAPTER_DIR", folder)
    return adapted


def test_the_default_is_the_adapter_merged_into_the_encoder(tiny_default, tiny_model_dir):
    default = SentenceEncoder()
    assert default.name_or_path == encoders.DEFAULT_MODEL and default.lora_settings is None
    assert not any("lora" in name for name, _ in default.named_parameters())  # merged: plain layers again
    assert torch.allclose(default.encode(TEXTS), tiny_default.encode(TEXTS), atol=1e-5)
    plain = SentenceEncoder(str(tiny_model_dir)).encode(TEXTS)
    assert (default.encode(TEXTS) - plain).abs().max() > 1e-3  # the adapter changes the embeddings


def test_the_plain_encoder_is_one_argument_away_and_bit_identical(tiny_default, tiny_model_dir):
    plain = SentenceEncoder(str(tiny_model_dir)).encode(TEXTS)
    for name in (DEFAULT_ENCODER, "all-MiniLM-L6-v2"):
        assert torch.equal(SentenceEncoder(name).encode(TEXTS), plain)
        assert torch.equal(FewShotClassifier.from_pretrained(name).encoder.encode(TEXTS), plain)
    assert FewShotClassifier.from_pretrained().encoder.name_or_path == encoders.DEFAULT_MODEL


def test_without_the_adapter_file_the_default_is_the_plain_encoder(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(encoders, "embedded_default_path", lambda: tiny_model_dir)
    monkeypatch.setattr(encoders, "DEFAULT_ADAPTER_DIR", tmp_path)
    assert SentenceEncoder().name_or_path == DEFAULT_ENCODER
    with pytest.raises(ValueError, match="lacks"):
        SentenceEncoder(encoders.DEFAULT_MODEL)


def test_a_saved_classifier_rebuilds_the_default_and_notices_another_adapter(tiny_default, tmp_path):
    clf = FewShotClassifier.from_pretrained(labels={"cards": "card problems"})
    clf.fit(TEXTS[:2], ["cards", "orders"])
    clf.save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["encoder"] == encoders.DEFAULT_MODEL
    assert config["encoder_revision"] == encoders.default_adapter_revision()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = FewShotClassifier.from_pretrained(tmp_path / "saved")
    assert torch.equal(again.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    weights = encoders.DEFAULT_ADAPTER_DIR / encoders.ADAPTER_WEIGHTS
    changed = {k: v + 0.01 for k, v in load_file(weights).items()}
    save_file(changed, weights)
    with pytest.warns(UserWarning, match="made with default adapter"):
        FewShotClassifier.from_pretrained(tmp_path / "saved")


# ----------------------------------------------------------------- the shipped adapter
@pytest.mark.slow
def test_the_shipped_adapter_is_small_documented_and_merged():
    if not encoders.default_adapter_available():
        pytest.skip("this checkout ships no default adapter yet")
    folder = encoders.DEFAULT_ADAPTER_DIR
    assert (folder / encoders.ADAPTER_WEIGHTS).stat().st_size <= 3 * 1024 * 1024
    record = json.loads((folder / "training_record.json").read_text())
    assert record["corpora"] and record["corpus_sha256"] and record["validation"] and record["wall_seconds"]
    assert "Trained on" in (folder / "README.md").read_text()
    default, plain = SentenceEncoder(), SentenceEncoder(DEFAULT_ENCODER)
    assert default.name_or_path == encoders.DEFAULT_MODEL
    assert not any("lora" in name for name, _ in default.named_parameters())
    assert (default.encode(TEXTS) - plain.encode(TEXTS)).abs().max() > 1e-3


@pytest.mark.slow
def test_the_plain_minilm_is_bit_identical_to_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(encoders.embedded_default_path()), device="cpu")
    expected = reference.encode(TEXTS, convert_to_tensor=True, normalize_embeddings=True).float()
    assert torch.equal(FewShotClassifier.from_pretrained(DEFAULT_ENCODER).encoder.encode(TEXTS), expected)


@pytest.mark.slow
def test_everything_works_on_the_default(tmp_path, fake_hub):
    clf = FewShotClassifier.from_pretrained(
        labels={"refund": "the customer wants money back", "delivery": "questions about when a parcel arrives"}
    )
    assert clf.predict(["when will the package get here?", "I want my money back"]) == ["delivery", "refund"]
    clf.fit(["my card never came", "cancel my order", "stop the order please"], ["card", "cancel", "cancel"])
    clf.add_examples(["when does my new card arrive"], ["card"])
    assert clf.predict(["where is my new card?"]) == ["card"]
    clf.calibrate_oos(["my card has not arrived", "cancel the order"], ["what is the weather like", "tell me a joke"])
    assert clf.predict(["play some jazz"]) == ["oos"]
    multi = FewShotClassifier.from_pretrained(multi_label=True)
    multi.fit(["card and refund", "card only", "refund only"], [["card", "refund"], ["card"], ["refund"]])
    assert set(multi.predict(["my card, and a refund please"])[0]) <= {"card", "refund"}
    clf.push_to_hub("me/default-intents")
    again = FewShotClassifier.from_pretrained("me/default-intents")
    assert again.encoder.name_or_path == clf.encoder.name_or_path
    assert torch.allclose(again.predict_proba(["where is my new card?"]), clf.predict_proba(["where is my new card?"]))


def test_a_built_package_carries_every_file_of_the_default_adapter():
    """setuptools copies a data folder only when it is a declared package whose files match its patterns."""
    tomllib = pytest.importorskip("tomllib")  # the standard library's from Python 3.11
    setuptools = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "fewshot_nlp.default_adapter" in setuptools["packages"]
    patterns = setuptools["package-data"]["fewshot_nlp.default_adapter"]
    shipped = [p.name for p in encoders.DEFAULT_ADAPTER_DIR.iterdir() if p.is_file()]
    assert encoders.ADAPTER_WEIGHTS in shipped
    assert [name for name in shipped if not any(fnmatch.fnmatch(name, p) for p in patterns)] == []
