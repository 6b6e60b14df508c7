"""The episodes a classification meta-training step trains on: task sets in turn or by weight, cloze tasks of
the training texts, hard negatives (near classes together) and zero-shot episodes (no support set)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..tasks import EpisodeSampler, cloze_task_set, word_family
from ..tasks.episodes import Episode


class EpisodeMixing:
    """The episode stream of :class:`~fewshot_nlp.meta.MetaTrainer` (a part of it: reads ``args`` and ``encoder``).

    Every episode is fixed by (seed, step), so a resumed run trains on what an uninterrupted one would have.
    """

    def _make_samplers(self, task_sets: dict, cloze_texts: list[str] | None) -> None:
        """The class split of every task set, a sampler of its training classes, and the cloze samplers."""
        args = self.args
        self.class_split = {
            name: ts.split_classes(tuple(args.class_fractions), seed=args.split_seed) for name, ts in task_sets.items()
        }
        shot = args.shot if isinstance(args.shot, int) else tuple(args.shot)
        self.train_samplers = [
            EpisodeSampler(
                ts.subset(self.class_split[name]["train"]),
                args.way,
                shot,
                args.query,
                seed=args.seed,
                cap_way=True,
                class_vectors=self.label_vectors(ts, self.class_split[name]["train"]) if args.hard_fraction else None,
                hard_fraction=args.hard_fraction,
            )
            for name, ts in task_sets.items()
        ]
        self.cloze_samplers = []  # one for every corpus, or one for all of them
        if args.cloze_fraction:  # by default from the training classes' texts only: nothing of a held-out class
            if cloze_texts is not None and args.cloze_per_corpus:
                raise ValueError(
                    "cloze_per_corpus=true makes cloze tasks of each corpus' own texts: give no cloze_texts."
                )
            if cloze_texts is not None:
                corpora = [cloze_texts]
            else:
                corpora = _distinct_corpora([sampler.task_set.texts_and_labels()[0] for sampler in self.train_samplers])
            corpora += [_unlabelled_texts(path) for path in args.cloze_files]
            if not args.cloze_per_corpus:
                corpora = [[t for texts in corpora for t in texts]]
            self.cloze_samplers = [self.cloze_sampler(texts, shot) for texts in corpora]

    def cloze_sampler(self, texts: list[str], shot) -> EpisodeSampler:
        """Episodes of the cloze tasks of ``texts`` (a class per word), shaped as the recipe says."""
        args = self.args
        try:
            cloze = cloze_task_set(texts, seed=args.seed, phrases=args.cloze_phrases)
        except ValueError as error:
            raise ValueError(
                f"cloze_fraction={args.cloze_fraction}: the training texts are too few for cloze tasks ({error}); "
                "train on more texts, or set cloze_fraction=0."
            ) from error
        return EpisodeSampler(
            cloze,
            args.way,
            shot,
            args.query,
            seed=args.seed,
            cap_way=True,
            class_vectors=self.label_vectors(cloze, cloze.classes) if args.hard_cloze else None,
            hard_fraction=1.0 if args.hard_cloze else 0.0,
            family=word_family,
        )

    def label_vectors(self, task_set, classes: list[str]) -> dict:
        """Label-text embeddings by the encoder as it starts (the same after a resume): which classes are near."""
        vectors = self.encoder.encode([task_set.label_text(c) for c in classes])
        return dict(zip(classes, vectors.cpu().numpy()))

    # ---------------------------------------------------------------- episodes
    def episodes_for_step(self, step: int) -> list:
        """The meta-batch of outer step ``step``: fixed by (seed, step), whatever happened before.

        Each episode comes from one task set: in turn, or drawn with ``task_weights``; a
        ``cloze_fraction`` of them are cloze tasks instead; a ``zero_shot_fraction`` of them lose
        their support set.
        """
        args, samplers = self.args, self.train_samplers
        episodes = []
        for j in range(args.meta_batch_size):
            index = step * args.meta_batch_size + j
            if args.task_weights is None:
                which = index % len(samplers)
                episode = samplers[which].episode(index // len(samplers))
            else:
                weights = np.asarray(args.task_weights, dtype=float)
                which = np.random.default_rng([args.seed, index, 1]).choice(len(samplers), p=weights / weights.sum())
                episode = samplers[which].episode(index)
            if self.cloze_samplers and np.random.default_rng([args.seed, index, 3]).random() < args.cloze_fraction:
                episode = self.cloze_samplers[which if args.cloze_per_corpus else 0].episode(index)
            if args.zero_shot_fraction and np.random.default_rng([args.seed, index, 2]).random() < (
                args.zero_shot_fraction
            ):
                episode = zero_shot(episode)
            episodes.append(episode)
        return episodes

    def symmetric_weight(self, episode) -> float:
        """The weight of protonet's symmetric term for ``episode`` (none on zero-shot ones unless asked)."""
        applies = self.args.symmetric_zero_shot or len(episode.support_texts) > 0
        return self.args.symmetric_weight if applies else 0.0

    def texts_in(self, episode) -> int:
        """Texts one training episode embeds (for the training throughput)."""
        labels = len(episode.label_texts or []) if self.args.label_weight is not None else 0
        return len(episode.support_texts) + len(episode.query_texts) + labels


def _unlabelled_texts(path) -> list[str]:
    """The non-blank lines of a cloze file (UTF-8 text, one text per line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cloze_files: no such file {path}; give text files, one text per line.")
    try:
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as error:
        raise ValueError(f"cloze_files: {path} is not UTF-8 text ({error.reason}); save it as UTF-8.") from None
    if not texts:
        raise ValueError(f"cloze_files: {path} holds no texts.")
    return texts


def _distinct_corpora(corpora: list[list[str]]) -> list[list[str]]:
    """The corpora whose texts are not all in another one (the first of equal ones kept): a grouped view of a
    corpus (``sgd-domains``) holds that corpus' texts, which should feed the cloze tasks once, not twice."""
    sets = [set(texts) for texts in corpora]
    return [
        texts
        for i, texts in enumerate(corpora)
        if not any(sets[i] < other or (sets[i] == other and j < i) for j, other in enumerate(sets) if j != i)
    ]


def zero_shot(episode: Episode) -> Episode:
    """The same episode without its support set: class vectors come from the label texts alone."""
    return dataclasses.replace(episode, support_texts=[], support_labels=[])
