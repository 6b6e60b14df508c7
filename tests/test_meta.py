"""Meta-learning on a tiny BERT: FOMAML maths, training, checkpoints and resume, 2 processes."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from fewshot_nlp import ClassificationTaskSet, FewShotClassifier, LoraSettings
from fewshot_nlp.meta import (
    CheckpointError,
    MetaTrainer,
    MetaTrainingArguments,
    ProtoMAMLTask,
    adapt,
    first_order_maml_gradients,
    load_checkpoint,
    protonet_loss,
    save_checkpoint,
)
from fewshot_nlp.meta.protonet import LOG_TEMPERATURE, episode_class_vectors, episode_targets
from fewshot_nlp.tasks import EpisodeSampler

WORDS = ["card", "cancel", "balance", "password", "hello", "goodbye", "flight", "weather", "money", "order"]
FILLERS = ["please", "now", "my", "the", "is", "what", "how", "when"]


def toy_task_set() -> ClassificationTaskSet:
    texts = [f"{w} {f} {i}" for w in WORDS for i, f in enumerate(FILLERS)]
    return ClassificationTaskSet(texts, [w for w in WORDS for _ in FILLERS], name="toy")


def toy_args(tmp_path, **overrides) -> MetaTrainingArguments:
    settings = dict(
        output_dir=str(tmp_path / "run"),
        steps=4,
        meta_batch_size=2,
        way=3,
        shot=2,
        query=2,
        eval_every=2,
        eval_episodes=4,
        eval_way=2,
        eval_shot=1,
        eval_query=2,
        checkpoint_every=1,
        lora={"r": 4},
        class_fractions=[0.6, 0.2, 0.2],
    )
    return MetaTrainingArguments(**{**settings, **overrides})


def lora_start(encoder):
    return {**{n: p.detach() for n, p in encoder.lora_parameters().items()}, LOG_TEMPERATURE: torch.tensor(-2.0)}


def toy_episode():
    return EpisodeSampler(toy_task_set(), way=3, shot=2, query=3, seed=0).episode(0)


# ------------------------------------------------------------------ FOMAML maths
def test_zero_lora_b_blocks_lora_a_in_the_first_inner_step_only(tiny_encoder):
    tiny_encoder.add_lora(LoraSettings(r=4))
    start = lora_start(tiny_encoder)
    assert all(torch.count_nonzero(w) == 0 for n, w in start.items() if "lora_B" in n)  # peft's init
    task = ProtoMAMLTask(tiny_encoder, start, toy_episode())
    one = adapt({**start, **task.head}, task.support_loss, steps=1, lr=0.5).weights
    for name in start:
        if "lora_A" in name:
            assert torch.equal(one[name], start[name]), f"{name} moved although lora_B was zero"
        if "lora_B" in name:
            assert not torch.equal(one[name], start[name])
    two = adapt({**start, **task.head}, task.support_loss, steps=2, lr=0.5).weights
    assert any(not torch.equal(two[n], start[n]) for n in start if "lora_A" in n)
    # the outer (first-order) gradient is taken at the adapted weights, where B != 0: A gets one
    _, grads, _ = first_order_maml_gradients(start, task.support_loss, task.query_loss, 1, 0.5, task.head)
    assert all(grads[n].abs().sum() > 0 for n in start if "lora_A" in n)


def test_head_starts_as_the_prototype_classifier(tiny_encoder):
    tiny_encoder.add_lora(LoraSettings(r=4))
    start = lora_start(tiny_encoder)
    episode = toy_episode()
    task = ProtoMAMLTask(tiny_encoder, start, episode)
    clf = FewShotClassifier(tiny_encoder, metric="euclidean", temperature=float(start[LOG_TEMPERATURE].exp()))
    clf.fit(episode.support_texts, episode.support_labels)
    expected = clf.predict_proba(episode.query_texts)
    logits = task._logits({**start, **task.head}, task.query_inputs)
    assert torch.allclose(torch.softmax(logits, 1), expected, atol=1e-5)  # W=2c, b=-|c|^2 is the prototype rule


def test_fomaml_gradient_reaches_the_prototypes_through_the_head_initialisation(tiny_encoder):
    # With no inner step the first-order gradient is exact, and the Proto-MAML head scores
    # differ from protonet's only by -|x|^2/T per query (the same for every class), so both
    # losses and their gradients must agree; the encoder path alone misses the prototypes' share.
    tiny_encoder.add_lora(LoraSettings(r=4))
    start = lora_start(tiny_encoder)
    start = {n: (w + 0.1 if "lora_B" in n else w) for n, w in start.items()}  # B != 0: A has a gradient
    episode = toy_episode()
    leaves = {n: w.clone().requires_grad_(True) for n, w in start.items()}
    loss, _, _ = protonet_loss(tiny_encoder, leaves, episode)
    expected = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
    task = ProtoMAMLTask(tiny_encoder, start, episode, differentiable_head=True)
    fomaml_loss, grads, _ = first_order_maml_gradients(start, task.support_loss, task.query_loss, 0, 0.1, task.head)
    assert fomaml_loss == pytest.approx(float(loss.detach()), rel=1e-5)
    through_head = task.head_init_gradients(grads)
    for name in start:
        assert torch.allclose(grads[name] + through_head[name], expected[name], atol=1e-6, rtol=1e-4), name
    lora_a = [n for n in start if "lora_A" in n]
    assert all(through_head[n].abs().sum() > 0 for n in lora_a)
    assert not all(torch.allclose(grads[n], expected[n], atol=1e-6, rtol=1e-4) for n in lora_a)


def labelled_episode(zero_shot: bool = False):
    episode = toy_episode()
    episode.label_texts = [f"this is about {c}" for c in episode.classes]
    if zero_shot:
        episode.support_texts, episode.support_labels = [], []
    return episode


def nonzero_lora(encoder) -> dict:
    """A LoRA whose B is not zero, so that the adapter changes every embedding."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in encoder.lora_parameters().items():
            if "lora_B" in name:
                parameter.normal_(0, 0.3)
    return lora_start(encoder)


@pytest.mark.parametrize("zero_shot", [False, True], ids=["K>0", "K=0"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_label_aware_class_vectors_are_the_classifiers(tiny_encoder, zero_shot, metric):
    """Training builds class vectors (and scores) exactly as the classifier does at test time."""
    tiny_encoder.add_lora(LoraSettings(r=4, target_modules="all-linear"))
    start = nonzero_lora(tiny_encoder)
    episode = labelled_episode(zero_shot)
    targets, _ = episode_targets(episode)
    centres, _, _ = episode_class_vectors(
        tiny_encoder, start, episode.support_texts, targets, episode.way, episode.label_texts, 2.5
    )
    temperature = float(start[LOG_TEMPERATURE].exp())
    clf = FewShotClassifier(tiny_encoder, metric=metric, temperature=temperature, prior_weight=2.5)
    clf.add_labels(dict(zip(episode.classes, episode.label_texts)))
    if not zero_shot:
        clf.fit(episode.support_texts, episode.support_labels)
    assert clf.classes_ == episode.classes
    assert torch.allclose(centres.detach(), clf.head.class_vectors(), atol=1e-5)
    task = ProtoMAMLTask(tiny_encoder, start, episode, label_weight=2.5, metric=metric)
    logits = task._logits({**start, **task.head}, task.query_inputs)
    assert torch.allclose(torch.softmax(logits, 1), clf.predict_proba(episode.query_texts), atol=1e-4)


def test_the_gradient_reaches_the_adapter_through_the_label_side(tiny_encoder):
    """Zero-shot episode, queries embedded without gradient: all that is left is the label side."""
    tiny_encoder.add_lora(LoraSettings(r=4))
    start = nonzero_lora(tiny_encoder)
    episode = labelled_episode(zero_shot=True)
    leaves = {n: w.clone().requires_grad_(True) for n, w in start.items()}
    targets, query_targets = episode_targets(episode)
    centres, _, labels = episode_class_vectors(tiny_encoder, leaves, [], targets, episode.way, episode.label_texts, 1.0)
    assert torch.allclose(centres, labels)  # K = 0: the label embedding alone
    with torch.no_grad():
        queries = tiny_encoder.functional_forward(start, episode.query_texts)
    loss = torch.nn.functional.cross_entropy(queries @ centres.T / 0.05, query_targets)
    grads = torch.autograd.grad(loss, [leaves[n] for n in start if "lora_" in n])
    assert all(g.abs().sum() > 0 for g in grads)
    # and the trainer's losses take that path: protonet's and FOMAML's through the head's start
    loss, _, _ = protonet_loss(tiny_encoder, leaves, episode, label_weight=1.0, metric="cosine")
    assert loss.requires_grad
    task = ProtoMAMLTask(tiny_encoder, start, episode, differentiable_head=True, label_weight=1.0, metric="cosine")
    _, grads, _ = first_order_maml_gradients(start, task.support_loss, task.query_loss, 0, 0.1, task.head)
    through_head = task.head_init_gradients(grads)
    assert all(through_head[n].abs().sum() > 0 for n in start if "lora_A" in n)


def test_the_symmetric_term_asks_each_class_to_pick_its_own_queries(tiny_encoder, tmp_path):
    tiny_encoder.add_lora(LoraSettings(r=4))
    start, episode = nonzero_lora(tiny_encoder), labelled_episode()
    plain, _, _ = protonet_loss(tiny_encoder, start, episode, label_weight=1.0, metric="cosine")
    both, _, _ = protonet_loss(tiny_encoder, start, episode, label_weight=1.0, metric="cosine", symmetric_weight=0.5)
    targets, query_targets = episode_targets(episode)
    centres, _, _ = episode_class_vectors(
        tiny_encoder, start, episode.support_texts, targets, episode.way, episode.label_texts, 1.0
    )
    queries = tiny_encoder.functional_forward(start, episode.query_texts)
    scores = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(centres, dim=1).T
    by_class = torch.log_softmax(scores.T / start[LOG_TEMPERATURE].exp(), dim=1)  # (class, query)
    transposed = -torch.stack([by_class[c, query_targets == c].mean() for c in range(episode.way)]).mean()
    assert float(both - plain) == pytest.approx(0.5 * float(transposed), rel=1e-4)
    with pytest.raises(ValueError, match="symmetric_weight=0.5 must be >= 0, and is for algorithm=protonet only"):
        toy_args(tmp_path, algorithm="fomaml", symmetric_weight=0.5)
    toy = {"toy": toy_task_set()}
    few_shot_only = MetaTrainer(toy_args(tmp_path, symmetric_weight=0.5, symmetric_zero_shot=False), tiny_encoder, toy)
    assert few_shot_only.symmetric_weight(episode) == 0.5
    assert few_shot_only.symmetric_weight(labelled_episode(zero_shot=True)) == 0.0
    everywhere = MetaTrainer(toy_args(tmp_path, symmetric_weight=0.5), tiny_encoder, toy)
    assert everywhere.symmetric_weight(labelled_episode(zero_shot=True)) == 0.5


def test_label_aware_training_needs_label_texts(tiny_encoder):
    tiny_encoder.add_lora(LoraSettings(r=4))
    with pytest.raises(ValueError, match="needs episode.label_texts"):
        protonet_loss(
            tiny_encoder, lora_start(tiny_encoder), replace(toy_episode(), label_texts=None), label_weight=1.0
        )


def test_training_mixes_corpora_by_weight_and_drops_support_for_zero_shot(tiny_encoder, tmp_path):
    small = ClassificationTaskSet(
        [f"{w} {i}" for w in WORDS[:3] for i in range(6)], [w for w in WORDS[:3] for _ in range(6)]
    )
    args = toy_args(
        tmp_path,
        tasks=["toy", "small"],
        task_weights=[1.0, 3.0],
        way=8,
        class_fractions=[1.0, 0.0, 0.0],
        label_weight=1.0,
        zero_shot_fraction=0.5,
    )
    trainer = MetaTrainer(args, encoder=tiny_encoder, task_sets={"toy": toy_task_set(), "small": small})
    episodes = [e for step in range(100) for e in trainer.episodes_for_step(step)]
    from_small = [e for e in episodes if set(e.classes) <= set(WORDS[:3])]
    assert 0.65 < len(from_small) / len(episodes) < 0.85  # weight 3 of 4
    assert {e.way for e in from_small} == {3} and {e.way for e in episodes if e not in from_small} == {8}  # capped
    zero = [e for e in episodes if not e.support_texts]
    assert 0.4 < len(zero) / len(episodes) < 0.6 and all(e.label_texts for e in episodes)
    assert trainer.episodes_for_step(7)[0] == episodes[14]  # fixed by (seed, index)


def test_hard_episodes_draw_classes_whose_label_texts_are_near(tiny_encoder, tmp_path):
    args = toy_args(tmp_path, way=3, class_fractions=[1.0, 0.0, 0.0], hard_fraction=1.0)
    trainer = MetaTrainer(args, encoder=tiny_encoder, task_sets={"toy": toy_task_set()})
    sampler = trainer.train_samplers[0]
    vectors = tiny_encoder.encode([toy_task_set().label_text(c) for c in sampler.classes])
    similarity = vectors @ vectors.T
    for episode in trainer.episodes_for_step(0) + trainer.episodes_for_step(1):
        rows = [sampler.classes.index(c) for c in episode.classes]
        # some class of the episode (its anchor) has the other two as its two nearest classes
        assert any(set(rows) - {a} == set(similarity[a].argsort(descending=True)[1:3].tolist()) for a in rows)
    with pytest.raises(ValueError, match="hard_fraction=1.5"):
        toy_args(tmp_path, hard_fraction=1.5)


def test_full_finetuning_trains_every_weight_and_saves_the_encoder(tiny_encoder, tmp_path):
    args = toy_args(tmp_path, finetune="full", lora={}, label_weight=1.0, metric="cosine", steps=2, outer_lr=0.01)
    trainer = MetaTrainer(args, encoder=tiny_encoder, task_sets={"toy": toy_task_set()})
    before = {n: p.detach().clone() for n, p in tiny_encoder.named_parameters()}
    assert set(trainer.meta_parameters) - {LOG_TEMPERATURE} == set(before)
    out = trainer.train()
    assert any(not torch.equal(p, before[n]) for n, p in tiny_encoder.named_parameters())
    assert (out / "encoder" / "model.safetensors").is_file() and not (out / "adapter_model.safetensors").exists()
    again = FewShotClassifier.from_pretrained(out)
    texts = toy_episode().query_texts
    assert torch.allclose(again.encoder.encode(texts), tiny_encoder.encode(texts), atol=1e-6)
    assert again.head.metric == "cosine" and again.head.prior_weight == 1.0


def test_all_linear_lora_adapts_every_linear_layer_but_the_pooler(tiny_encoder):
    tiny_encoder.add_lora(LoraSettings(r=2, target_modules="all-linear"))
    adapted = {n.rsplit(".lora_A", 1)[0] for n in tiny_encoder.lora_parameters() if "lora_A" in n}
    linear = {n for n, m in tiny_encoder.named_modules() if isinstance(m, torch.nn.Linear) and "lora" not in n}
    assert len(adapted) == 2 * 6  # 2 layers x (query, key, value, attention output, intermediate, output)
    assert not any("pooler" in n for n in adapted) and any("pooler" in n for n in linear)
    with pytest.raises(ValueError, match="target_modules='everything'"):
        LoraSettings(target_modules="everything")


def test_fomaml_steps_lower_the_query_loss_without_touching_the_model(tiny_encoder):
    torch.manual_seed(0)  # the LoRA A init; over seeds 0-5 the loss falls to 0.24-0.54 of its start
    tiny_encoder.add_lora(LoraSettings(r=4))
    base = {n: p.clone() for n, p in tiny_encoder.named_parameters()}
    episode = toy_episode()
    meta = {n: torch.nn.Parameter(w.clone()) for n, w in lora_start(tiny_encoder).items()}
    optimiser = torch.optim.Adam(meta.values(), lr=0.01)  # as the trainer's outer loop
    losses = []
    for _ in range(15):
        start = {n: p.detach() for n, p in meta.items()}
        task = ProtoMAMLTask(tiny_encoder, start, episode)
        loss, grads, _ = first_order_maml_gradients(
            start, task.support_loss, task.query_loss, 2, 0.05, task.head, frozen={LOG_TEMPERATURE}
        )
        losses.append(loss)
        for name, parameter in meta.items():
            parameter.grad = grads[name]
        optimiser.step()
    assert losses[-1] < 0.7 * losses[0], losses
    for name, value in tiny_encoder.named_parameters():  # functional: the module never changed
        assert torch.equal(value, base[name]), name


def test_frozen_weights_are_not_adapted():
    result = adapt({"w": torch.ones(1), "t": torch.ones(1)}, lambda w: (w["w"] * w["t"]).sum(), 2, 0.5, frozen={"t"})
    assert torch.equal(result.weights["t"], torch.ones(1)) and torch.equal(result.weights["w"], torch.zeros(1))


def test_adapt_rejects_bad_settings():
    with pytest.raises(ValueError, match="steps=-1"):
        adapt({"w": torch.zeros(1)}, lambda w: w["w"].sum(), steps=-1, lr=0.1)


# ---------------------------------------------------------------------- trainer
@pytest.mark.parametrize("algorithm", ["protonet", pytest.param("fomaml", marks=pytest.mark.slow)])
def test_training_writes_a_loadable_model(algorithm, tiny_encoder, tmp_path):
    args = toy_args(tmp_path, algorithm=algorithm, steps=6)
    output = MetaTrainer(args, encoder=tiny_encoder, task_sets={"toy": toy_task_set()}).train()
    history = json.loads((output / "training_history.json").read_text())
    assert [h["step"] for h in history] == list(range(0, 7))  # step 0: the untrained adapter
    assert "val_accuracy" in history[2] and 0 <= history[2]["val_accuracy"] <= 1
    split = json.loads((output / "class_split_toy.json").read_text())
    assert sorted(sum(split.values(), [])) == sorted(WORDS)
    clf = FewShotClassifier.from_pretrained(output)
    assert clf.meta_training["algorithm"] == algorithm
    assert clf.meta_training["class_split"]["toy"] == split
    assert clf.head.metric == "euclidean" and clf.encoder.lora_settings.r == 4
    card = (output / "README.md").read_text()
    assert f"Meta-trained LoRA adapter: {algorithm}, 6 steps" in card and "library_name: fewshot-nlp" in card
    test = split["test"]
    clf.fit([f"{w} please 0" for w in test], test)
    assert clf.predict([f"{test[0]} please 0"]) == [test[0]]


@pytest.mark.slow  # trains in subprocesses or for many steps
def test_protonet_training_lowers_the_loss(tiny_encoder, tmp_path):
    args = toy_args(tmp_path, steps=40, eval_every=40, checkpoint_every=40, outer_lr=0.01, meta_batch_size=4)
    trainer = MetaTrainer(args, encoder=tiny_encoder, task_sets={"toy": toy_task_set()})
    trainer.train()
    losses = [h["loss"] for h in trainer.history if "loss" in h]
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10, losses


def test_dropout_is_on_in_training_steps_only_and_drawn_from_the_seed(tiny_encoder, tmp_path):
    import copy

    def losses(name: str, **options) -> list[float]:
        args = toy_args(tmp_path / name, steps=3, outer_lr=0.01, **options)
        trainer = MetaTrainer(args, encoder=copy.deepcopy(tiny_encoder), task_sets={"toy": toy_task_set()})
        trainer.train()
        assert not trainer.encoder.training  # validation and the saved model saw no dropout
        return [h["loss"] for h in trainer.history if "loss" in h]

    plain, noisy, again = losses("plain"), losses("noisy", dropout=True), losses("again", dropout=True)
    assert len(plain) == 3 and plain != noisy
    assert noisy == again  # the masks come from the run's seed


@pytest.mark.slow  # trains in subprocesses or for many steps
@pytest.mark.parametrize("algorithm", ["protonet", "fomaml"])
def test_anchor_keeps_embeddings_near_the_frozen_encoder(tiny_encoder, tmp_path, algorithm):
    """The same run with and without the anchor: the anchored adapter drifts less."""
    import copy

    from fewshot_nlp.meta.protonet import FrozenEmbeddings

    texts = [f"{w} {f} {i}" for w in WORDS for i, f in enumerate(FILLERS)]
    drifts = {}
    for weight in (0.0, 10.0):
        encoder = copy.deepcopy(tiny_encoder)
        args = toy_args(tmp_path / str(weight), algorithm=algorithm, outer_lr=0.01, anchor_weight=weight)
        trainer = MetaTrainer(args, encoder=encoder, task_sets={"toy": toy_task_set()})
        frozen = FrozenEmbeddings(encoder)(texts)
        stats = [trainer.train_step(step) for step in range(30)]  # not train(): it keeps the best, maybe step 0
        drifts[weight] = float(((encoder.encode(texts) - frozen) ** 2).sum(-1).mean())
        assert ("drift" in stats[0]) == (weight > 0)
    assert 0 < drifts[10.0] < 0.5 * drifts[0.0], drifts


def test_frozen_embeddings_do_not_depend_on_batch_mates(minilm):
    """In a real model, padding changes the last bits; the anchor's cache must not show it, or a
    resumed run (which fills the cache from other batches) drifts from an uninterrupted one."""
    import copy

    from fewshot_nlp.meta.protonet import FrozenEmbeddings

    encoder = copy.deepcopy(minilm)
    encoder.add_lora(LoraSettings(r=4))
    text, longer = "what is my balance", "how long does a transfer abroad take when i send it on a weekend"
    alone = FrozenEmbeddings(encoder)([text])[0]
    assert torch.equal(FrozenEmbeddings(encoder)([text, longer])[0], alone)


def test_frozen_embeddings_have_no_dropout_when_training_has(tiny_encoder):
    """With ``dropout``, the anchor's reference must still be the frozen encoder's one embedding."""
    from fewshot_nlp.meta.protonet import FrozenEmbeddings

    tiny_encoder.add_lora(LoraSettings(r=4))
    texts = toy_episode().query_texts
    reference = FrozenEmbeddings(tiny_encoder)(texts)
    tiny_encoder.train()
    assert torch.equal(FrozenEmbeddings(tiny_encoder)(texts), reference) and tiny_encoder.training


def test_test_time_adaptation_in_fit(tiny_encoder, tmp_path):
    tiny_encoder.add_lora(LoraSettings(r=4))
    clf = FewShotClassifier(tiny_encoder, metric="euclidean", temperature=0.1)
    episode = toy_episode()
    before = {n: p.clone() for n, p in tiny_encoder.lora_parameters().items()}
    clf.fit(episode.support_texts, episode.support_labels, adapt_steps=3, adapt_lr=0.5)
    moved = {n: p.clone() for n, p in tiny_encoder.lora_parameters().items()}
    assert any(not torch.equal(moved[n], before[n]) for n in before)
    clf.fit(episode.support_texts, episode.support_labels, adapt_steps=3, adapt_lr=0.5)
    again = tiny_encoder.lora_parameters()
    assert all(torch.equal(again[n], moved[n]) for n in before)  # each fit restarts from the meta init
    clf.save_pretrained(tmp_path / "adapted")
    loaded = FewShotClassifier.from_pretrained(tmp_path / "adapted")
    assert torch.allclose(loaded.predict_proba(episode.query_texts), clf.predict_proba(episode.query_texts), atol=1e-6)
    assert all(torch.equal(loaded._meta_lora[n], before[n]) for n in before)


def test_adaptation_needs_a_lora_adapter(tiny_encoder):
    with pytest.raises(ValueError, match="adapt_steps needs an encoder with a LoRA adapter"):
        FewShotClassifier(tiny_encoder).fit(["a b", "c d"], ["x", "y"], adapt_steps=2)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"algorithm": "reptile"}, "algorithm='reptile'"),
        ({"steps": 0}, "steps=0"),
        ({"way": 1}, "way=1"),
        ({"inner_lr": -1.0}, "inner_lr=-1.0"),
        ({"tasks": []}, "tasks=\\[\\]"),
        ({"lora": {"r": 0}}, "r=0"),
        ({"anchor_weight": -1.0}, "anchor_weight=-1.0 must be >= 0"),
        ({"head_init_gradient": "yes"}, "head_init_gradient='yes' must be true or false"),
        ({"outer_lr": "fast"}, "outer_lr='fast' must be a number, e.g. outer_lr=0.001"),
        ({"label_weight": 0.0}, "label_weight=0.0 must be > 0"),
        ({"zero_shot_fraction": 0.5}, "zero-shot episodes need label texts"),
        ({"finetune": "full"}, "remove the lora settings"),
        ({"metric": "dot"}, "metric='dot' must be one of"),
        ({"task_weights": [1.0, 2.0]}, "one non-negative weight per task set"),
        ({"shot": [3, 1]}, "shot=\\[3, 1\\]"),
        ({"dropout": 0.1}, "dropout=0.1 must be true or false"),
    ],
)
def test_bad_training_arguments(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        toy_args(tmp_path, **overrides)


def test_numbers_written_as_yaml_reads_them_are_accepted(tmp_path):
    args = toy_args(tmp_path, outer_lr="2e-5", anchor_weight=1)  # YAML reads 2e-5 (no dot) as a string
    assert args.outer_lr == 2e-5 and isinstance(args.anchor_weight, float)


def test_a_second_run_into_a_used_folder_must_say_resume(tiny_encoder, tmp_path):
    import copy

    args = toy_args(tmp_path, steps=2)
    MetaTrainer(args, encoder=copy.deepcopy(tiny_encoder), task_sets={"toy": toy_task_set()}).train()
    with pytest.raises(ValueError, match="--resume"):
        MetaTrainer(args, encoder=tiny_encoder, task_sets={"toy": toy_task_set()}).train()


# ------------------------------------------------------------------ checkpoints
def test_checkpoints_refuse_corrupt_and_foreign_files(tmp_path):
    path = save_checkpoint(tmp_path, 3, {"w": torch.ones(2)}, {"fingerprint": {"a": 1}})
    tensors, state = load_checkpoint(path, {"a": 1})
    assert torch.equal(tensors["w"], torch.ones(2)) and state["step"] == 3
    with pytest.raises(CheckpointError, match=r"other settings \(\['a'\]\)"):
        load_checkpoint(path, {"a": 2})
    data = bytearray((path / "tensors.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (path / "tensors.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(path, {"a": 1})
    (path / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path, {"a": 1})
    (path / "state.json").write_text('{"format": "something else"}')
    with pytest.raises(CheckpointError, match="not a fewshot-nlp checkpoint"):
        load_checkpoint(path, {"a": 1})
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        load_checkpoint(tmp_path / "missing", {"a": 1})


def test_a_checkpoint_older_than_a_setting_resumes_only_with_its_default(tmp_path):
    """A checkpoint written before option ``b`` existed ran as ``b``'s default does."""
    path = save_checkpoint(tmp_path, 3, {"w": torch.ones(2)}, {"fingerprint": {"a": 1}})
    assert load_checkpoint(path, {"a": 1, "b": False}, defaults={"b": False, "c": 0})[1]["step"] == 3
    with pytest.raises(CheckpointError, match=r"other settings \(\['b'\]\)"):
        load_checkpoint(path, {"a": 1, "b": True}, defaults={"b": False})
    with pytest.raises(CheckpointError, match=r"other settings \(\['b'\]\)"):
        load_checkpoint(path, {"a": 1, "b": False})  # no defaults given: every setting must be saved


def test_training_arguments_know_every_default():
    defaults = MetaTrainingArguments.defaults()
    assert defaults["cloze_fraction"] == MetaTrainingArguments(output_dir="x").cloze_fraction
    assert defaults["tasks"] == ["clinc150"] and "output_dir" not in defaults


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    for step in range(1, 5):
        save_checkpoint(tmp_path, step, {"w": torch.full((1,), float(step))}, {"fingerprint": {}})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-000000003", "step-000000004"]
    assert (tmp_path / "latest").read_text() == "step-000000004"


TRAIN_SCRIPT = """
import sys, torch
sys.path.insert(0, {tests!r})
from conftest import build_tiny_model
from fewshot_nlp import SentenceEncoder
from fewshot_nlp.meta import MetaTrainer, MetaTrainingArguments
from test_meta import toy_task_set, toy_args
from pathlib import Path
args = toy_args(Path({tmp!r}), steps={steps}, algorithm={algorithm!r}, **{extra!r})
trainer = MetaTrainer(args, encoder=SentenceEncoder({model!r}), task_sets={{"toy": toy_task_set()}})
trainer.train(resume={resume})
"""


def _run_training(tmp_path, model_dir, steps, algorithm, extra, resume=False):
    code = TRAIN_SCRIPT.format(
        tests=str(ROOT / "tests"),
        tmp=str(tmp_path),
        steps=steps,
        algorithm=algorithm,
        extra=extra,
        model=str(model_dir),
        resume=resume,
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _adapter(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "adapter_model.safetensors")


LABEL_AWARE = dict(
    label_weight=1.0,
    zero_shot_fraction=0.5,
    metric="cosine",
    temperature=0.05,
    lora={"r": 4, "target_modules": "all-linear"},
    shot=[1, 2],
)


@pytest.mark.slow  # trains in subprocesses or for many steps
@pytest.mark.parametrize(
    "algorithm, extra",
    [
        ("protonet", {}),
        ("fomaml", {}),
        ("protonet", {"anchor_weight": 1.0}),
        ("protonet", LABEL_AWARE),
        ("fomaml", LABEL_AWARE),
        ("protonet", {**LABEL_AWARE, "dropout": True}),
    ],
    ids=["protonet", "fomaml", "protonet-anchor", "protonet-label-aware", "fomaml-label-aware", "protonet-dropout"],
)
def test_a_run_killed_midway_resumes_to_identical_weights(algorithm, extra, tiny_model_dir, tmp_path):
    """With an anchor too (its cache is filled anew on resumption, from other batches), and
    label-aware episodes, a share of them zero-shot, drawn by (seed, index)."""
    steps = 30
    straight = _run_training(tmp_path / "straight", tiny_model_dir, steps, algorithm, extra)
    assert straight.wait(timeout=300) == 0

    interrupted = _run_training(tmp_path / "killed", tiny_model_dir, steps, algorithm, extra)
    latest = tmp_path / "killed" / "run" / "checkpoints" / "latest"
    deadline = time.time() + 240
    while time.time() < deadline and interrupted.poll() is None:
        if latest.is_file() and int(latest.read_text().split("-")[1]) >= 5:
            break
        time.sleep(0.02)
    assert interrupted.poll() is None, "the run ended before it could be killed; raise steps"
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    killed_at = int(latest.read_text().split("-")[1])
    assert 5 <= killed_at < steps

    resumed = _run_training(tmp_path / "killed", tiny_model_dir, steps, algorithm, extra, resume=True)
    assert resumed.wait(timeout=300) == 0
    a, b = _adapter(tmp_path / "straight" / "run"), _adapter(tmp_path / "killed" / "run")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"
    history = json.loads((tmp_path / "killed" / "run" / "training_history.json").read_text())
    assert [h["step"] for h in history] == list(range(0, steps + 1))


DISTRIBUTED_SCRIPT = """
import os, sys, torch
sys.path.insert(0, {tests!r})
from fewshot_nlp import SentenceEncoder
from fewshot_nlp.meta import MetaTrainer
from test_meta import toy_task_set, toy_args
from pathlib import Path
args = toy_args(Path({tmp!r}), steps=3, meta_batch_size=4, algorithm={algorithm!r}, checkpoint_every=100)
trainer = MetaTrainer(args, encoder=SentenceEncoder({model!r}), task_sets={{"toy": toy_task_set()}})
for step in range(args.steps):
    trainer.train_step(step)
rank = int(os.environ.get("RANK", 0))
from safetensors.torch import save_file
save_file({{n: p.detach().contiguous() for n, p in trainer.meta_parameters.items()}}, {tmp!r} + f"/weights-{{rank}}.safetensors")
trainer.close()
"""


@pytest.mark.slow  # trains in subprocesses or for many steps
@pytest.mark.parametrize("algorithm", ["protonet", "fomaml"])
def test_two_processes_match_one(algorithm, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    results = {}
    for world in (1, 2):
        folder = tmp_path / f"world{world}"
        folder.mkdir()
        code = DISTRIBUTED_SCRIPT.format(
            tests=str(ROOT / "tests"), tmp=str(folder), model=str(tiny_model_dir), algorithm=algorithm
        )
        script = folder / "train.py"
        script.write_text(code)
        # --standalone: a free port of its own, so runs never collide
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(world)]
        command += [str(script)]
        subprocess.run(
            command,
            cwd=ROOT,
            check=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
            timeout=300,
        )
        results[world] = [load_file(folder / f"weights-{r}.safetensors") for r in range(world)]
    rank0, rank1 = results[2]
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "the two ranks hold different weights"
    single = results[1][0]
    assert any(not torch.equal(single[k], torch.zeros_like(single[k])) for k in single if "lora_B" in k)
    assert all(torch.allclose(rank0[k], single[k], atol=1e-5) for k in single), "2 processes differ from 1"
