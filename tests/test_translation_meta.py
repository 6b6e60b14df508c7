"""Meta-training over language pairs, on a tiny Marian base and the tiny Bible (conftest)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TOY_PAIRS

from fewshot_nlp import FewShotTranslator
from fewshot_nlp.cli import load_training_arguments, main
from fewshot_nlp.meta import TranslationMetaTrainer, TranslationMetaTrainingArguments
from fewshot_nlp.meta.checkpoint import CheckpointError


def _args(tmp_path, tiny_base, tiny_bible, **overrides):
    settings = {
        "output_dir": str(tmp_path / "meta"),
        "base_model": tiny_base,
        "data": str(tiny_bible),
        "split": str(tiny_bible / "split.yaml"),
        "lora": {"r": 4},
        "steps": 4,
        "meta_batch_size": 2,
        "support": 4,
        "query": 4,
        "inner_steps": 2,
        "inner_lr": 0.5,
        "outer_lr": 0.01,
        "eval_every": 2,
        "eval_episodes": 2,
        "checkpoint_every": 1,
        "max_length": 32,
    }
    return TranslationMetaTrainingArguments(**{**settings, **overrides})


@pytest.mark.parametrize("algorithm", [pytest.param("fomaml", marks=pytest.mark.slow), "joint"])
def test_meta_training_over_language_pairs_writes_a_translator(algorithm, tmp_path, tiny_base, tiny_bible):
    trainer = TranslationMetaTrainer(_args(tmp_path, tiny_base, tiny_bible, algorithm=algorithm))
    assert trainer.task_set.languages == ["Toya", "Toyb"]  # Toyc is an evaluation language: never trained on
    assert all(verse_id.startswith("b.MAT") for ids in trainer.task_set.ids.values() for verse_id in ids)
    before = {n: p.detach().clone() for n, p in trainer.meta_parameters.items()}
    output = trainer.train()
    history = json.loads((output / "training_history.json").read_text())
    assert [r["step"] for r in history if "val_score" in r] == [0, 2, 4]
    loaded = FewShotTranslator.from_pretrained(output)
    assert loaded.meta_training["algorithm"] == algorithm and loaded.meta_training["steps_run"] == 4
    moved = [n for n, p in loaded.lora_parameters().items() if not torch.equal(p, before[n])]
    assert moved  # the adapter learned something
    loaded.adapt(TOY_PAIRS[:4], steps=2, progress=False)  # and adapts to a new pair from there


@pytest.mark.slow  # whole training runs
def test_resumed_run_ends_with_the_same_weights(tmp_path, tiny_base, tiny_bible):
    straight = TranslationMetaTrainer(_args(tmp_path / "a", tiny_base, tiny_bible))
    straight.train()
    interrupted = TranslationMetaTrainer(_args(tmp_path / "b", tiny_base, tiny_bible, steps=2))
    interrupted.train()
    resumed = TranslationMetaTrainer(_args(tmp_path / "b", tiny_base, tiny_bible))
    resumed.train(resume=True)
    for name, parameter in straight.meta_parameters.items():
        torch.testing.assert_close(resumed.meta_parameters[name], parameter)
    edited = tmp_path / "edited.yaml"  # same path setting, other content: the old run is refused
    edited.write_text((tiny_bible / "split.yaml").read_text().replace("[JHN.21]", "[JHN.21, MAT.9]"))
    trainer = TranslationMetaTrainer(_args(tmp_path / "b", tiny_base, tiny_bible, split=str(edited)))
    with pytest.raises(CheckpointError, match="split"):
        trainer.train(resume=True)


def test_evaluation_languages_are_refused_and_configs_checked(tmp_path, tiny_base, tiny_bible):
    with pytest.raises(ValueError, match="evaluation languages"):
        TranslationMetaTrainer(_args(tmp_path, tiny_base, tiny_bible, languages=["Toya", "Toyc"]))
    with pytest.raises(ValueError, match="algorithm='protonet'"):
        _args(tmp_path, tiny_base, tiny_bible, algorithm="protonet")
    with pytest.raises(ValueError, match="support=0"):
        _args(tmp_path, tiny_base, tiny_bible, support=0)


def test_cli_meta_trains_translation(tmp_path, tiny_base, tiny_bible, capsys):
    config = tmp_path / "translation.yaml"
    config.write_text(
        f"problem: translation\noutput_dir: {tmp_path / 'cli'}\nbase_model: {tiny_base}\ndata: {tiny_bible}\n"
        f"split: {tiny_bible / 'split.yaml'}\nsupport: 4\nquery: 4\nmeta_batch_size: 2\neval_every: 2\neval_episodes: 2\nmax_length: 32\n"
    )
    assert isinstance(load_training_arguments(str(config), []), TranslationMetaTrainingArguments)
    assert main(["meta-train", "--config", str(config), "steps=2", "lora={r: 4}"]) == 0
    assert "meta-trained model written to" in capsys.readouterr().out
    assert FewShotTranslator.from_pretrained(tmp_path / "cli").meta_training["steps_run"] == 2


def test_split_without_dev_chapters_trains_without_meta_val(tmp_path, tiny_base, tiny_bible):
    split = tmp_path / "no_dev.yaml"
    split.write_text("held_out_books: [ACT]\nmeta_books: [MAT]\nevaluation_languages: [Toyc]\n")
    trainer = TranslationMetaTrainer(_args(tmp_path, tiny_base, tiny_bible, split=str(split), steps=2))
    assert trainer.val_episodes == []
    output = trainer.train()
    assert FewShotTranslator.from_pretrained(output).meta_training["best_step"] is None  # the last weights
    empty = tmp_path / "empty_dev.yaml"
    empty.write_text("held_out_books: [ACT]\nmeta_books: [MAT]\ndev_chapters: [MAT.9]\nevaluation_languages: [Toyc]\n")
    with pytest.raises(ValueError, match="no verse .* falls in the 'dev' part"):
        TranslationMetaTrainer(_args(tmp_path / "x", tiny_base, tiny_bible, split=str(empty)))


@pytest.mark.parametrize(
    "split, error",
    [
        (
            "held_out_books: [ACT]\nmeta_books: [MAT]\ndev_chapters: [REV.22]\n",
            r"books \['REV'\] of this split are not",
        ),
        ("held_out_books: [ACT]\n", "no verse .* falls in the 'meta' part .* list some books in meta_books"),
    ],
    ids=["unknown book", "no meta books"],
)
def test_split_mistakes_are_refused(tmp_path, tiny_base, tiny_bible, split, error):
    path = tmp_path / "split.yaml"
    path.write_text(split)
    with pytest.raises(ValueError, match=error):
        TranslationMetaTrainer(_args(tmp_path, tiny_base, tiny_bible, split=str(path), languages=["Toya"]))


@pytest.mark.slow  # whole training runs
def test_translation_pipeline_runs_every_stage_and_resumes(tmp_path, tiny_base, tiny_bible):
    """bench/translation_pipeline.sh on the tiny Bible with 2 shards: base, both adapters,
    benchmark shards (bench/translation.py --shard) and summary; a second run finds every stage
    done and only summarises again."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "WORK": str(tmp_path / "runs"),
        "SPLIT": str(tiny_bible / "split.yaml"),
        "SHARDS": "2",
        "META_STEPS": "2",
        "BASE_FLAGS": f"--tokenizer {tiny_base} --d-model 16 --layers 1 --heads 2 --ffn-dim 32 --max-length 32 "
        "--batch-size 4 --warmup-steps 2 --max-steps 3 --eval-verses 3",
        "META_FLAGS": "support=4 query=4 meta_batch_size=2 eval_every=2 eval_episodes=2 max_length=32",
        "BENCH_FLAGS": f"--sizes 4 --seeds 2 --eval-verses 3 --min-steps 2 --docs {tmp_path / 'docs'}",
    }
    script = [str(root / "bench" / "translation_pipeline.sh"), str(tiny_bible)]
    first = subprocess.run(["bash", *script], cwd=root, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    runs = tmp_path / "runs"
    assert json.loads((runs / "base-marian" / "build_report.json").read_text())["steps"] == 3
    fomaml, joint = (FewShotTranslator.from_pretrained(runs / f"translation-{a}") for a in ("fomaml", "joint"))
    assert (fomaml.meta_training["steps_run"], joint.meta_training["steps_run"]) == (2, 4)  # joint: same compute
    results = json.loads((tmp_path / "docs" / "results" / "translation.json").read_text())
    assert {(r["method"], r["pairs"], r["seeds"]) for r in results["summary"]} == {
        ("base", 0, 1),
        ("fresh", 4, 2),
        ("meta", 4, 2),
        ("joint", 4, 2),
    }
    # paired differences: one row per comparison, each the mean over the (language, seed) pairs
    chrf = {(r["method"], r["seed"]): r["chrf"] for r in results["runs"]}
    differences = {d["comparison"]: d for d in results["paired_differences"]}
    assert set(differences) == {"meta - joint", "meta - fresh", "joint - fresh"}
    expected = (chrf["meta", 0] - chrf["joint", 0] + chrf["meta", 1] - chrf["joint", 1]) / 2
    assert differences["meta - joint"]["chrf_difference"] == pytest.approx(expected, abs=0.006)
    assert differences["meta - joint"]["n"] == 2
    again = subprocess.run(["bash", *script], cwd=root, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "marian base" not in again.stderr and "meta-train" not in again.stderr
    # a benchmark stopped part way: --report summarises the finished runs and says it is partial
    (runs / "translation-bench" / "Toyc_meta_4_1.json").unlink()
    bench = [str(root / "bench" / "translation.py"), "--data", str(tiny_bible), "--split", env["SPLIT"]]
    bench += ["--base", str(runs / "base-marian"), "--meta", str(runs / "translation-fomaml")]
    bench += ["--joint", str(runs / "translation-joint"), "--work", str(runs / "translation-bench")]
    report = subprocess.run([sys.executable, *bench, *env["BENCH_FLAGS"].split(), "--report"], capture_output=True)
    assert report.returncode == 0, report.stderr[-3000:]
    partial = json.loads((tmp_path / "docs" / "results" / "translation.json").read_text())
    assert (partial["runs_done"], partial["runs_planned"]) == (6, 7)
    assert {(r["method"], r["seeds"]) for r in partial["summary"]} == {
        ("base", 1),
        ("fresh", 2),
        ("meta", 1),
        ("joint", 2),
    }
    (log,) = (tmp_path / "docs" / "experiments").glob("*-translation.md")
    assert "Runs: 6 of 7 planned (PARTIAL" in log.read_text()
    assert {d["comparison"]: d["n"] for d in partial["paired_differences"]} == {
        "meta - joint": 1,
        "meta - fresh": 1,
        "joint - fresh": 2,
    }
    assert not (runs / "translation-bench" / "Toyc_meta_4_1.json").exists()  # --report runs nothing
    bad = subprocess.run(
        [sys.executable, str(root / "bench" / "translation.py"), "--shard", "2/2"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--shard '2/2' must be I/N with 0 <= I < N" in bad.stderr
