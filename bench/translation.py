"""Translation benchmark: how many sentence pairs each starting point needs for a new language.

    python bench/translation.py --data ../shared/data --base runs/base-marian \\
        --meta runs/translation-fomaml --joint runs/translation-joint

For each evaluation language of ``recipes/translation/configs/bible_split.yaml`` (never seen in
base or meta-training), adapt with 100, 500 and 2,000 verse pairs from the split's meta books
(3 seeds each: different pairs, different order), then score chrF and BLEU (sacrebleu) on the
same ``--eval-verses`` verses of the held-out books (Acts, Hebrews). Starting points:

- ``meta``: the meta-learned LoRA initialisation (``--meta``, fomaml over language pairs);
- ``joint``: a multilingual LoRA trained on the same languages and pairs without the inner
  loop, for about the same compute (``--joint``);
- ``fresh``: the base with a new LoRA adapter (peft's initialisation);
- ``base``: the base alone, no adaptation (one row per language).

Every run uses the same adaptation settings (AdamW, ``--lr``, batch 16, max(``--min-steps`` (100),
3 epochs)). Results are kept per run in ``runs/translation-bench/`` (an interrupted benchmark
resumes) and summarised in docs/results/translation.json, the ``translation`` section of
its docs/experiments/ log and docs/translation_pairs.png. Runs go seed by seed, smallest size first, so
a benchmark stopped part way holds whole comparisons; ``--report`` summarises those (marked partial).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from harness import ROOT, add_data_option, machine, today, write_section  # bench/harness.py
from tqdm.auto import tqdm

from fewshot_nlp import FewShotTranslator, mean_confidence_interval
from fewshot_nlp.evaluation import translation_scores
from fewshot_nlp.tasks import BibleSplit

SIZES = (100, 500, 2000)


def adaptation_steps(pairs: int, min_steps: int = 100, batch_size: int = 16) -> int:
    """Three epochs, at least ``min_steps``."""
    return max(min_steps, math.ceil(3 * pairs / batch_size))


def start_translator(method: str, args, language: str) -> FewShotTranslator:
    source = {"meta": args.meta, "joint": args.joint}.get(method)
    if source is None:
        return FewShotTranslator.from_pretrained(args.base, source_language=language, target_language="English")
    return FewShotTranslator.from_pretrained(source, base_model=args.base, source_language=language)


def run_one(method: str, language: str, size: int, seed: int, train, test, args) -> dict:
    torch.manual_seed(seed)  # a fresh LoRA's initialisation
    translator = start_translator(method, args, language)
    started = time.perf_counter()
    if method != "base":
        chosen = np.random.default_rng([seed, size]).choice(len(train), size, replace=False)
        steps = adaptation_steps(size, args.min_steps)
        translator.adapt([train[i] for i in chosen], steps=steps, lr=args.lr, seed=seed, progress=False)
    seconds = time.perf_counter() - started
    hypotheses = translator.translate([s for s, _ in test], beams=args.beams, batch_size=32, progress=False)
    scores = translation_scores(hypotheses, [t for _, t in test])
    return {
        "method": method,
        "language": language,
        "pairs": 0 if method == "base" else size,
        "seed": seed,
        **scores,
        "adapt_seconds": round(seconds, 1),
        "steps": 0 if method == "base" else adaptation_steps(size, args.min_steps),
    }


def rounded_ci(ci: float) -> float | None:
    """None where one run gives no interval (JSON has no NaN)."""
    return None if math.isnan(ci) else round(ci, 2)


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for key in sorted({(r["language"], r["method"], r["pairs"]) for r in runs}):
        group = [r for r in runs if (r["language"], r["method"], r["pairs"]) == key]
        chrf, chrf_ci = mean_confidence_interval([r["chrf"] for r in group])
        bleu, _ = mean_confidence_interval([r["bleu"] for r in group])
        rows.append(
            {
                "language": key[0],
                "method": key[1],
                "pairs": key[2],
                "chrf": round(chrf, 2),
                "chrf_ci95": rounded_ci(chrf_ci),
                "bleu": round(bleu, 2),
                "seeds": len(group),
                "adapt_seconds": round(sum(r["adapt_seconds"] for r in group) / len(group), 1),
            }
        )
    return rows


def paired_differences(runs: list[dict]) -> list[dict]:
    """chrF of one starting point minus another's, paired on language and seed.

    A pair shares its adaptation verses and its test verses, so language and sample
    difficulty cancel: the claim "meta-learned beats multilingual at N pairs" is read here.
    """
    chrf = {(r["method"], r["language"], r["pairs"], r["seed"]): r["chrf"] for r in runs}
    rows = []
    for first, second in (("meta", "joint"), ("meta", "fresh"), ("joint", "fresh")):
        for size in sorted({r["pairs"] for r in runs if r["method"] != "base"}):
            differences = [
                value - chrf[second, lang, n, seed]
                for (method, lang, n, seed), value in sorted(chrf.items())
                if method == first and n == size and (second, lang, n, seed) in chrf
            ]
            if differences:
                mean, ci = mean_confidence_interval(differences)
                rows.append(
                    {
                        "comparison": f"{first} - {second}",
                        "pairs": size,
                        "chrf_difference": round(mean, 2),
                        "ci95": rounded_ci(ci),
                        "n": len(differences),
                    }
                )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = sorted({r["language"] for r in rows})
    figure, axes = plt.subplots(1, len(languages), figsize=(5 * len(languages), 4), squeeze=False)
    for axis, language in zip(axes[0], languages):
        for method in ("meta", "joint", "fresh"):
            points = sorted(
                (r for r in rows if r["language"] == language and r["method"] == method), key=lambda r: r["pairs"]
            )
            if points:
                axis.errorbar(
                    [r["pairs"] for r in points],
                    [r["chrf"] for r in points],
                    yerr=[r["chrf_ci95"] or 0 for r in points],
                    marker="o",
                    capsize=3,
                    label=method,
                )
        for r in rows:
            if r["language"] == language and r["method"] == "base":
                axis.axhline(r["chrf"], color="grey", linestyle="--", label="base alone")
        axis.set_xscale("log")
        axis.set_title(f"{language} -> English (held-out books)")
        axis.set_xlabel("adaptation verse pairs")
        axis.set_ylabel("chrF")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(parser)
    parser.add_argument("--split", default=str(ROOT / "recipes" / "translation" / "configs" / "bible_split.yaml"))
    parser.add_argument("--base", default="runs/base-marian")
    parser.add_argument("--meta", help="meta-learned adapter folder (fewshot-nlp meta-train, algorithm fomaml)")
    parser.add_argument("--joint", help="multilingual non-meta adapter folder (algorithm joint)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-verses", type=int, default=200)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--min-steps", type=int, default=100, help="adaptation: 3 epochs, at least this many steps")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "translation-bench")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where experiments/, results/ and the plot go")
    parser.add_argument("--section", default="translation")
    parser.add_argument(
        "--shard",
        default="0/1",
        help="I/N: do every N-th run from the I-th (N parallel processes); N=1 also summarises",
    )
    parser.add_argument(
        "--report", action="store_true", help="run nothing: summarise the finished runs (a partial table says so)"
    )
    args = parser.parse_args()

    shard, _, shards = args.shard.partition("/")
    if not (shard.isdigit() and shards.isdigit() and int(shard) < int(shards)):
        parser.error(f"--shard {args.shard!r} must be I/N with 0 <= I < N, e.g. 0/4")
    shard, shards = int(shard), int(shards)
    split = BibleSplit.from_yaml(args.split)
    methods = ["base", "fresh"] + [m for m in ("meta", "joint") if getattr(args, m)]
    args.work.mkdir(parents=True, exist_ok=True)
    languages, sizes = split.evaluation_languages, sorted(int(s) for s in args.sizes.split(","))
    # seed-major, smallest size first: a benchmark stopped part way holds whole comparisons
    jobs = [(language, "base", 0, 0) for language in languages]
    jobs += [
        (language, method, size, seed)
        for seed in range(args.seeds)
        for size in sizes
        for language in languages
        for method in methods[1:]
    ]

    def path(job):
        return args.work / "{}_{}_{}_{}.json".format(*job)

    todo = [] if args.report else [j for k, j in enumerate(jobs) if k % shards == shard and not path(j).exists()]
    data = {}
    if todo:  # the corpus is read only when there is something to run
        meta, test = split.read_parts(args.data, ("meta", "test"), languages)  # English read once
        for language in languages:
            held_out = test.pairs[language]
            picked = np.random.default_rng(0).choice(len(held_out), min(args.eval_verses, len(held_out)), replace=False)
            data[language] = meta.pairs[language], [held_out[i] for i in sorted(picked)]
    for job in tqdm(todo, desc=f"adaptation runs (shard {args.shard})"):
        language, method, size, seed = job
        result = run_one(method, language, size, seed, *data[language], args)
        path(job).with_suffix(".tmp").write_text(json.dumps(result, indent=1))
        path(job).with_suffix(".tmp").replace(path(job))  # a killed run leaves no half-written result
        tqdm.write(str(result))
    if shards > 1:
        return  # one of several parallel processes: a final run without --shard writes the summary
    runs = [json.loads(path(job).read_text()) for job in jobs if path(job).exists()]

    rows, differences = summarise(runs), paired_differences(runs)
    meta = {
        "command": "python bench/translation.py --data ../shared/data --base "
        + args.base
        + (f" --meta {args.meta}" if args.meta else "")
        + (f" --joint {args.joint}" if args.joint else ""),
        "machine": machine(),
        "date": today(),
        "eval_verses": args.eval_verses,
        "beams": args.beams,
        "lr": args.lr,
        "runs_done": len(runs),
        "runs_planned": len(jobs),
    }
    (args.docs / "results").mkdir(parents=True, exist_ok=True)
    (args.docs / "results" / "translation.json").write_text(
        json.dumps({**meta, "summary": rows, "paired_differences": differences, "runs": runs}, indent=1)
    )
    plot(rows, args.docs / "translation_pairs.png")
    lines = [f"Command: `{meta['command']}`  ", f"Machine: {meta['machine']}  ", f"Date: {meta['date']}  "]
    partial = " (PARTIAL: the seeds column says which rows are incomplete)" if len(runs) < len(jobs) else ""
    lines += [f"Runs: {len(runs)} of {len(jobs)} planned{partial}", ""]
    lines += [
        "| language | start | pairs | chrF | 95% CI | BLEU | seeds | adapt s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ci = "" if r["chrf_ci95"] is None else f"± {r['chrf_ci95']:.2f}"
        lines.append(
            f"| {r['language']} | {r['method']} | {r['pairs']} | {r['chrf']:.2f} | {ci} | {r['bleu']:.2f} | "
            f"{r['seeds']} | {r['adapt_seconds']} |"
        )
    lines += [
        "",
        "chrF differences paired on language and seed (same adaptation and test verses), all languages pooled:",
        "",
        "| comparison | pairs | chrF difference | 95% CI | paired runs |",
        "|---|---|---|---|---|",
    ]
    for d in differences:
        ci = "" if d["ci95"] is None else f"± {d['ci95']:.2f}"
        significant = d["ci95"] is not None and abs(d["chrf_difference"]) > d["ci95"]
        value = f"{d['chrf_difference']:+.2f}"
        lines.append(
            f"| {d['comparison']} | {d['pairs']} | {f'**{value}**' if significant else value} | {ci} | {d['n']} |"
        )
    lines += ["", "![chrF against adaptation pairs](../translation_pairs.png)"]
    write_section(args.docs, args.section, "\n".join(lines))


if __name__ == "__main__":
    main()
