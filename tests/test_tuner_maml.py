"""First-order MAML whose inner loop is the fit-time tuner: it trains, and resumes to the same weights."""

import copy

import pytest
import torch

from fewshot_nlp.meta.tuner_maml import TunerMetaTrainingArguments, meta_train_for_tuning
from fewshot_nlp.tasks import ClassificationTaskSet

WORDS = ["card", "cancel", "balance", "password"]


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
