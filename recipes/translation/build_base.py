"""Build an offline multilingual X -> English translation base from the Bible corpus.

    python recipes/translation/build_base.py --variant marian --output runs/base-marian --data ../shared/data
    python recipes/translation/build_base.py --variant minilm --output runs/base-minilm --data ../shared/data
    python recipes/translation/build_base.py ... --resume          # continue an interrupted run

No pretrained translator installs on these machines, so the base is trained here, on the
training languages of ``configs/bible_split.yaml`` (all Bible languages but the evaluation
ones), on the split's base books only: not the held-out books (Acts, Hebrews), not the meta
books (kept for meta-training and adaptation) and not the dev chapters. Two variants:

- ``marian``: a small Marian transformer trained from scratch, with a unigram tokenizer
  trained on the same verses (the ``tokenizers`` library);
- ``minilm``: the embedded all-MiniLM-L6-v2 on both sides of an encoder-decoder (new
  cross-attention), fine-tuned whole; bound to MiniLM's English uncased vocabulary.

Checkpoints (weights, optimiser, RNG, step) are written atomically every ``--checkpoint-every``
steps; ``--max-minutes`` stops cleanly once the run has trained that long in total, resumptions
included (raise it and pass ``--resume`` to train on). The output folder loads with
``FewShotTranslator.from_pretrained`` and holds ``build_report.json``: dev chrF/BLEU on the
training languages and zero-shot chrF/BLEU on the held-out books of the evaluation languages
(languages the base never saw). The tokenizer is trained once and kept in ``OUTPUT/tokenizer``
(the unigram trainer is not deterministic, so a resumed run must reuse it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from fewshot_nlp.evaluation import translation_scores
from fewshot_nlp.meta.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_optimizer_tensors,
    optimizer_tensors,
    save_checkpoint,
)
from fewshot_nlp.tasks import BibleSplit
from fewshot_nlp.translation import seq2seq_batch
from fewshot_nlp.translation.base_models import marian_from_scratch, minilm_encoder_decoder, train_tokenizer

HERE = Path(__file__).resolve().parent


@dataclass
class BaseTrainingArguments:
    output: str
    variant: str = "marian"
    data: str | None = None
    split: str = str(HERE / "configs" / "bible_split.yaml")
    encoder: str | None = None  # minilm variant: MiniLM folder (default: the embedded copy)
    tokenizer: str | None = None  # marian variant: a tokenizer folder to reuse instead of training one
    vocab_size: int = 16000
    d_model: int = 256
    layers: int = 3
    heads: int = 4
    ffn_dim: int = 1024
    max_length: int = 128
    batch_size: int = 64
    lr: float | None = None  # default: 5e-4 (marian, from scratch), 1e-4 (minilm, warm start)
    warmup_steps: int = 1000
    label_smoothing: float = 0.1
    max_steps: int = 20000
    max_minutes: float | None = None
    checkpoint_every: int = 500
    eval_every: int = 1000
    eval_verses: int = 200
    seed: int = 0

    def __post_init__(self):
        if self.variant not in ("marian", "minilm"):
            raise ValueError(f"variant={self.variant!r} must be 'marian' or 'minilm'.")
        if self.lr is None:
            self.lr = 5e-4 if self.variant == "marian" else 1e-4

    def fingerprint(self) -> dict:
        skip = {"output", "data", "max_steps", "max_minutes", "checkpoint_every", "eval_every", "eval_verses"}
        fingerprint = {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}
        fingerprint["split"] = dataclasses.asdict(BibleSplit.from_yaml(self.split))  # its content, not its path
        return fingerprint


def build(args: BaseTrainingArguments, train_pairs: list[tuple[str, str]], tokenizer=None):
    """(model, tokenizer) of the chosen variant, freshly initialised (Marian: on ``tokenizer`` if given)."""
    torch.manual_seed(args.seed)
    if args.variant == "minilm":
        return minilm_encoder_decoder(args.encoder)
    if tokenizer is None:
        tokenizer = train_tokenizer((text for pair in train_pairs for text in pair), vocab_size=args.vocab_size)
    model = marian_from_scratch(
        tokenizer, args.d_model, args.layers, args.heads, args.ffn_dim, max_positions=max(256, args.max_length)
    )
    return model, tokenizer


def sample(pairs: list, n: int, seed: int) -> list:
    if len(pairs) <= n:
        return list(pairs)
    return [pairs[i] for i in sorted(np.random.default_rng(seed).choice(len(pairs), n, replace=False))]


class BaseTrainer:
    def __init__(self, args: BaseTrainingArguments, device: str):
        self.args = args
        self.device = device
        self.output = Path(args.output)
        self.split = BibleSplit.from_yaml(args.split)
        languages = self.split.training_languages(args.data)
        train, dev = self.split.read_parts(args.data, ("base", "dev"), languages)
        self.pairs = [pair for lang in train.languages for pair in train.pairs[lang]]
        self.dev = sample([pair for lang in dev.languages for pair in dev.pairs[lang]], args.eval_verses, args.seed)
        self.test = {
            lang: sample(pairs, args.eval_verses, args.seed)
            for lang, pairs in self.split.read(args.data, "test", self.split.evaluation_languages).pairs.items()
        }
        self.languages = languages
        print(f"{len(languages)} training languages, {len(self.pairs)} verse pairs; dev {len(self.dev)} verses")
        tokenizer_dir = self.output / "tokenizer"
        if not (tokenizer_dir / "tokenizer_config.json").is_file() and args.tokenizer:
            tokenizer_dir = Path(args.tokenizer)
        if args.variant == "marian" and (tokenizer_dir / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer  # resuming, or given: the tokenizer must not change

            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
            self.tokenizer.save_pretrained(self.output / "tokenizer")
            self.model = build(args, self.pairs, self.tokenizer)[0]
        else:
            self.model, self.tokenizer = build(args, self.pairs)
            self.tokenizer.save_pretrained(self.output / "tokenizer")
        self.model.to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
        self.step = 0
        self.history: list[dict] = []
        self.seconds = 0.0

    # ---------------------------------------------------------------- batches
    def batch(self, pairs) -> dict:
        start = self.model.config.decoder_start_token_id
        batch = seq2seq_batch(self.tokenizer, pairs, self.args.max_length, self.args.max_length, start)
        return {k: v.to(self.device) for k, v in batch.items()}

    def batch_at(self, step: int) -> list:
        """The step's pairs: epoch-wise permutations from (seed, epoch), so a resumed run sees the same stream."""
        size = self.args.batch_size
        start = step * size
        epoch, offset = divmod(start, len(self.pairs))
        order = np.random.default_rng([self.args.seed, epoch]).permutation(len(self.pairs))
        chosen = order[offset : offset + size]
        return [self.pairs[i] for i in chosen]

    def loss(self, batch: dict, smoothing: float) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.startswith("cuda")):
            logits = self.model(**{k: v for k, v in batch.items() if k != "labels"}, labels=batch["labels"]).logits
        return torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=-100, label_smoothing=smoothing
        )

    def lr_at(self, step: int) -> float:
        warmup = self.args.warmup_steps
        return self.args.lr * min((step + 1) / warmup, math.sqrt(warmup / (step + 1)))

    # ------------------------------------------------------------- checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        return self.output / "checkpoints"

    def save_checkpoint(self) -> None:
        names = [n for n, _ in self.model.named_parameters()]
        tensors = {f"param.{n}": p.detach() for n, p in self.model.named_parameters()}
        tensors.update(optimizer_tensors(self.optimizer, names))
        tensors["rng.torch"] = torch.get_rng_state()
        state = {
            "fingerprint": self.args.fingerprint(),
            "history": self.history,
            "seconds": self.seconds,
            "param_groups": self.optimizer.state_dict()["param_groups"],
        }
        save_checkpoint(self.checkpoint_dir, self.step, tensors, state)

    def resume(self) -> bool:
        path = latest_checkpoint(self.checkpoint_dir)
        if path is None:
            return False
        tensors, state = load_checkpoint(path, self.args.fingerprint())
        names = [n for n, _ in self.model.named_parameters()]
        with torch.no_grad():
            for name, parameter in self.model.named_parameters():
                parameter.copy_(tensors[f"param.{name}"])
        load_optimizer_tensors(self.optimizer, names, tensors, state["param_groups"])
        torch.set_rng_state(tensors["rng.torch"])
        self.step, self.history, self.seconds = state["step"], state["history"], state["seconds"]
        print(f"resumed from {path} (step {self.step})")
        return True

    # -------------------------------------------------------------- training
    @torch.no_grad()
    def dev_loss(self) -> float:
        self.model.eval()
        losses = [float(self.loss(self.batch(self.dev[i : i + 32]), 0.0)) for i in range(0, len(self.dev), 32)]
        self.model.train()
        return sum(losses) / len(losses)

    def train(self) -> None:
        args = self.args
        self.model.train()
        started = time.perf_counter() - self.seconds
        deadline = None if args.max_minutes is None else started + 60 * args.max_minutes  # in total, resumptions too
        bar = tqdm(total=args.max_steps, initial=self.step, desc=f"{args.variant} base")
        running = None
        while self.step < args.max_steps:
            if deadline is not None and time.perf_counter() > deadline:
                print(f"--max-minutes {args.max_minutes} reached at step {self.step}; resume with --resume")
                break
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.step)
            loss = self.loss(self.batch(self.batch_at(self.step)), args.label_smoothing)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}")
            if self.step % args.eval_every == 0:
                self.history.append(
                    {"step": self.step, "train_loss": round(running, 4), "dev_loss": round(self.dev_loss(), 4)}
                )
                print(self.history[-1], flush=True)
            if self.step % args.checkpoint_every == 0:
                self.seconds = time.perf_counter() - started
                self.save_checkpoint()
        bar.close()
        self.seconds = time.perf_counter() - started
        self.save_checkpoint()

    # ------------------------------------------------------------------ final
    def report(self) -> dict:
        from fewshot_nlp import FewShotTranslator

        self.model.eval()
        self.model.to(torch.float32)
        self.model.save_pretrained(self.output, max_shard_size="15MB")
        self.tokenizer.save_pretrained(self.output)
        translator = FewShotTranslator.from_pretrained(str(self.output), target_language="English", device=self.device)
        scores = {"dev (training languages)": self._scores(translator, self.dev)}
        for lang, pairs in self.test.items():
            scores[f"{lang} held-out books, zero-shot"] = self._scores(translator, pairs)
        report = {
            "command": " ".join(["python", "recipes/translation/build_base.py", *sys.argv[1:]]),
            "arguments": dataclasses.asdict(self.args),
            "steps": self.step,
            "train_minutes": round(self.seconds / 60, 2),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "training_languages": self.languages,
            "training_pairs": len(self.pairs),
            "history": self.history,
            "scores": scores,
            "device": torch.cuda.get_device_name() if self.device.startswith("cuda") else f"{platform.machine()} CPU",
            "commit": _git_commit(),
            "note": "scores: greedy decoding; chrF/BLEU cased and lowercased (MiniLM's vocabulary is uncased)",
        }
        (self.output / "build_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(
            json.dumps({k: {m: v[m] for m in ("chrf", "bleu", "chrf_lowercase")} for k, v in scores.items()}, indent=1)
        )
        return report

    def _scores(self, translator, pairs) -> dict:
        hypotheses = translator.translate([s for s, _ in pairs], beams=1, batch_size=64, progress=False)
        references = [t for _, t in pairs]
        cased = translation_scores(hypotheses, references)
        lower = translation_scores([h.lower() for h in hypotheses], [r.lower() for r in references])
        sample = [{"hypothesis": h, "reference": r} for h, r in zip(hypotheses[:3], references)]
        return {**cased, "chrf_lowercase": lower["chrf"], "bleu_lowercase": lower["bleu"], "sample": sample}


def _git_commit() -> str | None:
    try:
        return (
            subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
            or None
        )
    except OSError:
        return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(BaseTrainingArguments):
        flag = "--" + f.name.replace("_", "-")
        kind = {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
        if f.default is dataclasses.MISSING:
            parser.add_argument(flag, required=True, type=kind)
        else:
            parser.add_argument(flag, default=f.default, type=kind)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    options = vars(parser.parse_args(argv))
    resume, device = options.pop("resume"), options.pop("device")
    args = BaseTrainingArguments(**options)
    output = Path(args.output)
    if output.exists() and any(output.iterdir()) and not resume:
        raise SystemExit(f"{output} is not empty: pass --resume to continue that run, or choose another --output.")
    output.mkdir(parents=True, exist_ok=True)
    trainer = BaseTrainer(args, device)
    if resume:
        trainer.resume()
    trainer.train()
    trainer.report()


if __name__ == "__main__":
    main()
