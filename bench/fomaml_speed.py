"""Speed and memory of our functional FOMAML against one that deep-copies the model per task.

    python bench/fomaml_speed.py --data ../shared/data

Both variants run the same CLINC150 episodes (5-way 5-shot, 5 queries, 3 inner SGD steps,
LoRA r=8 on the embedded MiniLM) and compute the same first-order meta-gradient. Each runs
in its own process, so peak memory (max RSS) is its own; the extra memory is peak RSS minus
the RSS after loading the model. Prints a markdown table and writes docs/results/fomaml_speed.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil
import torch

ROOT = Path(__file__).resolve().parents[1]


def run_variant(variant: str, data: str, episodes: int) -> dict:
    from fewshot_nlp import EpisodeSampler, LoraSettings, SentenceEncoder
    from fewshot_nlp.meta import ProtoMAMLTask, first_order_maml_gradients
    from fewshot_nlp.meta.protonet import HEAD_BIAS, HEAD_WEIGHT, LOG_TEMPERATURE
    from fewshot_nlp.tasks import load_task_set

    torch.manual_seed(0)
    encoder = SentenceEncoder(lora=LoraSettings(r=8))
    sampler = EpisodeSampler(load_task_set("clinc150", data, split="train"), way=5, shot=5, query=5, seed=0)
    batch = sampler.sample(episodes + 1)
    meta = {**{n: p.detach() for n, p in encoder.lora_parameters().items()}, LOG_TEMPERATURE: torch.tensor(-2.3)}
    steps, lr = 3, 0.05
    rss_after_setup = psutil.Process().memory_info().rss

    def functional(episode):
        task = ProtoMAMLTask(encoder, meta, episode)
        loss, grads, _ = first_order_maml_gradients(
            meta, task.support_loss, task.query_loss, steps, lr, task.head, frozen={LOG_TEMPERATURE}
        )
        return grads

    def deep_copy(episode):
        task = ProtoMAMLTask(encoder, meta, episode)  # same head init and tokenised inputs
        clone = copy.deepcopy(encoder)  # the model per task: what the functional version avoids
        head = {k: v.clone().requires_grad_(True) for k, v in task.head.items()}
        params = [*clone.lora_parameters().values(), *head.values()]
        optimiser = torch.optim.SGD(params, lr=lr)

        def loss_of(inputs, targets):
            embeddings = clone(inputs)
            logits = (embeddings @ head[HEAD_WEIGHT].T + head[HEAD_BIAS]) / meta[LOG_TEMPERATURE].exp()
            return torch.nn.functional.cross_entropy(logits, targets)

        for _ in range(steps):
            optimiser.zero_grad()
            loss_of(task.support_inputs, task.support_targets).backward()
            optimiser.step()
        optimiser.zero_grad()
        loss_of(task.query_inputs, task.query_targets).backward()
        return {n: p.grad.clone() for n, p in clone.lora_parameters().items()}

    step = functional if variant == "functional" else deep_copy
    step(batch[0])  # warm-up
    started = time.perf_counter()
    grads = [step(episode) for episode in batch[1:]]
    seconds = (time.perf_counter() - started) / episodes
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    norm = float(sum(g.norm() ** 2 for grad in grads for k, g in grad.items() if "lora" in k) ** 0.5)
    return {
        "variant": variant,
        "episodes": episodes,
        "seconds_per_episode": round(seconds, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "extra_memory_mb": round((peak - rss_after_setup) / 2**20, 1),
        "grad_norm": norm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--variant", choices=["functional", "deepcopy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.data, args.episodes)))
        return
    rows = []
    for variant in ("functional", "deepcopy"):
        command = [
            sys.executable,
            __file__,
            "--variant",
            variant,
            "--data",
            args.data,
            "--episodes",
            str(args.episodes),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    same = abs(rows[0]["grad_norm"] - rows[1]["grad_norm"]) <= 1e-3 * rows[1]["grad_norm"]
    lines = [
        "| variant | s / episode | peak RSS (MB) | extra memory over the loaded model (MB) |",
        "|---|---|---|---|",
        *(
            f"| {r['variant']} | {r['seconds_per_episode']} | {r['peak_rss_mb']} | {r['extra_memory_mb']} |"
            for r in rows
        ),
        "",
        f"Same meta-gradients (norm {rows[0]['grad_norm']:.6f} vs {rows[1]['grad_norm']:.6f}): {same}.",
    ]
    print("\n".join(lines))
    out = ROOT / "docs" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fomaml_speed.json").write_text(json.dumps({"rows": rows, "same_gradients": same}, indent=2))


if __name__ == "__main__":
    main()
