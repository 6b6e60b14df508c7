"""Save / load round trips (local folder and a fake Hub); nothing pickled, model card metadata."""

import json

import pytest
import torch
import yaml

from fewshot_nlp import FewShotClassifier, LoraSettings

TEXTS = ["my card never arrived", "please cancel my order", "what is my account balance", "i forgot my password"]
LABELS = ["card", "cancel", "balance", "password"]
QUERIES = ["when will my new card come", "how much money do i have", "reset my password please"]


@pytest.fixture
def fitted(tiny_encoder):
    clf = FewShotClassifier(tiny_encoder, labels={"refund": "i want my money back"}, oos_threshold=0.1)
    return clf.fit(TEXTS, LABELS)


def _card(folder):
    text = (folder / "README.md").read_text()
    _, header, body = text.split("---", 2)
    return yaml.safe_load(header), body


def test_local_round_trip_is_exact(fitted, tmp_path):
    fitted.save_pretrained(tmp_path / "model")
    loaded = FewShotClassifier.from_pretrained(tmp_path / "model")
    assert loaded.classes_ == fitted.classes_
    assert torch.allclose(loaded.predict_proba(QUERIES), fitted.predict_proba(QUERIES), atol=1e-6)
    assert loaded.predict(QUERIES) == fitted.predict(QUERIES)
    assert loaded.oos_threshold == 0.1


def test_saved_files_are_json_and_safetensors_only(fitted, tmp_path):
    fitted.save_pretrained(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["README.md", "config.json", "head.safetensors", "head_config.json"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["encoder"] == fitted.encoder.name_or_path
    assert config["head_type"] == "mixture"
    assert config["labels"] == ["refund", *LABELS]
    assert config["descriptions"] == [["refund", "i want my money back"]]
    assert config["oos_threshold"] == 0.1 and config["lora"] is None
    assert "fewshot_nlp_version" in config


def test_model_card_metadata(fitted, tmp_path):
    fitted.save_pretrained(tmp_path)
    meta, body = _card(tmp_path)
    assert meta["library_name"] == "fewshot-nlp"
    assert meta["pipeline_tag"] == "text-classification"
    assert "fewshot-nlp" in meta["tags"]
    assert meta["labels"] == ["refund", *LABELS]
    assert "`card`" in body


def test_model_card_names_a_hub_base_model(keyword_encoder, tmp_path):
    keyword_encoder.name_or_path = "sentence-transformers/all-MiniLM-L6-v2"
    FewShotClassifier(keyword_encoder, labels=["a", "b"]).save_pretrained(tmp_path)
    assert _card(tmp_path)[0]["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_lora_adapter_round_trip(tiny_model_dir, tmp_path):
    clf = FewShotClassifier.from_pretrained(str(tiny_model_dir), lora=LoraSettings(r=4))
    with torch.no_grad():
        for p in clf.encoder.lora_parameters().values():
            p.normal_(std=0.5)
    clf.fit(TEXTS, LABELS)
    clf.save_pretrained(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").is_file()
    loaded = FewShotClassifier.from_pretrained(tmp_path)
    assert loaded.encoder.lora_settings == clf.encoder.lora_settings
    assert torch.allclose(loaded.predict_proba(QUERIES), clf.predict_proba(QUERIES), atol=1e-6)
    # the adapter really changes the encoder: without it the scores differ
    plain = FewShotClassifier.from_pretrained(str(tiny_model_dir)).fit(TEXTS, LABELS)
    assert not torch.allclose(plain.decision_function(QUERIES), clf.decision_function(QUERIES), atol=1e-4)


def test_saving_an_unfitted_classifier_is_refused(tiny_encoder, tmp_path):
    with pytest.raises(ValueError, match="no labels yet"):
        FewShotClassifier(tiny_encoder).save_pretrained(tmp_path)


def test_push_to_hub_then_from_pretrained(fitted, fake_hub):
    fitted.push_to_hub("me/bank-intents", private=True, token="hf_test", commit_message="first model")
    assert fake_hub.calls.create_repo == [{"repo_id": "me/bank-intents", "private": True, "exist_ok": True}]
    upload = fake_hub.calls.upload_folder[0]
    assert upload["commit_message"] == "first model" and upload["token"] == "hf_test"
    assert (fake_hub.store / "me/bank-intents" / "head.safetensors").is_file()
    pulled = FewShotClassifier.from_pretrained("me/bank-intents")
    assert pulled.classes_ == fitted.classes_
    assert torch.allclose(pulled.predict_proba(QUERIES), fitted.predict_proba(QUERIES), atol=1e-6)


def test_from_pretrained_adds_labels_to_a_loaded_model(fitted, tmp_path):
    fitted.save_pretrained(tmp_path)
    loaded = FewShotClassifier.from_pretrained(tmp_path, labels={"weather": "the weather today"})
    assert loaded.classes_ == [*fitted.classes_, "weather"]


def test_unknown_hub_id_offline_is_a_clear_error(fake_hub):
    with pytest.raises(ValueError, match="nobody/nothing"):
        FewShotClassifier.from_pretrained("nobody/nothing")


def test_a_path_that_is_not_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        FewShotClassifier.from_pretrained(tmp_path / "missing" / "model")


def test_loading_applies_runtime_options_and_refuses_fixed_ones(fitted, tmp_path):
    fitted.save_pretrained(tmp_path)
    loaded = FewShotClassifier.from_pretrained(tmp_path, oos_threshold=0.5, oos_label="other")
    assert (loaded.oos_threshold, loaded.oos_label) == (0.5, "other")
    with pytest.raises(ValueError, match=r"\['metric'\] cannot change on a saved classifier"):
        FewShotClassifier.from_pretrained(tmp_path, metric="euclidean")
