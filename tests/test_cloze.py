import pytest
import torch
from conftest import made_up_texts, made_up_word
from test_meta import toy_args

from fewshot_nlp import ClassificationTaskSet
from fewshot_nlp.meta import MetaTrainer
from fewshot_nlp.tasks import cloze_task_set


def test_a_class_is_a_word_and_its_texts_are_texts_with_that_word_masked():
    texts = made_up_texts()
    common = [f"{t} often" for t in texts]  # "often" is in every text: more than 1% of them
    common[0] += " rarely"  # in 1 text: fewer than 8
    common[1:12] = [f"{t} Londinium" for t in common[1:12]]  # a name, in 11 texts, never in lower case
    cloze = cloze_task_set(common, per_word=10)
    assert {"often", "rarely", "londinium"}.isdisjoint(cloze.classes)
    assert set(cloze.classes) <= {made_up_word(i) for i in range(600)} and len(cloze.classes) > 300
    for label in cloze.classes[:50]:
        assert 8 <= len(cloze.by_class[label]) <= 10  # per_word caps a class
        for text in cloze.by_class[label]:
            assert label not in text.split() and "[MASK]" in text.split()
            assert text.replace("[MASK]", label) in common  # the source text, with the word put back
    assert cloze.label_text(cloze.classes[0]) == f"This text is about {cloze.classes[0]}."


def test_phrases_of_two_cloze_words_are_classes_too_masked_as_one():
    texts = made_up_texts()
    texts[:10] = [f"{t} direct-debit" for t in texts[:10]]  # a phrase in 10 texts, each word in under 1%
    texts[10:20] = [f"{t} often debit" for t in texts[10:20]]
    texts[20:] = [f"{t} often" for t in texts[20:]]  # "often" is in nearly every text: no phrase of it
    cloze = cloze_task_set(texts, phrases=True)
    assert "direct debit" in cloze.classes and "often debit" not in cloze.classes
    assert {"direct", "debit"} <= set(cloze.classes)  # the words stay classes of their own
    assert sorted(cloze.by_class["direct debit"]) == sorted(t.replace("direct-debit", "[MASK]") for t in texts[:10])
    assert not any(" " in c for c in cloze_task_set(texts).classes)  # words only, as before, by default


def test_cloze_refuses_texts_that_give_no_classes():
    with pytest.raises(ValueError, match="give 0 words.*lower min_texts"):
        cloze_task_set(["one short text", "another short text"])
    with pytest.raises(ValueError, match="max_share=0"):
        cloze_task_set(made_up_texts(), max_share=0)


def test_a_cloze_fraction_of_training_episodes_are_cloze_tasks_of_the_training_texts(tiny_encoder, tmp_path):
    texts = made_up_texts()
    labels = [f"topic{i % 20}" for i in range(len(texts))]
    topics = ClassificationTaskSet(texts, labels, name="topics")
    args = toy_args(tmp_path, tasks=["topics"], way=4, cloze_fraction=0.5, class_fractions=[0.5, 0.5, 0.0])
    trainer = MetaTrainer(args, encoder=tiny_encoder, task_sets={"topics": topics})
    seen = {t for c in trainer.class_split["topics"]["train"] for t in topics.by_class[c]}
    episodes = [e for step in range(100) for e in trainer.episodes_for_step(step)]
    cloze = [e for e in episodes if not set(e.classes) <= set(topics.classes)]
    assert 0.4 < len(cloze) / len(episodes) < 0.6
    for episode in cloze:
        assert episode.way == 4 and episode.label_texts == [f"This text is about {c}." for c in episode.classes]
        for text, label in zip(episode.query_texts, episode.query_labels):
            assert text.replace("[MASK]", label) in seen  # made of training classes' texts only
    with pytest.raises(ValueError, match="cloze_fraction=2"):
        toy_args(tmp_path, cloze_fraction=2)
    small = ClassificationTaskSet(texts[:100], labels[:100], name="small")  # 50 training texts: no word in 8
    with pytest.raises(
        ValueError,
        match="cloze_fraction=0.5: the training texts are too few.*50 texts give 0 words.*set cloze_fraction=0",
    ):
        MetaTrainer(args, encoder=tiny_encoder, task_sets={"topics": small})


def test_hard_cloze_episodes_gather_a_word_and_its_nearest_words(tiny_encoder, tmp_path):
    texts = made_up_texts()
    topics = ClassificationTaskSet(texts, [f"topic{i % 20}" for i in range(len(texts))], name="topics")
    options = dict(tasks=["topics"], way=4, cloze_fraction=1.0, class_fractions=[1.0, 0.0, 0.0])
    hard = MetaTrainer(
        toy_args(tmp_path, **options, hard_cloze=True), encoder=tiny_encoder, task_sets={"topics": topics}
    )
    plain = MetaTrainer(toy_args(tmp_path, **options), encoder=tiny_encoder, task_sets={"topics": topics})
    words, cloze = hard.cloze_samplers[0].classes, hard.cloze_samplers[0].task_set
    vectors = torch.nn.functional.normalize(tiny_encoder.encode([cloze.label_text(w) for w in words]), dim=1)
    nearest = (vectors @ vectors.T).argsort(dim=1, descending=True)[:, 1:4]

    def gathered(episode) -> bool:
        """Some word of the episode (its anchor) has the other three as its three nearest words."""
        rows = [words.index(c) for c in episode.classes]
        return any(set(rows) - {a} == set(nearest[a].tolist()) for a in rows)

    assert all(gathered(e) for step in range(20) for e in hard.episodes_for_step(step))
    assert not any(gathered(e) for step in range(20) for e in plain.episodes_for_step(step))
    with pytest.raises(ValueError, match="hard_cloze=true shapes cloze episodes.*set cloze_fraction"):
        toy_args(tmp_path, hard_cloze=True)


def test_per_corpus_cloze_episodes_take_their_words_from_one_corpus(tiny_encoder, tmp_path):
    texts = made_up_texts()
    other = [" ".join(f"q{w}" for w in t.split()) for t in made_up_texts(seed=1)]  # words no text above has
    labels = [f"topic{i % 20}" for i in range(len(texts))]
    task_sets = {
        "topics": ClassificationTaskSet(texts, labels, name="topics"),
        "others": ClassificationTaskSet(other, labels, name="others"),
    }
    options = dict(tasks=list(task_sets), way=4, cloze_fraction=1.0, class_fractions=[1.0, 0.0, 0.0])

    def corpora_of(episode) -> set[int]:
        return {len(word) for word in episode.classes}  # the first corpus' words have 4 letters, the other's 5

    per_corpus = MetaTrainer(toy_args(tmp_path, **options, cloze_per_corpus=True), tiny_encoder, task_sets)
    pile = MetaTrainer(toy_args(tmp_path, **options), tiny_encoder, task_sets)
    assert len(per_corpus.cloze_samplers) == 2 and len(pile.cloze_samplers) == 1
    episodes = [e for step in range(20) for e in per_corpus.episodes_for_step(step)]
    assert all(len(corpora_of(e)) == 1 for e in episodes)
    assert {4, 5} == set().union(*map(corpora_of, episodes))  # both corpora take their turn
    assert any(len(corpora_of(e)) == 2 for step in range(20) for e in pile.episodes_for_step(step))
    with pytest.raises(ValueError, match="cloze_per_corpus=true makes cloze tasks of each corpus' own texts"):
        MetaTrainer(toy_args(tmp_path, **options, cloze_per_corpus=True), tiny_encoder, task_sets, cloze_texts=texts)
    with pytest.raises(ValueError, match="cloze_per_corpus=true shapes cloze episodes.*set cloze_fraction"):
        toy_args(tmp_path, cloze_per_corpus=True)


def test_cloze_phrases_reach_the_training_episodes(tiny_encoder, tmp_path):
    texts = made_up_texts()
    texts[:10] = [f"{t} direct debit" for t in texts[:10]]
    topics = ClassificationTaskSet(texts, [f"topic{i % 20}" for i in range(len(texts))], name="topics")
    options = dict(tasks=["topics"], way=4, cloze_fraction=1.0, class_fractions=[1.0, 0.0, 0.0])
    trainer = MetaTrainer(toy_args(tmp_path, **options, cloze_phrases=True), tiny_encoder, {"topics": topics})
    assert "direct debit" in trainer.cloze_samplers[0].classes
    with pytest.raises(ValueError, match="cloze_phrases=true shapes cloze episodes.*set cloze_fraction"):
        toy_args(tmp_path, cloze_phrases=True)


def test_cloze_files_bring_unlabelled_texts_into_the_cloze_tasks(tiny_encoder, tmp_path):
    texts = made_up_texts()
    topics = ClassificationTaskSet(texts, [f"topic{i % 20}" for i in range(len(texts))], name="topics")
    unlabelled = tmp_path / "mine.txt"
    unlabelled.write_text("\n\n".join(" ".join(f"q{w}" for w in t.split()) for t in made_up_texts(seed=1)))
    options = dict(tasks=["topics"], way=4, cloze_fraction=1.0, class_fractions=[1.0, 0.0, 0.0])

    def lengths(trainer) -> list[set[int]]:
        return [{len(w) for w in sampler.classes} for sampler in trainer.cloze_samplers]

    files = [str(unlabelled)]
    assert lengths(MetaTrainer(toy_args(tmp_path, **options), tiny_encoder, {"topics": topics})) == [{4}]
    joined = MetaTrainer(toy_args(tmp_path, **options, cloze_files=files), tiny_encoder, {"topics": topics})
    assert lengths(joined) == [{4, 5}]  # the corpus' words (4 letters) and the file's (5) in one pool
    apart = toy_args(tmp_path, **options, cloze_files=files, cloze_per_corpus=True)
    assert lengths(MetaTrainer(apart, tiny_encoder, {"topics": topics})) == [{4}, {5}]
    with pytest.raises(FileNotFoundError, match=r"cloze_files: no such file .*missing.txt; give text files"):
        MetaTrainer(toy_args(tmp_path, **options, cloze_files=["missing.txt"]), tiny_encoder, {"topics": topics})
    with pytest.raises(ValueError, match="cloze_files feed cloze episodes.*set cloze_fraction"):
        toy_args(tmp_path, cloze_files=files)
    with pytest.raises(ValueError, match="cloze_files='mine.txt' must be a list of paths"):
        toy_args(tmp_path, **options, cloze_files="mine.txt")


def test_a_grouped_view_beside_its_corpus_feeds_the_cloze_tasks_once(tiny_encoder, tmp_path):
    texts = made_up_texts()
    topics = ClassificationTaskSet(texts, [f"topic{i % 20}" for i in range(len(texts))], name="topics")
    coarse = topics.grouped({"low": [f"topic{i}" for i in range(10)], "high": [f"topic{i}" for i in range(10, 20)]})
    options = dict(way=4, cloze_fraction=1.0, class_fractions=[1.0, 0.0, 0.0])

    def cloze_texts(task_sets: dict) -> int:
        trainer = MetaTrainer(toy_args(tmp_path, tasks=list(task_sets), **options), tiny_encoder, task_sets)
        return len(trainer.cloze_samplers[0].task_set)

    alone = cloze_texts({"topics": topics})
    assert (
        cloze_texts({"topics": topics, "coarse": coarse}) == alone == cloze_texts({"coarse": coarse, "topics": topics})
    )
    other = ClassificationTaskSet(made_up_texts(seed=1), ["a", "b"] * (len(texts) // 2), name="other")
    assert cloze_texts({"topics": topics, "other": other}) > alone  # a corpus of other texts still adds its own
    with pytest.raises(ValueError, match="sgd-domains labels the texts of sgd by group.*class_fractions: \\[1.0"):
        toy_args(tmp_path, tasks=["sgd:train", "sgd-domains:train"], class_fractions=[0.8, 0.2, 0.0])
    assert toy_args(tmp_path, tasks=["sgd-domains:train"], class_fractions=[0.8, 0.2, 0.0])  # alone, nothing leaks
