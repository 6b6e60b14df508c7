"""Tuning at fit time: fit(..., tune=...) trains a copy of the encoder on the support set and the label texts."""

import pytest
import torch

from fewshot_nlp import FewShotClassifier, TuningArguments
from fewshot_nlp.tuning import tune_encoder

TEXTS = [f"{word} {i}" for word in ("card please", "cancel now", "balance check") for i in range(4)]
LABELS = [label for label in ("card", "cancel", "balance") for _ in range(4)]
LABEL_TEXTS = {"card": "my card", "cancel": "cancel the order", "balance": "how much money"}
QUICK = TuningArguments(steps=4, learning_rate=1e-3)


def _state(encoder):
    return {n: p.detach().clone() for n, p in encoder.model.state_dict().items()}


def test_tuning_changes_a_copy_lowers_the_support_loss_and_leaves_the_start_bit_identical(tiny_encoder):
    before = _state(tiny_encoder)
    clf = FewShotClassifier(tiny_encoder, LABEL_TEXTS).fit(TEXTS, LABELS, tune=QUICK)
    assert clf.encoder is not tiny_encoder
    assert all(torch.equal(p, before[n]) for n, p in tiny_encoder.model.state_dict().items())
    assert any(not torch.equal(p, before[n]) for n, p in clf.encoder.model.state_dict().items())
    record = clf.tuning
    assert record["steps"] == 4 and record["examples"] == 12 and record["label_weight"] == clf.prior_weight_
    assert record["support_loss_after"] < record["support_loss_before"]
    # the examples and the label texts are embedded by the tuned encoder
    card = clf.classes_.index("card")
    expected = torch.nn.functional.normalize(clf.encoder.encode(["my card"]), dim=-1)[0]
    assert torch.allclose(clf.head.description[card], expected, atol=1e-6)


def test_tune_encoder_without_label_texts_trains_on_prototypes(tiny_encoder):
    tuned, record = tune_encoder(tiny_encoder, TEXTS, LABELS, None, 1.0, "cosine", 0.05, QUICK)
    assert record["label_weight"] is None and record["support_loss_after"] < record["support_loss_before"]
    assert tuned.fully_trainable and tuned is not tiny_encoder


def test_a_new_fit_starts_from_the_untuned_encoder(tiny_encoder):
    clf = FewShotClassifier(tiny_encoder, LABEL_TEXTS).fit(TEXTS, LABELS, tune=QUICK)
    first = _state(clf.encoder)
    clf.fit(TEXTS, LABELS, tune=QUICK)  # the same examples again: the same tuned weights, not tuned twice
    assert all(torch.equal(p, first[n]) for n, p in clf.encoder.model.state_dict().items())
    clf.fit(TEXTS, LABELS)  # without tuning: the encoder it was built on, label texts embedded by it again
    assert clf.encoder is tiny_encoder and clf.tuning is None
    plain = FewShotClassifier(tiny_encoder, LABEL_TEXTS).fit(TEXTS, LABELS)
    assert torch.allclose(clf.predict_proba(TEXTS), plain.predict_proba(TEXTS), atol=1e-6)


def test_a_tuned_classifier_round_trips_through_save_and_load(tiny_encoder, tmp_path):
    clf = FewShotClassifier(tiny_encoder, LABEL_TEXTS).fit(TEXTS, LABELS, tune=QUICK)
    clf.save_pretrained(tmp_path / "tuned")
    again = FewShotClassifier.from_pretrained(tmp_path / "tuned")
    assert torch.allclose(again.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)
    assert again.tuning == clf.tuning and "tuned at fit time" in (tmp_path / "tuned" / "README.md").read_text()
    again.save_pretrained(tmp_path / "again")  # saved once more, it keeps its own weights
    third = FewShotClassifier.from_pretrained(tmp_path / "again")
    assert torch.allclose(third.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tune": "yes"}, "tune='yes' must be True, False or a TuningArguments"),
        ({"tune": True, "adapt_steps": 2}, "give tune or adapt_steps, not both"),
    ],
)
def test_bad_tuning_requests_are_refused_and_leave_the_classifier_as_it_was(tiny_encoder, options, message):
    clf = FewShotClassifier(tiny_encoder, LABEL_TEXTS)
    with pytest.raises(ValueError, match=message):
        clf.fit(TEXTS, LABELS, **options)
    assert clf.encoder is tiny_encoder and clf.tuning is None and not clf.head.example_count.any()


@pytest.mark.parametrize(
    ("field", "value"), [("steps", 0), ("learning_rate", 0.0), ("query_fraction", 1.0), ("zero_shot_fraction", 2)]
)
def test_bad_tuning_arguments_name_the_value(field, value):
    with pytest.raises(ValueError, match=f"{field}={value!r}"):
        TuningArguments(**{field: value})


def test_multi_label_classifiers_are_not_tuned(tiny_encoder):
    clf = FewShotClassifier(tiny_encoder, LABEL_TEXTS, multi_label=True)
    with pytest.raises(ValueError, match="single-label"):
        clf.fit(TEXTS, [[label] for label in LABELS], tune=True)


def test_with_auto_the_weight_is_chosen_on_the_untuned_embeddings_and_kept(tiny_encoder):
    untuned = FewShotClassifier(tiny_encoder, LABEL_TEXTS, prior_weight="auto").fit(TEXTS, LABELS)
    tuned = FewShotClassifier(tiny_encoder, LABEL_TEXTS, prior_weight="auto").fit(TEXTS, LABELS, tune=QUICK)
    assert tuned.prior_weight_ == untuned.prior_weight_ == tuned.tuning["label_weight"]
