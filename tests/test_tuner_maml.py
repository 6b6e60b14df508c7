"""First-order MAML whose inner loop is the fit-time tuner: it trains, and resumes to the same weights."""

import copy
import sys

import pytest
import torch
from conftest import ROOT

from fewshot_nlp import TuningArguments
from fewshot_nlp.meta.tuner_maml import TunerMetaTrainingArguments, meta_train_for_tuning
from fewshot_nlp.tasks import ClassificationTaskSet

WORDS = ["card", "cancel", "balance", "password"]
QUICK = TuningArguments(steps=2, learning_rate=1e-3)


def _task_sets():
    texts = [f"{w} please {i}" for w in WORDS for i in range(6)]
    return {"toy": ClassificationTaskSet(texts, [w for w in WORDS for _ in range(6)], name="toy")}


def _args(steps: int) -> TunerMetaTrainingArguments:
    return TunerMetaTrainingArguments(
        steps=steps,
        way=3,
        shot=3,
        query=2,
        outer_lr=1e-3,
        checkpoint_every=2,
        tuning={"steps": 2, "learning_rate": 1e-3},
    )


def _weights(encoder):
    return {n: p.detach().clone() for n, p in encoder.named_parameters()}


def test_meta_training_for_the_tuner_moves_the_initialisation_and_resumes_exactly(tiny_encoder, tmp_path):
    whole, stopped = tiny_encoder, copy.deepcopy(tiny_encoder)
    start = _weights(whole)
    record = meta_train_for_tuning(whole, _task_sets(), _args(3), tmp_path / "whole")
    assert len(record["history"]) == 3 and all(h["task_set"] == "toy" for h in record["history"])
    assert any(not torch.equal(p, start[n]) for n, p in whole.named_parameters())
    meta_train_for_tuning(stopped, _task_sets(), _args(2), tmp_path / "stopped")  # a run stopped after step 2 ...
    again = copy.deepcopy(tiny_encoder)  # ... resumed in a new process, from the untrained weights
    with torch.no_grad():
        for name, parameter in again.named_parameters():
            parameter.copy_(start[name])
    resumed = meta_train_for_tuning(again, _task_sets(), _args(3), tmp_path / "stopped")
    assert [h["step"] for h in resumed["history"]] == [1, 2, 3]
    assert all(torch.allclose(p, dict(whole.named_parameters())[n], atol=1e-6) for n, p in again.named_parameters())


def test_bad_settings_and_too_small_task_sets_are_named(tiny_encoder, tmp_path):
    with pytest.raises(ValueError, match="steps=0"):
        TunerMetaTrainingArguments(tuning={"steps": 0})
    with pytest.raises(ValueError, match="no task set has 3 classes with >= 12 texts"):
        meta_train_for_tuning(tiny_encoder, _task_sets(), TunerMetaTrainingArguments(way=3, shot=10, query=2), tmp_path)


def test_the_recipe_writes_a_classifier_that_loads_and_tunes(tiny_model_dir, tmp_path):
    import json

    sys.path.insert(0, str(ROOT / "recipes"))  # recipes are scripts, not a package
    try:
        import meta_train_for_tuning as recipe
    finally:
        sys.path.remove(str(ROOT / "recipes"))

    from fewshot_nlp import FewShotClassifier

    words = [*WORDS, "refund"]
    rows = [f"{w} please {i},{w}" for w in words for i in range(12)]
    (tmp_path / "toy.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    argv = ["--data", str(tmp_path), "--output", str(out), "--tasks", str(tmp_path / "toy.csv"), "--steps", "1"]
    recipe.main([*argv, "--encoder", str(tiny_model_dir)])
    record = json.loads((out / "tuner_meta_training.json").read_text())
    assert len(record["history"]) == 1 and record["tuning"]["steps"] == TuningArguments.steps
    clf = FewShotClassifier.from_pretrained(out, labels=["card", "cancel"])
    assert clf.meta_training["algorithm"] == "fomaml-tuner" and "fomaml-tuner" in (out / "README.md").read_text()
    clf.fit(["card please 0", "card please 1", "cancel please 0", "cancel please 1"], [*"aabb"], tune=QUICK)
    assert clf.tuning["steps"] == QUICK.steps
