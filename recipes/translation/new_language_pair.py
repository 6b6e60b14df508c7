"""Adapt a translation model to a new language pair from a small parallel corpus.

    python recipes/translation/new_language_pair.py --config recipes/translation/configs/swahili.yaml
    python recipes/translation/new_language_pair.py --config CONFIG.yaml train_pairs=100 steps=200

Reads the pairs (two aligned files, a TSV, a JSONL, a Hugging Face dataset, or a Bible XML
file), keeps ``eval_pairs`` of them aside (for the Bible: verses of the held-out books only),
scores the starting model on them (chrF and BLEU, sacrebleu), adapts the LoRA adapter on
``train_pairs`` others, scores again, and writes to ``output``: the adapter
(``save_pretrained``: safetensors + config + model card), ``report.json`` (scores before and
after, adaptation time) and ``samples.tsv`` (source, reference, before, after). With
``push_to_hub: user/repo`` the adapter is also pushed. See recipes/translation/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fewshot_nlp import FewShotTranslator, TranslationTaskSet
from fewshot_nlp.cli import load_config
from fewshot_nlp.tasks import BibleSplit
from fewshot_nlp.tasks.bible import TARGET_FILE, align_verses, read_bible_file, verse_book
from fewshot_nlp.tasks.readers import data_root

HERE = Path(__file__).resolve().parent
SOURCES = ("bible", "aligned", "tsv", "jsonl", "hf_dataset")


@dataclass
class NewPairConfig:
    """Settings of one adaptation; every field can be set in the YAML or as ``key=value``."""

    output: str
    data: dict = field(metadata={"help": f"exactly one of {SOURCES}; see recipes/translation/README.md"})
    base_model: str = field(default="runs/base-marian", metadata={"help": "seq2seq base: HF id or folder"})
    adapter: str | None = field(default=None, metadata={"help": "meta-learned adapter to start from (folder/Hub)"})
    source_language: str | None = None
    target_language: str | None = "English"
    train_pairs: int = 500
    eval_pairs: int = 200
    steps: int = 300
    lr: float = 1e-3
    batch_size: int = 16
    beams: int = 4
    samples: int = 10
    seed: int = 0
    push_to_hub: str | None = None

    def __post_init__(self):
        if not isinstance(self.data, dict) or len(self.data) != 1 or next(iter(self.data)) not in SOURCES:
            raise ValueError(
                f"data={self.data!r} must hold exactly one of {list(SOURCES)}, e.g. data: {{tsv: pairs.tsv}}."
            )
        for name in ("train_pairs", "eval_pairs", "steps", "batch_size", "beams"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be a positive integer.")


def _read(kind: str, spec, language: str) -> TranslationTaskSet:
    if kind == "aligned":
        return TranslationTaskSet.from_aligned_files(spec["source"], spec["target"], language)
    if kind == "tsv":
        return TranslationTaskSet.from_tsv(spec, language)
    if kind == "jsonl":
        return TranslationTaskSet.from_jsonl(spec, language)
    from datasets import load_dataset  # hf_dataset: {name, config?, split?, source, target}

    dataset = load_dataset(spec["name"], spec.get("config"), split=spec.get("split", "train"))
    return TranslationTaskSet.from_hf_dataset(dataset, spec["source"], spec["target"])


def _bible_pairs(spec: dict, root) -> tuple[list, list]:
    """(adaptation pairs, evaluation pairs) of a Bible file, split by the shared BibleSplit."""
    split = BibleSplit.from_yaml(spec.get("split", HERE / "configs" / "bible_split.yaml"))
    folder = data_root(root) / "bible"
    path = Path(spec["file"]) if "file" in spec else folder / f"{spec['language']}-NT.xml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no Bible file {path}; give data: {{bible: {{file: X.xml}}}} or a language in {folder}."
        )
    aligned = align_verses(read_bible_file(path), read_bible_file(folder / TARGET_FILE))
    train, test = [], []
    for verse_id, source, target in aligned:
        (test if split.part(verse_id) == "test" else train).append((source, target))
    if not test:  # only the held-out books matter here: a partial Bible is fine if it has them
        books = sorted({verse_book(verse_id) for verse_id, _, _ in aligned})
        raise ValueError(
            f"{path} has no verse of the held-out books {split.held_out_books} that scores come from; "
            f"its books are {books}: name some of them in held_out_books of a split file (data: {{bible: {{split: ...}}}})."
        )
    return train, test


def load_pairs(config: NewPairConfig) -> tuple[list, list]:
    """(adaptation pairs, evaluation pairs): disjoint, sampled with the config's seed."""
    rng = np.random.default_rng(config.seed)
    kind, spec = next(iter(config.data.items()))
    if kind == "bible":
        train, held_out = _bible_pairs(spec, spec.get("root"))
    else:
        task_set = _read(kind, spec, config.source_language or "source")
        pairs = next(iter(task_set.pairs.values()))
        order = rng.permutation(len(pairs))
        held_out = [pairs[i] for i in order[: config.eval_pairs]]
        kept = {s for s, _ in held_out}
        train = [pairs[i] for i in order[config.eval_pairs :] if pairs[i][0] not in kept]  # no leak by duplicates
    if len(train) < config.train_pairs:
        raise ValueError(
            f"only {len(train)} pairs are left for adaptation, fewer than train_pairs={config.train_pairs}."
        )
    if not held_out:
        raise ValueError("no pairs are left for evaluation; lower train_pairs or give more data.")
    pick = lambda pairs, n: [pairs[i] for i in sorted(rng.choice(len(pairs), min(n, len(pairs)), replace=False))]  # noqa: E731
    return pick(train, config.train_pairs), pick(held_out, config.eval_pairs)


def run(config: NewPairConfig) -> dict:
    train, held_out = load_pairs(config)
    print(f"{len(train)} pairs to adapt on, {len(held_out)} held-out pairs to score")
    translator = FewShotTranslator.from_pretrained(
        config.adapter or config.base_model,
        source_language=config.source_language,
        target_language=config.target_language,
        base_model=config.base_model if config.adapter else None,
    )
    sources, references = [s for s, _ in held_out], [t for _, t in held_out]
    before = translator.translate(sources, beams=config.beams)
    started = time.perf_counter()
    losses = translator.adapt(train, steps=config.steps, lr=config.lr, batch_size=config.batch_size, seed=config.seed)
    seconds = time.perf_counter() - started
    after = translator.translate(sources, beams=config.beams)

    from fewshot_nlp.evaluation import translation_scores

    output = Path(config.output)
    translator.save_pretrained(output)
    report = {
        "command": " ".join(["python", "recipes/translation/new_language_pair.py", *sys.argv[1:]]),
        "config": asdict(config),
        "train_pairs": len(train),
        "eval_pairs": len(held_out),
        "before": translation_scores(before, references),
        "after": translation_scores(after, references),
        "adaptation_seconds": round(seconds, 1),
        "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
    }
    (output / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    rows = ["source\treference\tbefore\tafter"] + [
        "\t".join(x.replace("\t", " ") for x in row)
        for row in zip(sources[: config.samples], references, before, after)
    ]
    (output / "samples.tsv").write_text("\n".join(rows) + "\n")
    if config.push_to_hub:
        translator.push_to_hub(config.push_to_hub)
    print(json.dumps({k: report[k] for k in ("before", "after", "adaptation_seconds")}, indent=1))
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML file of NewPairConfig fields")
    parser.add_argument("overrides", nargs="*", help="key=value settings that replace the config's")
    args = parser.parse_args(argv)
    run(load_config(NewPairConfig, args.config, args.overrides, required=("output", "data")))


if __name__ == "__main__":
    main()
