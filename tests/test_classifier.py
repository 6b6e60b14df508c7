"""FewShotClassifier: every API path, multi-label, out-of-scope, and every bad input."""

import copy
import math

import pytest
import torch

from fewshot_nlp import FewShotClassifier

TEXTS = ["my card never came", "cancel it now", "what is my balance", "forgot my password"]
LABELS = ["card_arrival", "cancel", "balance", "password"]


@pytest.fixture
def clf(keyword_encoder):
    return FewShotClassifier(keyword_encoder).fit(TEXTS, LABELS)


def test_fit_predict_on_keywords(clf):
    assert clf.classes_ == LABELS
    assert clf.predict(["where is the card", "please cancel", "balance please", "password help"]) == LABELS
    assert clf.score(["where is the card", "please cancel"], ["card_arrival", "cancel"]) == 1.0


def test_predict_proba_rows_sum_to_one_in_classes_order(clf):
    proba = clf.predict_proba(["the card", "the balance and the card"])
    assert proba.shape == (2, 4)
    assert torch.allclose(proba.sum(1), torch.ones(2))
    assert proba[0].argmax().item() == clf.classes_.index("card_arrival")


def test_fit_on_tiny_transformer_recovers_its_support(tiny_encoder):
    clf = FewShotClassifier(tiny_encoder).fit(TEXTS, LABELS)
    assert clf.predict(TEXTS) == LABELS  # each text is its own class's only example


def test_fit_replaces_examples_but_keeps_descriptions(keyword_encoder):
    clf = FewShotClassifier(keyword_encoder, labels={"refund": "refund my money"})
    clf.fit(TEXTS, LABELS)
    clf.fit(TEXTS[:2], LABELS[:2])
    assert clf.classes_ == ["refund", "card_arrival", "cancel"]
    assert clf.predict(["i want a refund"]) == ["refund"]


def test_fit_from_dataset_with_class_labels(keyword_encoder):
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"utterance": Value("string"), "intent": ClassLabel(names=["card", "cancel"])})
    data = Dataset.from_dict({"utterance": ["card card", "cancel now"], "intent": [0, 1]}, features=features)
    clf = FewShotClassifier(keyword_encoder).fit(data, column_mapping={"utterance": "text", "intent": "label"})
    assert clf.classes_ == ["card", "cancel"]
    assert clf.predict(["my card"]) == ["card"]


def test_fit_from_dataframe(keyword_encoder):
    import pandas as pd

    frame = pd.DataFrame({"text": TEXTS, "label": LABELS})
    assert FewShotClassifier(keyword_encoder).fit(frame).classes_ == LABELS


def test_missing_column_lists_columns_and_shows_column_mapping(keyword_encoder):
    import pandas as pd

    frame = pd.DataFrame({"sentence": TEXTS, "intent": LABELS})
    with pytest.raises(ValueError, match=r"column 'text'.*\['sentence', 'intent'\].*column_mapping="):
        FewShotClassifier(keyword_encoder).fit(frame)
    with pytest.raises(ValueError, match="'nope'"):
        FewShotClassifier(keyword_encoder).fit(frame, column_mapping={"nope": "text", "intent": "label"})
    with pytest.raises(ValueError, match="'text' or 'label'"):
        FewShotClassifier(keyword_encoder).fit(frame, column_mapping={"sentence": "txt"})


def test_dataset_dict_asks_for_a_split(keyword_encoder):
    from datasets import Dataset, DatasetDict

    data = DatasetDict({"train": Dataset.from_dict({"text": TEXTS, "label": LABELS})})
    with pytest.raises(TypeError, match=r"data\['train'\]"):
        FewShotClassifier(keyword_encoder).fit(data)


def test_add_examples_encodes_only_the_new_texts(clf, keyword_encoder):
    keyword_encoder.calls.clear()
    clf.add_examples(["refund refund"], ["refund"])
    assert keyword_encoder.calls == [["refund refund"]]
    assert clf.classes_ == [*LABELS, "refund"]
    assert clf.head.example_count.tolist() == [1, 1, 1, 1, 1]
    clf.add_examples(["card lost"], ["card_arrival"])
    assert clf.head.example_count.tolist() == [2, 1, 1, 1, 1]


def test_add_labels_zero_shot_and_as_prior(clf, keyword_encoder):
    keyword_encoder.calls.clear()
    clf.add_labels({"refund": "refund please", "cancel": "cancel cancel"})
    assert keyword_encoder.calls == [["refund please", "cancel cancel"]]  # only the descriptions
    assert clf.predict(["refund me"]) == ["refund"]
    # "cancel" now has one example and a description (prior weight 1): its vector is their mean
    cancel = clf.classes_.index("cancel")
    expected = (keyword_encoder.encode(["cancel it now"]) + keyword_encoder.encode(["cancel cancel"])) / 2
    assert torch.allclose(clf.head.class_vectors()[cancel], expected[0])


def test_zero_shot_from_label_names_uses_the_template(keyword_encoder):
    clf = FewShotClassifier(keyword_encoder, labels=["card", "weather"], template="about {}")
    assert keyword_encoder.calls[-1] == ["about card", "about weather"]
    assert clf.predict(["the weather is nice", "lost my card"]) == ["weather", "card"]


def test_multi_label(keyword_encoder):
    clf = FewShotClassifier(keyword_encoder, multi_label=True)
    clf.fit(
        ["card", "card problem", "refund", "refund now", "card refund"],
        [["card"], "card", ["refund"], ["refund"], ["card", "refund"]],
    )
    assert clf.multi_label_center is not None
    predictions = clf.predict(["card and refund", "my card", "weather"])
    assert [sorted(p) for p in predictions[:2]] == [["card", "refund"], ["card"]]
    assert predictions[2] == []
    proba = clf.predict_proba(["card and refund"])
    assert (proba > 0.5).all() and not torch.allclose(proba.sum(1), torch.ones(1))
    assert clf.score(["card and refund", "my card"], [["refund", "card"], ["card"]]) == 1.0


def test_oos_threshold_and_calibration(clf):
    assert clf.predict(["the weather"]) != ["oos"]
    threshold = clf.calibrate_oos(["my card", "cancel please", "balance?"], ["weather", "nice weather"])
    assert clf.oos_threshold == threshold
    assert clf.predict(["weather today", "lost card"]) == ["oos", "card_arrival"]
    clf.oos_label = "none"
    assert clf.predict(["weather"]) == ["none"]


def test_explain_says_what_was_decided_and_why(clf):
    """A rejected text keeps its nearest label and that label's probability under their own
    names, beside the score and the threshold it missed; predict() agrees with explain()."""
    texts = ["weather today", "lost card"]
    before = clf.explain(texts)
    assert [p.label for p in before] == clf.predict(texts) and not any(p.out_of_scope for p in before)
    assert before[1].label == before[1].nearest_label == "card_arrival" and before[1].oos_threshold is None
    probabilities = clf.predict_proba(texts)
    assert before[1].nearest_probability == pytest.approx(probabilities[1].max().item())
    assert before[1].score == pytest.approx(clf.decision_function(texts)[1].max().item())

    clf.calibrate_oos(["my card", "cancel please", "balance?"], ["weather", "nice weather"])
    rejected, kept = clf.explain(texts)
    assert (rejected.label, rejected.out_of_scope) == ("oos", True)
    assert rejected.nearest_label in clf.classes_ and rejected.score < rejected.oos_threshold == clf.oos_threshold
    assert rejected.nearest_probability == pytest.approx(probabilities[0].max().item())
    assert (kept.label, kept.out_of_scope) == ("card_arrival", False) and kept.score >= kept.oos_threshold
    assert set(rejected.to_dict()) == {
        "text", "label", "nearest_label", "nearest_probability", "score", "oos_threshold", "out_of_scope",
        "prior_weight",
    }  # fmt: skip


def test_explain_multi_label(keyword_encoder):
    clf = FewShotClassifier(keyword_encoder, multi_label=True)
    clf.fit(["card", "card problem", "refund", "refund now"], ["card", "card", "refund", "refund"])
    (both,) = clf.explain(["card and refund"])
    assert sorted(both.label) == ["card", "refund"] and both.nearest_label in ("card", "refund")
    assert both.nearest_probability == pytest.approx(clf.predict_proba(["card and refund"]).max().item())


def test_best_threshold_maximises_balanced_accuracy():
    from fewshot_nlp.classifier import best_threshold

    t = best_threshold(torch.tensor([0.9, 0.8, 0.7, 0.35]), torch.tensor([0.1, 0.2, 0.4]))
    assert 0.4 < t <= 0.7  # accepts 0.7, 0.8, 0.9 and rejects all of the out-of-scope


BAD_TEXTS = [
    ([], ValueError, "empty"),
    (["ok", None], ValueError, r"texts\[1\] is None"),
    (["ok", float("nan")], ValueError, r"texts\[1\] is nan"),
    (["ok", "  "], ValueError, r"texts\[1\] is an empty string"),
    (["ok", 3], TypeError, r"texts\[1\] is int"),
    ("just one string", TypeError, "wrap it"),
]


@pytest.mark.parametrize("texts, error, message", BAD_TEXTS)
def test_bad_texts_in_fit_and_predict(clf, texts, error, message):
    labels = ["a", "b", "c"][: len(texts)] if isinstance(texts, list) else ["a"]
    with pytest.raises(error, match=message):
        FewShotClassifier(clf.encoder).fit(texts, labels)
    with pytest.raises(error, match=message):
        clf.predict(texts)


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (["a"], ValueError, "4 texts but 1 labels"),
        (["a", "b", None, "c"], ValueError, r"labels\[2\] is missing"),
        (["a", "b", 1.5, "c"], TypeError, r"labels\[2\] is float"),
        (["a", "b", "", "c"], ValueError, r"labels\[2\] is an empty string"),
        (["a", "a", "a", "a"], ValueError, "at least two labels"),
        (None, ValueError, "needs labels"),
    ],
)
def test_bad_labels(keyword_encoder, labels, error, message):
    with pytest.raises(error, match=message):
        FewShotClassifier(keyword_encoder).fit(TEXTS, labels)


def test_bad_label_descriptions(keyword_encoder):
    with pytest.raises(ValueError, match="description of label 'x'"):
        FewShotClassifier(keyword_encoder, labels={"x": ""})
    with pytest.raises(TypeError, match="not the string"):
        FewShotClassifier(keyword_encoder, labels="refund")
    with pytest.raises(ValueError, match="labels is empty"):
        FewShotClassifier(keyword_encoder, labels=[])


def test_predict_before_fit_says_what_to_do(keyword_encoder):
    with pytest.raises(ValueError, match=r"call fit\(texts, labels\)"):
        FewShotClassifier(keyword_encoder).predict(["hello"])


def test_failed_fit_leaves_the_classifier_as_it_was(clf):
    before_head = copy.deepcopy(clf.head)
    before = clf.predict_proba(["card", "balance"])
    for bad in ([["x", None], ["a", "b"]], [["x", "y"], ["a"]], [["x", "y"], ["a", "a"]]):
        with pytest.raises((ValueError, TypeError)):
            clf.fit(*bad)
    for bad in ([["x", None], ["a", "b"]], [["x", "y"], ["a"]], [["x", "y"], ["a", ["b"]]]):
        with pytest.raises((ValueError, TypeError)):
            clf.add_examples(*bad)
    with pytest.raises(ValueError):
        clf.add_labels({"new": ""})
    assert clf.classes_ == before_head.classes
    assert torch.equal(clf.predict_proba(["card", "balance"]), before)


def test_bad_threshold(keyword_encoder):
    with pytest.raises(ValueError, match="threshold=1.5"):
        FewShotClassifier(keyword_encoder, threshold=1.5)


def test_integer_labels_survive(keyword_encoder):
    clf = FewShotClassifier(keyword_encoder).fit(["card", "cancel"], [0, 1])
    assert clf.predict(["card!"]) == [0]
    assert not math.isnan(clf.score(["card"], [0]))
