"""Head maths against hand-computed values, and head save/load."""

import json

import pytest
import torch

from fewshot_nlp import LabelDescriptionHead, PrototypeHead
from fewshot_nlp.heads import label_to_phrase

E = torch.eye(3)  # three orthonormal "embeddings"


def test_prototypes_are_class_means():
    head = PrototypeHead(3, metric="euclidean", temperature=1.0)
    idx = head.add_classes(["a", "b", "a"])
    assert idx == [0, 1, 0]
    head.add_examples(torch.stack([E[0], E[1], E[2]]), idx)
    expected = torch.tensor([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])
    assert torch.allclose(head.class_vectors(), expected)


def test_euclidean_scores_by_hand():
    head = PrototypeHead(3, metric="euclidean", temperature=2.0)
    head.add_examples(torch.stack([E[0], E[1]]), head.add_classes(["a", "b"]))
    x = torch.tensor([[1.0, 2.0, 0.0]])
    # |x-a|^2 = 0 + 4 + 0 = 4 ; |x-b|^2 = 1 + 1 + 0 = 2
    assert torch.allclose(head.scores(x), torch.tensor([[-4.0, -2.0]]))
    assert torch.allclose(head(x), torch.tensor([[-2.0, -1.0]]))  # divided by the temperature


def test_cosine_scores_by_hand():
    head = PrototypeHead(3, metric="cosine", temperature=0.5)
    head.add_examples(torch.stack([E[0], 2 * E[1]]), head.add_classes(["a", "b"]))
    x = torch.tensor([[3.0, 4.0, 0.0]])  # unit vector (0.6, 0.8, 0)
    assert torch.allclose(head.scores(x), torch.tensor([[0.6, 0.8]]))
    assert torch.allclose(head(x), torch.tensor([[1.2, 1.6]]))


def test_description_prior_formula():
    # c = (sum of K examples + lambda * d) / (K + lambda) with K=2, lambda=2
    head = PrototypeHead(3, prior_weight=2.0)
    idx = head.add_classes(["a"])
    head.add_examples(torch.stack([E[0], E[1]]), [0, 0])
    head.set_descriptions(E[2][None], idx)
    assert torch.allclose(head.class_vectors(), torch.tensor([[0.25, 0.25, 0.5]]))


def test_class_with_only_a_description_is_its_description():
    head = PrototypeHead(3, prior_weight=0.0)  # even with lambda = 0
    head.add_examples(E[0][None], head.add_classes(["a"]))
    head.set_descriptions(E[1][None], head.add_classes(["b"]))
    assert torch.allclose(head.class_vectors(), torch.stack([E[0], E[1]]))


def test_prior_weight_zero_ignores_descriptions_once_examples_exist():
    head = PrototypeHead(3, prior_weight=0.0)
    idx = head.add_classes(["a"])
    head.add_examples(E[0][None], idx)
    head.set_descriptions(E[1][None], idx)
    assert torch.allclose(head.class_vectors(), E[0][None])


def test_leave_one_out_scores():
    head = PrototypeHead(3, metric="euclidean", temperature=1.0)
    idx = head.add_classes(["a", "a", "b"])
    x = torch.stack([E[0], E[1], E[2]])
    head.add_examples(x, idx)
    scores = head.leave_one_out_scores(x, idx)
    # example 0 against class a without it = E[1]: -|E0 - E1|^2 = -2 ; class b untouched: -2
    assert torch.allclose(scores[0], torch.tensor([-2.0, -2.0]))
    # the only example of b, with no description: nothing left to compare with
    assert torch.isnan(scores[2, 1])
    assert scores[2, 0] == pytest.approx(-(0.25 + 0.25 + 1.0))


def test_empty_class_is_an_error_naming_it():
    head = PrototypeHead(3)
    head.add_classes(["a", "ghost"])
    head.add_examples(E[0][None], [0])
    assert head.empty_classes == ["ghost"]
    with pytest.raises(ValueError, match="ghost"):
        head.class_vectors()


def test_clear_examples_keeps_described_classes_only():
    head = PrototypeHead(3)
    head.add_examples(torch.stack([E[0], E[1]]), head.add_classes(["a", "b"]))
    head.set_descriptions(E[2][None], head.add_classes(["b"]))
    head.clear_examples()
    assert head.classes == ["b"]
    assert head.example_count.tolist() == [0.0]
    assert torch.allclose(head.class_vectors(), E[2][None])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"metric": "manhattan"}, "manhattan"), ({"temperature": 0}, "temperature"), ({"prior_weight": -1}, "prior")],
)
def test_bad_head_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PrototypeHead(3, **kwargs)


def test_wrong_embedding_size_is_refused():
    head = PrototypeHead(3)
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        head.add_examples(torch.ones(1, 4), head.add_classes(["a"]))


class _WordEncoder:
    """Embeds a text as its known word's one-hot vector (enough to check which text is embedded)."""

    embedding_dim = 3
    words = ("alpha", "beta", "gamma")

    def __init__(self):
        self.seen = []

    def encode(self, texts):
        self.seen += list(texts)
        return torch.stack([E[[w in t for w in self.words].index(True)] for t in texts])


def test_label_description_head_uses_descriptions_or_template():
    encoder = _WordEncoder()
    head = LabelDescriptionHead.from_labels(encoder, {"x_alpha": None, "y": "about gamma things"}, template="A {}.")
    assert encoder.seen == ["A x alpha.", "about gamma things"]
    assert torch.allclose(head.class_vectors(), torch.stack([E[0], E[2]]))
    assert head.descriptions == [["x_alpha", "A x alpha."], ["y", "about gamma things"]]


def test_template_must_have_a_slot():
    with pytest.raises(ValueError, match="{}"):
        LabelDescriptionHead(3, template="no slot")


def test_label_to_phrase():
    assert label_to_phrase("card_arrival") == "card arrival"
    assert label_to_phrase("top-up__limits") == "top up limits"


def test_head_save_load_round_trip(tmp_path):
    head = LabelDescriptionHead.from_labels(_WordEncoder(), ["alpha", "beta"], metric="euclidean", temperature=0.2)
    head.add_examples(torch.stack([E[1], E[2]]), head.add_classes(["alpha", 7]))
    head.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.safetensors", "head_config.json"]
    assert json.loads((tmp_path / "head_config.json").read_text())["type"] == "LabelDescriptionHead"
    loaded = PrototypeHead.load(tmp_path)
    assert type(loaded) is LabelDescriptionHead
    assert loaded.classes == ["alpha", "beta", 7]
    assert loaded.get_config() == head.get_config()
    x = torch.randn(4, 3)
    assert torch.equal(loaded(x), head(x))


def test_head_load_refuses_a_foreign_folder(tmp_path):
    with pytest.raises(ValueError, match="head_config.json"):
        PrototypeHead.load(tmp_path)
