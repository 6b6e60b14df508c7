"""Self-training on unlabelled texts: pseudo-labels, the trained copy, saving, resuming, refusals."""

import pytest
import torch

from fewshot_nlp import FewShotClassifier, SelfTrainingArguments
from fewshot_nlp.self_training import pseudo_label

WORDS = ["card", "cancel", "balance", "password"]
FILLERS = ["please", "now", "my", "the", "is", "what", "how", "when"]
TEXTS = [f"{w} {f} {i}" for w in WORDS for i, f in enumerate(FILLERS)]
FEW = SelfTrainingArguments(per_class=5, steps=2, rounds=1, way=3, shot=[1, 2], query=2, learning_rate=0.002)


def test_pseudo_labels_keep_the_surest_texts_of_each_predicted_class(keyword_encoder):
    classifier = FewShotClassifier(keyword_encoder, {"card": "card", "cancel": "cancel"})
    texts = ["card", "card card cancel", "cancel", "cancel cancel card", "card cancel", "weather"]
    kept, labels = pseudo_label(classifier, texts, per_class=2)
    # margins: "card" and "cancel" are sure; two-keyword texts less so; "weather" and "card cancel" are ties
    assert list(zip(kept, labels)) == [
        ("card", "card"),
        ("card card cancel", "card"),
        ("cancel", "cancel"),
        ("cancel cancel card", "cancel"),
    ]


def test_self_training_returns_a_trained_copy_and_leaves_the_original(tiny_encoder, tmp_path):
    classifier = FewShotClassifier(tiny_encoder, WORDS)
    before = classifier.decision_function(TEXTS).clone()
    adapted = classifier.self_train(TEXTS, SelfTrainingArguments(**{**vars(FEW), "rounds": 2}))
    assert torch.equal(classifier.decision_function(TEXTS), before)
    assert not torch.allclose(adapted.decision_function(TEXTS), before)
    # the label texts are re-embedded by the trained encoder
    label_texts = [text for _, text in adapted.head.descriptions]
    assert torch.allclose(adapted.head.description, adapted.encoder.encode(label_texts), atol=1e-6)
    record = adapted.self_training
    assert record["texts"] == len(TEXTS) and record["steps"] == 2 and len(record["rounds_run"]) == 2
    adapted.save_pretrained(tmp_path / "saved")
    again = FewShotClassifier.from_pretrained(tmp_path / "saved")
    assert torch.allclose(again.decision_function(TEXTS), adapted.decision_function(TEXTS), atol=1e-5)
    assert again.self_training == adapted.self_training
    assert "Self-trained encoder: 2 round(s) of 2 steps" in (tmp_path / "saved" / "README.md").read_text()


def test_a_stopped_self_training_resumes_exactly(tiny_encoder, tmp_path, monkeypatch):
    from fewshot_nlp.meta import MetaTrainer

    classifier = FewShotClassifier(tiny_encoder, WORDS)
    settings = SelfTrainingArguments(**{**vars(FEW), "steps": 4, "rounds": 2, "checkpoint_every": 1})
    whole = classifier.self_train(TEXTS, settings)
    real_step, calls = MetaTrainer.train_step, []

    def interrupted_in_round_two(self, step):
        calls.append(step)
        if len(calls) == 6:  # the second step of the second round
            raise KeyboardInterrupt
        return real_step(self, step)

    monkeypatch.setattr(MetaTrainer, "train_step", interrupted_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        classifier.self_train(TEXTS, settings, output_dir=tmp_path / "run")
    monkeypatch.setattr(MetaTrainer, "train_step", real_step)
    resumed = classifier.self_train(TEXTS, settings, output_dir=tmp_path / "run")
    assert torch.allclose(resumed.decision_function(TEXTS), whole.decision_function(TEXTS), atol=1e-5)
    with pytest.raises(ValueError, match="holds a self-training run of other texts"):
        classifier.self_train(TEXTS[:-1], settings, output_dir=tmp_path / "run")


def test_self_training_refuses_what_it_cannot_do(tiny_encoder):
    with_examples = FewShotClassifier(tiny_encoder, WORDS).add_examples(["card now"], ["card"])
    with pytest.raises(ValueError, match="examples=\\(example_texts, example_labels\\)"):
        with_examples.self_train(TEXTS, FEW)
    with pytest.raises(ValueError, match="example label 'weather' has no label text"):
        FewShotClassifier(tiny_encoder, WORDS).self_train(TEXTS, FEW, examples=(["rain"], ["weather"]))
    with pytest.raises(ValueError, match="every unlabelled text is one of the examples"):
        FewShotClassifier(tiny_encoder, WORDS).self_train(TEXTS[:2], FEW, examples=(TEXTS[:2], ["card", "card"]))
    with pytest.raises(ValueError, match="must be a pair"):
        FewShotClassifier(tiny_encoder, WORDS).self_train(TEXTS, FEW, examples=["card now"])
    with pytest.raises(ValueError, match="got 1 texts but 2 labels"):
        FewShotClassifier(tiny_encoder, WORDS).self_train(TEXTS, FEW, examples=(["card now"], ["card", "cancel"]))
    with pytest.raises(ValueError, match="multi_label"):
        FewShotClassifier(tiny_encoder, WORDS, multi_label=True).self_train(TEXTS, FEW)
    with pytest.raises(ValueError, match="more unlabelled texts"):
        FewShotClassifier(tiny_encoder, WORDS).self_train(TEXTS[:3], FEW)
    with pytest.raises(ValueError, match="per_class=2 must be >= the largest shot"):
        SelfTrainingArguments(per_class=2)
    with pytest.raises(ValueError, match="learning_rate=0"):
        SelfTrainingArguments(learning_rate=0)


def test_a_round_that_labels_too_few_classes_ends_the_run_with_a_warning(tiny_encoder, monkeypatch):
    import fewshot_nlp.self_training as self_training

    real, calls = self_training._pseudo_labelled, []

    def second_round_finds_one_class(*args):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("only 1 classes were predicted")
        return real(*args)

    monkeypatch.setattr(self_training, "_pseudo_labelled", second_round_finds_one_class)
    with pytest.warns(UserWarning, match="self-training stopped after round 1: only 1 classes"):
        adapted = FewShotClassifier(tiny_encoder, WORDS).self_train(
            TEXTS, SelfTrainingArguments(**{**vars(FEW), "rounds": 3})
        )
    assert len(adapted.self_training["rounds_run"]) == 1 and len(calls) == 2


def test_an_out_of_scope_threshold_of_the_old_encoder_is_not_carried_over(tiny_encoder):
    classifier = FewShotClassifier(tiny_encoder, WORDS, oos_threshold=0.3)
    with pytest.warns(UserWarning, match="call calibrate_oos on it again"):
        adapted = classifier.self_train(TEXTS, FEW)
    assert adapted.oos_threshold is None and classifier.oos_threshold == 0.3


def test_examples_guide_the_labelling_join_the_training_and_stay_in_the_copy(tiny_encoder, monkeypatch):
    import fewshot_nlp.self_training as self_training

    trained_on, real_train = [], self_training._train

    def recording(encoder, pseudo, *args):
        trained_on.append({c: list(texts) for c, texts in pseudo.by_class.items()})
        return real_train(encoder, pseudo, *args)

    monkeypatch.setattr(self_training, "_train", recording)
    guessed, real_guess = [], self_training.pseudo_label

    def recording_guess(classifier, texts, per_class):
        guessed.append((int(classifier.head.example_count.sum()), list(texts)))
        return real_guess(classifier, texts, per_class)

    monkeypatch.setattr(self_training, "pseudo_label", recording_guess)
    example_texts = ["card please 0", "balance due", "lost my card", "card gone", "cancel it", "stop it"]
    example_labels = ["balance", "balance", "card", "card", "cancel", "cancel"]
    two = SelfTrainingArguments(**{**vars(FEW), "shot": [1, 1], "query": 1})  # two examples fill an episode
    classifier = FewShotClassifier(tiny_encoder, WORDS)
    adapted = classifier.self_train(TEXTS, two, examples=(example_texts, example_labels))
    # the guesses come from the label texts and the six examples, never of an example's own text
    assert guessed == [(6, [t for t in TEXTS if t != "card please 0"])]
    # each example is trained on under its own label, once
    assert all(trained_on[0][label].count(text) == 1 for text, label in zip(example_texts, example_labels))
    assert sum(texts.count("card please 0") for texts in trained_on[0].values()) == 1
    # the copy holds the examples, embedded by the trained encoder; the original holds none
    counts = dict(zip(adapted.classes_, adapted.head.example_count.tolist()))
    assert counts == {"card": 2, "cancel": 2, "balance": 2, "password": 0}
    balance = adapted.classes_.index("balance")
    embedded = adapted.encoder.encode(["card please 0", "balance due"])
    weight = adapted.prior_weight_  # the label text's weight, chosen from the examples
    expected = (embedded.sum(0) + weight * adapted.head.description[balance]) / (2 + weight)
    assert torch.allclose(adapted.head.class_vectors()[balance], expected, atol=1e-5)
    assert int(classifier.head.example_count.sum()) == 0 and adapted.self_training["examples"] == 6


def test_cloze_episodes_of_self_training_are_made_of_every_unlabelled_text(tiny_encoder, monkeypatch):
    from conftest import made_up_texts

    from fewshot_nlp.meta import MetaTrainer

    texts = TEXTS + made_up_texts()  # 2,000 texts of made-up words: no label text is near them
    real, drawn = MetaTrainer.episodes_for_step, []

    def recorded(self, step):
        episodes = real(self, step)
        drawn.extend(episodes)
        return episodes

    monkeypatch.setattr(MetaTrainer, "episodes_for_step", recorded)
    settings = SelfTrainingArguments(**{**vars(FEW), "steps": 20, "cloze_fraction": 0.5})
    FewShotClassifier(tiny_encoder, WORDS).self_train(texts, settings)
    cloze = [e for e in drawn if not set(e.classes) <= set(WORDS)]
    assert 0.3 < len(cloze) / len(drawn) < 0.7
    sources = {t.replace("[MASK]", label) for e in cloze for t, label in zip(e.query_texts, e.query_labels)}
    # made of the unlabelled texts, far more of them than the 20 (5 per class) that were pseudo-labelled
    assert sources <= set(texts) and len(sources) > 40
