"""The adaptive mixture: fit chooses how much a label text weighs against the examples, from the support set."""

import pytest
import torch

from fewshot_nlp import FewShotClassifier, PrototypeHead

# Each example shares more with the other class's examples than with its own: left out of its class, it is
# misclassified by the examples alone, and classified by the label texts ("card" / "cancel").
CONFUSING = (
    ["card weather weather", "card refund refund", "cancel refund refund", "cancel weather weather"],
    ["a", "a", "b", "b"],
)
# Clean examples; the two label texts say the same thing, so they cannot tell the classes apart.
CLEAN = (["card", "card card", "card card card", "cancel", "cancel cancel", "cancel cancel cancel"], [*"aaabbb"])


def _classifier(encoder, labels, **options):
    return FewShotClassifier(encoder, labels, **{"prior_weight": "auto", **options})


def test_weight_moves_towards_the_label_texts_when_they_separate_the_support_set(keyword_encoder):
    clf = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}).fit(*CONFUSING)
    assert clf.prior_weight == "auto" and clf.prior_weight_ >= 16
    assert clf.predict(["card weather weather weather"]) == ["a"]
    fixed = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}, prior_weight=0).fit(*CONFUSING)
    assert fixed.prior_weight_ == 0  # a number is a setting, never changed by fit


def test_weight_moves_back_to_the_examples_when_the_label_texts_do_not_separate(keyword_encoder):
    clf = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}).fit(*CONFUSING)
    assert clf.prior_weight_ >= 16
    clf.add_labels({"a": "balance password", "b": "balance password"})  # label texts that say nothing
    clf.fit(*CLEAN)  # fitted again: chosen afresh
    assert clf.prior_weight_ <= 1 and clf.predict(["card card card card"]) == ["a"]


def test_one_example_per_class_keeps_weight_one_and_a_fixed_weight_is_never_changed(keyword_encoder):
    clf = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}).fit(*CONFUSING)
    assert clf.prior_weight_ > 1
    clf.fit(["card weather", "cancel weather"], ["a", "b"])  # nothing can be left out
    assert clf.prior_weight_ == 1.0
    fixed = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}, prior_weight=2.5).fit(*CONFUSING)
    assert fixed.prior_weight_ == 2.5 and fixed.explain(["card"])[0].prior_weight == 2.5


def test_the_choice_is_in_explain_survives_save_and_load_and_add_examples_chooses_again(keyword_encoder, tmp_path):
    clf = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}).fit(*CONFUSING)
    chosen = clf.prior_weight_
    assert clf.explain(["card"])[0].prior_weight == chosen
    clf.save_pretrained(tmp_path / "clf")
    head = PrototypeHead.load(tmp_path / "clf")
    assert head.prior_weight == chosen
    clf.add_examples(*CLEAN)  # many clean examples now: the label texts count for less
    assert clf.prior_weight_ < chosen


def test_save_and_load_keep_the_setting_and_the_weight(tiny_encoder, tmp_path):
    clf = FewShotClassifier(tiny_encoder, {"a": "card", "b": "cancel"}, prior_weight="auto").fit(*CONFUSING)
    clf.save_pretrained(tmp_path / "clf")
    again = FewShotClassifier.from_pretrained(tmp_path / "clf")
    assert again.prior_weight == "auto" and again.prior_weight_ == clf.prior_weight_
    assert torch.allclose(again.predict_proba(CLEAN[0]), clf.predict_proba(CLEAN[0]), atol=1e-6)
    fixed = FewShotClassifier.from_pretrained(tmp_path / "clf", prior_weight=3)
    assert fixed.prior_weight == 3 and fixed.prior_weight_ == 3.0


def test_multi_label_classifiers_choose_too(keyword_encoder):
    texts, labels = CONFUSING
    clf = _classifier(keyword_encoder, {"a": "card", "b": "cancel"}, multi_label=True)
    clf.fit(texts, [[label] for label in labels])
    assert clf.prior_weight_ >= 16 and clf.predict(["card weather weather weather"]) == [["a"]]


@pytest.mark.parametrize("bad", [-1, "sometimes", True, None])
def test_a_bad_prior_weight_names_itself_and_the_fix(keyword_encoder, bad):
    assert FewShotClassifier(keyword_encoder).prior_weight == 1.0  # the default: a fixed weight
    with pytest.raises(ValueError, match="prior_weight=.*'auto' or a number"):
        FewShotClassifier(keyword_encoder, prior_weight=bad)


def test_prior_weight_fit_is_empty_without_label_texts_or_with_one_example_per_class():
    head = PrototypeHead(3)
    index = head.add_classes(["a", "a", "b", "b"])
    head.add_examples(torch.eye(3)[[0, 0, 1, 1]], index)
    assert head.prior_weight_fit(torch.eye(3)[[0, 0, 1, 1]], index) == {}  # no label texts
    head.set_descriptions(torch.eye(3)[[0, 1]], [0, 1])
    assert set(head.prior_weight_fit(torch.eye(3)[[0, 0, 1, 1]], index)) == {
        0.0,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        64.0,
        1024.0,
    }
    single = PrototypeHead(3)
    one = single.add_classes(["a", "b"])
    single.add_examples(torch.eye(3)[[0, 1]], one)
    single.set_descriptions(torch.eye(3)[[0, 1]], one)
    assert single.prior_weight_fit(torch.eye(3)[[0, 1]], one) == {}
