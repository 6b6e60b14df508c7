"""The probe that chose the self-training settings on the CLINC150 fold (docs/experiments/2026-12-01-transfer.md).

    python bench/self_training_choice.py HELD_OUT START TAG TEXTS PER_CLASS STEPS [ROUNDS]
    python bench/self_training_choice.py clinc150 full-hard st-c 4000 20 100 2     # arm (c)

START is ``frozen`` or a bench/transfer.py run folder prefix (``full-hard``: runs/transfer/full-hard-X).
The same steps as ``fewshot_nlp.self_training`` written out (it came first): label TEXTS unlabelled texts
zero-shot, keep per class the PER_CLASS with the largest margin, train every weight with the transfer
recipe's full-hard settings for STEPS steps, ROUNDS times; then score the five cells against the frozen
MiniLM. Kept as run, so that the table in the log can be rerun; new runs belong in bench/transfer.py.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder
from fewshot_nlp.cli import load_training_arguments
from fewshot_nlp.evaluation import mean_confidence_interval as mci
from fewshot_nlp.meta import MetaTrainer
from fewshot_nlp.tasks import load_task_set
from fewshot_nlp.tasks.classification import ClassificationTaskSet

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transfer as T  # noqa: E402  (bench/transfer.py)

held_out, start, tag = sys.argv[1], sys.argv[2], sys.argv[3]
pool_size, per_class, steps = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rounds = int(sys.argv[7]) if len(sys.argv) > 7 else 1
data = str(T.ROOT.parent / "shared" / "data")
runs = T.ROOT / "runs" / "transfer"
out = T.ROOT / "runs" / "selftrain" / f"{tag}-{held_out}"
test = load_task_set(f"{held_out}:test", data)
pool_split = "test" if held_out == "sgd" else "train"
pool_set = load_task_set(f"{held_out}:{pool_split}", data)
texts = sorted({t for c in pool_set.classes for t in pool_set.by_class[c]})
rng = np.random.default_rng(0)
texts = [texts[i] for i in rng.permutation(len(texts))[:pool_size]]
encoder = (
    SentenceEncoder(DEFAULT_ENCODER)
    if start == "frozen"
    else FewShotClassifier.from_pretrained(runs / f"{start}-{held_out}").encoder
)
if encoder.lora_settings is not None:
    from fewshot_nlp.lora import merge_lora

    merge_lora(encoder.transformer)
    encoder.lora_settings = None
classes = list(test.classes)
labels = {c: test.label_text(c) for c in classes}
for r in range(rounds):
    t0 = time.time()
    with torch.no_grad():
        E = encoder.encode(texts)
        L = encoder.encode([labels[c] for c in classes])
    S = E @ L.T
    top2 = S.topk(2, dim=1)
    margin = (top2.values[:, 0] - top2.values[:, 1]).numpy()
    pred = top2.indices[:, 0].numpy()
    keep_t, keep_y = [], []
    for j, c in enumerate(classes):
        rows = np.where(pred == j)[0]
        rows = rows[np.argsort(-margin[rows])][:per_class]
        keep_t += [texts[i] for i in rows]
        keep_y += [c] * len(rows)
    # pseudo-label precision, for the record only (never used in choices on test folds)
    true = {t: c for c in pool_set.classes for t in pool_set.by_class[c]}
    prec = float(np.mean([true[t] == y for t, y in zip(keep_t, keep_y)]))
    covered = len(set(keep_y))
    print(
        f"pool {len(texts)} pseudo {len(keep_t)} classes {covered}/{len(classes)} precision {prec:.3f} ({time.time() - t0:.0f}s)",
        flush=True,
    )
    pseudo = ClassificationTaskSet(keep_t, keep_y, descriptions=labels, name="pseudo", conflicts="keep")
    args = load_training_arguments(
        str(T.RECIPE),
        [
            f"output_dir={out}/round{r}",
            "tasks=[pseudo]",
            "task_weights=null",
            *T.HARD,
            f"steps={steps}",
            "val_tasks=[]",
            "class_fractions=[1.0, 0.0, 0.0]",
            f"eval_every={steps}",
            f"checkpoint_every={steps}",
            "early_stopping_patience=null",
        ],
    )
    if not (out / f"round{r}" / "training_history.json").is_file():
        MetaTrainer(args, encoder, {"pseudo": pseudo}).train()
    encoder = FewShotClassifier.from_pretrained(out / f"round{r}").encoder
model = FewShotClassifier.from_pretrained(out / f"round{rounds - 1}")
episodes = T.episodes_for(test)
frozen = json.loads((runs / f"frozen-{held_out}.json").read_text())
adapted = T.accuracies(model.encoder, test, episodes)
res = {"precision": prec, "pseudo": len(keep_t), "classes_covered": covered}
for name, *_ in T.SETTINGS:
    d, ci = mci([a - f for a, f in zip(adapted[name], frozen[name])])
    res[name] = (round(100 * d, 2), round(100 * ci, 2))
print(json.dumps(res), flush=True)
(out / "probe.json").write_text(json.dumps(res, indent=2))
