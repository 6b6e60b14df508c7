"""bench/families.py's leave-one-family-out folds never train on what they score, and bench/transfer.py's
``-tweets`` variants add exactly the candidate recipe's tweet tasks."""

import argparse
import json
import math
import sys

import pytest
from conftest import ROOT

from fewshot_nlp.tasks import parse_task_name


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import families
        import transfer
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return families, transfer


def test_each_fold_drops_its_family_and_keeps_the_rest(bench):
    families, _ = bench
    everything = families.lofo_arguments("topics", "data").tasks + ["ag_news:test"]
    assert set(families.FAMILY_CORPORA) == set(families.FAMILIES)
    for family, scored in families.FAMILIES.items():
        args = families.lofo_arguments(family, "data")
        trained = {parse_task_name(task)[0] for task in args.tasks}
        assert not trained & set(scored), family  # never the tasks it is scored on
        assert not trained & set(families.FAMILY_CORPORA[family])
        assert len(args.tasks) == len(args.task_weights)
        assert len(args.tasks) == len(everything) - len(families.FAMILY_CORPORA[family])
        assert not {parse_task_name(task)[0] for task in args.val_tasks} & set(families.FAMILY_CORPORA[family])
        assert args.output_dir.endswith(families._slug(family))
    assert families.lofo_arguments("intents", "data").val_tasks == ["goemotions:dev"]


def test_recipe_weighs_each_tweet_task_by_the_square_root_of_its_classes(bench):
    families, _ = bench
    recipe = families.load_training_arguments(str(families.FAMILIES_RECIPE), [])
    classes = {"sentiment": 3, "emotion": 4, "hate": 2, "offensive": 2, "irony": 2, "emoji": 20, "stance": 3}
    tweets = {t: w for t, w in zip(recipe.tasks, recipe.task_weights) if t.startswith("tweet_")}
    assert len(tweets) == 11
    for task, weight in tweets.items():
        family = parse_task_name(task)[0].split("_")[1]
        assert weight == round(math.sqrt(classes[family]), 1), task


def test_transfer_tweets_lever_adds_the_recipes_tweet_tasks(bench):
    _, transfer = bench
    plain = transfer.training_arguments("full-hard-cloze-all", "banking77", "data", ROOT / "runs")
    tweets = transfer.training_arguments("full-hard-cloze-all-tweets", "banking77", "data", ROOT / "runs")
    added = tweets.tasks[len(plain.tasks) :]
    assert tweets.tasks[: len(plain.tasks)] == plain.tasks and "banking77:train" not in tweets.tasks
    assert len(added) == 11 and all(t.startswith("tweet_") for t in added)
    assert tweets.val_tasks == plain.val_tasks
    assert "full-hard-cloze-all-tweets-lora-r32" in transfer.EXTRACTED


def test_a_partial_run_adds_to_the_published_results_and_drops_none(bench, tmp_path, monkeypatch):
    families, _ = bench
    monkeypatch.setattr(families, "RESULTS", tmp_path)
    published = {
        "command": "python bench/families.py",
        "machine": "m",
        "date": "2026-12-04",
        "families": {"irony": {"cells": {"default/logreg | 8": {"accuracy": 0.55}}, "against_minilm_fixed": {}}},
        "mixture": {"default": {"tweet_irony": {"adaptive_minus_better accuracy": -0.01}}},
    }
    (tmp_path / "families.json").write_text(json.dumps(published))
    cells = families.Cells(tmp_path / "families_cells.jsonl")
    for seed, (base, tuned, setfit) in enumerate([(0.5, 0.6, 0.55), (0.6, 0.7, 0.6), (0.55, 0.65, 0.5)]):
        for method, accuracy in (
            ("minilm/fixed", base),
            ("default/tuned-8x5e-05:fixed", tuned),
            ("minilm/setfit", setfit),
        ):
            row = {"family": "irony", "task": "tweet_irony", "method": method, "shot": 8, "seed": seed}
            cells.add({**row, "accuracy": accuracy, "macro_f1": accuracy, "seconds": 1.0})
    families.write(cells, argparse.Namespace(validate=False))
    out = json.loads((tmp_path / "families.json").read_text())
    irony = out["families"]["irony"]
    assert irony["cells"]["default/logreg | 8"] == {"accuracy": 0.55}  # kept from the published run
    assert irony["cells"]["minilm/setfit | 8"]["n"] == 3
    assert irony["against_setfit"]["default/tuned-8x5e-05:fixed | 8"]["difference"] == pytest.approx(0.1)
    assert irony["against_minilm_fixed"]["default/tuned-8x5e-05:fixed | 8"]["difference"] == pytest.approx(0.1)
    assert out["mixture"]["default"] == published["mixture"]["default"]
    assert [r["date"] for r in out["runs"]][0] == "2026-12-04" and len(out["runs"]) == 2
    with pytest.raises(SystemExit, match="no cells"):
        families.write(families.Cells(tmp_path / "none.jsonl"), argparse.Namespace(validate=False))
