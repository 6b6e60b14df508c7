"""Every recipe config loads, names its own command, and a recipe runs end to end on a tiny model."""

import json
import sys
from pathlib import Path

import pytest
from conftest import ROOT, made_up_texts

from fewshot_nlp import FewShotClassifier, FewShotTranslator
from fewshot_nlp.cli import load_training_arguments, main

CONFIGS = sorted((ROOT / "recipes" / "configs").glob("*.yaml"))
sys.path[:0] = [str(ROOT / "recipes" / "translation"), str(ROOT / "recipes")]  # recipes are scripts, not a package


def test_there_are_recipes():
    assert {"intents_protonet.yaml", "intents_fomaml.yaml"} <= {c.name for c in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_its_header_shows_its_command(config):
    args = load_training_arguments(str(config), [])
    assert args.output_dir
    first_line = config.read_text().splitlines()[0]
    assert first_line.startswith(f"# fewshot-nlp meta-train --config recipes/configs/{config.name}")


def test_bad_overrides_and_configs(tmp_path):
    config = str(CONFIGS[0])
    with pytest.raises(ValueError, match="unknown settings \\['stepz'\\]"):
        load_training_arguments(config, ["stepz=3"])
    with pytest.raises(ValueError, match="key=value"):
        load_training_arguments(config, ["steps"])
    with pytest.raises(ValueError, match="steps=0"):
        load_training_arguments(config, ["steps=0"])
    (tmp_path / "no_output.yaml").write_text("steps: 3\n")
    with pytest.raises(ValueError, match="output_dir is not set"):
        load_training_arguments(str(tmp_path / "no_output.yaml"), [])
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_training_arguments(str(tmp_path / "nope.yaml"), [])


@pytest.mark.parametrize(
    "config",
    [
        "transfer_protonet.yaml",  # the fast tier runs one recipe end to end; the others are slow
        pytest.param("intents_protonet.yaml", marks=pytest.mark.slow),
        pytest.param("intents_fomaml.yaml", marks=pytest.mark.slow),  # FOMAML's inner loop: seconds per step
        pytest.param("default_adapter.yaml", marks=pytest.mark.slow),
    ],
)
def test_recipe_runs_end_to_end_on_a_tiny_model(config, tiny_model_dir, tmp_path, capsys):
    words = ["card", "cancel", "balance", "password", "hello", "goodbye", "flight", "weather", "money", "order"]
    rows = [f"{w} {f} {i},{w}" for w in words for i, f in enumerate(["please", "now", "my", "the", "is", "how"])]
    if config.startswith("default"):  # its cloze episodes need words found in 8+ texts: texts of made-up words
        rows += [f"{text},{words[i % len(words)]}" for i, text in enumerate(made_up_texts())]
    (tmp_path / "toy.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "model"
    overrides = [
        f"output_dir={out}",
        f"encoder={tiny_model_dir}",
        f"tasks=[{tmp_path / 'toy.csv'}]",
        "steps=3",
        "way=3",
        "shot=2",
        "query=2",
        "eval_every=2",
        "eval_episodes=2",
        "eval_way=2",
        "eval_query=2",
        "checkpoint_every=1",
        "lora={r: 4}",
    ]
    if config.startswith(("transfer", "default")):  # several corpora with weights: one toy corpus here
        overrides += ["task_weights=null", "shot=[1, 2]", "lora={r: 4, target_modules: all-linear}"]
    if config.startswith("default"):  # a full fine-tune, validated on a corpus of its own
        overrides += ["lora={}", f"val_tasks=[{tmp_path / 'toy.csv'}]"]
    assert main(["meta-train", "--config", str(ROOT / "recipes" / "configs" / config), *overrides]) == 0
    assert FewShotClassifier.from_pretrained(out).meta_training["steps_run"] == 3
    assert main(["meta-train", "--config", str(ROOT / "recipes" / "configs" / config), *overrides, "--resume"]) == 0
    args = ["evaluate", "--model", str(out), "--tasks", str(tmp_path / "toy.csv"), "--way", "2", "--shot", "1"]
    if config.startswith(("transfer", "default")):  # no test classes: their test is a corpus never trained on
        assert main([*args, "--query", "2", "--episodes", "3"]) == 2
        assert "has no 'test' classes" in capsys.readouterr().err
        args += ["--classes", "all" if config.startswith("default") else "val"]
    adapt = "" if config.startswith("default") else ", 1 adaptation steps"  # a full fine-tune has no adapter
    assert main([*args, "--query", "2", "--episodes", "3", "--adapt-steps", "1" if adapt else "0"]) == 0
    printed = capsys.readouterr().out
    assert f"classes) 2-way 1-shot, prototype{adapt}: accuracy" in printed
    assert Path(out, "class_split_toy.json").is_file()
    if config.startswith("default"):
        ships_as_the_default_adapter(out, tiny_model_dir, tmp_path)


def ships_as_the_default_adapter(run, tiny_model_dir, tmp_path):
    """The full fine-tune goes into the package as a small float16 LoRA that the default merges."""
    import ship_default_adapter as ship
    import torch
    from safetensors.torch import load_file, save_file

    import fewshot_nlp.encoders as encoders
    from fewshot_nlp import SentenceEncoder

    # three toy steps may keep step 0's weights (nothing beat them on meta-val): move them, as training would
    weights = Path(run, "encoder", "model.safetensors")
    torch.manual_seed(0)
    moved = {k: v + 0.05 * torch.randn_like(v) if v.dim() == 2 else v for k, v in load_file(weights).items()}
    save_file(moved, weights, metadata={"format": "pt"})
    folder = tmp_path / "default_adapter"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ship, "DEFAULT_ENCODER", str(tiny_model_dir))  # the tiny BERT stands in for MiniLM
        patch.setattr(ship, "DEFAULT_ADAPTER_DIR", folder)
        patch.setattr(encoders, "DEFAULT_ADAPTER_DIR", folder)
        patch.setattr(encoders, "embedded_default_path", lambda: tiny_model_dir)
        ship.main([str(run), "--data", str(tmp_path), "--rank", "4"])
        record = json.loads((folder / "training_record.json").read_text())
        assert record["adapter"].startswith("the truncated SVD") and record["corpus_sha256"]
        assert "rank-4 LoRA adapter" in (folder / "README.md").read_text()
        texts = ["card please", "weather now"]
        default = SentenceEncoder().encode(texts)
        expected = SentenceEncoder(str(tiny_model_dir))
        expected.add_lora_from(
            FewShotClassifier.from_pretrained(run).encoder, {"r": 4, "lora_alpha": 8, "target_modules": "all-linear"}
        )
        assert torch.allclose(default, expected.encode(texts), atol=1e-3)  # float16 storage, merged
        assert not torch.allclose(default, SentenceEncoder(str(tiny_model_dir)).encode(texts), atol=1e-3)


TRANSLATION_CONFIGS = sorted((ROOT / "recipes" / "translation" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", TRANSLATION_CONFIGS, ids=lambda p: p.name)
def test_translation_configs_load(config):
    from new_language_pair import NewPairConfig

    from fewshot_nlp.cli import load_config
    from fewshot_nlp.tasks import BibleSplit

    if config.name == "bible_split.yaml":
        split = BibleSplit.from_yaml(config)
        assert {"ACT", "HEB"} <= set(split.held_out_books) and len(split.evaluation_languages) >= 3
        assert split.meta_books and split.dev_chapters
        return
    loaded = load_config(NewPairConfig, str(config), [])
    assert loaded.output and loaded.data
    first_line = config.read_text().splitlines()[0]
    assert (
        first_line
        == f"# python recipes/translation/new_language_pair.py --config recipes/translation/configs/{config.name}"
    )


def test_bible_split_fits_the_real_corpus(shared_data):
    """Every book code exists (a typo would silently empty a part) and each evaluation language
    has the 2,000 adaptation verses the translation benchmark draws from its meta books."""
    from fewshot_nlp.tasks import BibleSplit

    split = BibleSplit.from_yaml(ROOT / "recipes" / "translation" / "configs" / "bible_split.yaml")
    meta, dev, test = split.read_parts(shared_data, ("meta", "dev", "test"), split.evaluation_languages)
    for language in split.evaluation_languages:
        assert len(meta.pairs[language]) >= 2000 and len(test.pairs[language]) >= 1000
        assert set(split.dev_chapters) <= {i.split(".", 1)[1].rsplit(".", 1)[0] for i in dev.ids[language]}


@pytest.mark.slow  # whole training runs
def test_new_language_pair_recipe_end_to_end(tiny_base, tmp_path):
    from conftest import TOY_PAIRS
    from new_language_pair import main as new_pair

    pairs = TOY_PAIRS * 2 + [(f"zahl {i}", f"number {i}") for i in range(8)]
    (tmp_path / "src.txt").write_text("\n".join(s for s, _ in pairs) + "\n")
    (tmp_path / "tgt.txt").write_text("\n".join(t for _, t in pairs) + "\n")
    out = tmp_path / "pair"
    config = tmp_path / "pair.yaml"
    config.write_text(
        f"output: {out}\nbase_model: {tiny_base}\nsource_language: toy\n"
        f"data: {{aligned: {{source: {tmp_path / 'src.txt'}, target: {tmp_path / 'tgt.txt'}}}}}\n"
    )
    new_pair(["--config", str(config), "train_pairs=10", "eval_pairs=4", "steps=3", "beams=1", "batch_size=4"])
    report = json.loads((out / "report.json").read_text())
    assert report["train_pairs"] == 10 and report["eval_pairs"] == 4
    assert set(report["before"]) == {"chrf", "bleu", "sentences"} and report["after"]["sentences"] == 4
    assert (out / "adapter_model.safetensors").is_file() and (out / "samples.tsv").read_text().count("\n") == 5
    evaluated = {line.split("\t")[0] for line in (out / "samples.tsv").read_text().splitlines()[1:]}
    assert len(evaluated) == 4
    reloaded = FewShotTranslator.from_pretrained(out)
    assert reloaded.adaptation["pairs"] == 10 and reloaded.source_language == "toy"
    with pytest.raises(ValueError, match="fewer than train_pairs=100"):
        new_pair(["--config", str(config), "train_pairs=100"])
    with pytest.raises(ValueError, match="exactly one of"):
        new_pair(["--config", str(config), "data={csv: x.csv}"])


@pytest.mark.slow  # whole training runs
def test_build_base_trains_on_base_books_resumes_identically_and_loads(tmp_path, tiny_bible, tiny_base):
    """build_base.py on the tiny Bible: 4 steps straight equal 2 steps, a refused restart, then
    --resume to 4; the output loads as a translator and reports dev and zero-shot scores. Both runs
    take the same tokenizer: the tokenizers library's unigram trainer is not deterministic."""
    import torch
    from build_base import main as build_base
    from conftest import TOY_PAIRS
    from safetensors.torch import load_file

    from fewshot_nlp import FewShotTranslator

    flags = ["--data", str(tiny_bible), "--split", str(tiny_bible / "split.yaml"), "--vocab-size", "80"]
    flags += ["--d-model", "16", "--layers", "1", "--heads", "2", "--ffn-dim", "32", "--max-length", "32"]
    flags += ["--batch-size", "4", "--warmup-steps", "2", "--checkpoint-every", "2", "--eval-every", "2"]
    flags += ["--eval-verses", "3", "--device", "cpu", "--tokenizer", tiny_base]
    build_base(["--output", str(tmp_path / "straight"), "--max-steps", "4", *flags])
    build_base(["--output", str(tmp_path / "resumed"), "--max-steps", "2", *flags])
    with pytest.raises(SystemExit, match="is not empty: pass --resume"):
        build_base(["--output", str(tmp_path / "resumed"), "--max-steps", "4", *flags])
    build_base(["--output", str(tmp_path / "resumed"), "--max-steps", "4", "--resume", *flags])
    straight, resumed = (load_file(tmp_path / run / "model.safetensors") for run in ("straight", "resumed"))
    assert straight.keys() == resumed.keys()
    for name, tensor in straight.items():
        torch.testing.assert_close(resumed[name], tensor)
    report = json.loads((tmp_path / "straight" / "build_report.json").read_text())
    assert report["steps"] == 4 and report["training_languages"] == ["Toya", "Toyb"]
    assert report["training_pairs"] == 2 * len(TOY_PAIRS)  # the base books (MRK) only: not MAT, JHN.21 or ACT
    assert set(report["scores"]) == {"dev (training languages)", "Toyc held-out books, zero-shot"}
    FewShotTranslator.from_pretrained(tmp_path / "straight").translate(["hello"], max_new_tokens=4)


def test_new_pair_bible_source_scores_on_held_out_books_only(tmp_path, tiny_bible):
    from conftest import TOY_PAIRS
    from new_language_pair import NewPairConfig, load_pairs

    spec = {"language": "Toyc", "root": str(tiny_bible), "split": str(tiny_bible / "split.yaml")}
    config = NewPairConfig(output=str(tmp_path), data={"bible": spec}, train_pairs=20, eval_pairs=5)
    train, held_out = load_pairs(config)
    assert len(train) == 20 and len(held_out) == 5
    all_train = (
        len(TOY_PAIRS) * 5
    )  # every book but ACT (held out): MAT holds the toy pairs 3 times, MRK and JHN.21 once
    config = NewPairConfig(output=str(tmp_path), data={"bible": spec}, train_pairs=all_train + 1)
    with pytest.raises(ValueError, match=f"only {all_train} pairs are left for adaptation"):
        load_pairs(config)
    other = tmp_path / "split.yaml"
    other.write_text("held_out_books: [REV]\n")
    config = NewPairConfig(output=str(tmp_path), data={"bible": {**spec, "split": str(other)}})
    with pytest.raises(ValueError, match=r"no verse of the held-out books \['REV'\] .* its books are \['ACT', 'JHN'"):
        load_pairs(config)
