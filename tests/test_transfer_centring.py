"""bench/transfer.py's centring (``--variant centring``, once bench/transfer_centring.py) moves utterance embeddings
by the mean of the task's unlabelled texts and label embeddings only by the mean of the task's label embeddings, when
asked."""

import sys

import torch
from conftest import ROOT


class Rows:
    """A stand-in encoder: each text's embedding is fixed in advance."""

    embedding_dim, name_or_path = 2, "rows"

    def __init__(self, rows: dict):
        self.rows = rows

    def encode(self, texts, **_):
        return torch.stack([self.rows[t] for t in texts])


def test_utterances_and_label_texts_are_centred_each_by_their_own_mean():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from transfer import CentredEncoder
    finally:
        sys.path.remove(str(ROOT / "bench"))
    rows = {"refund": torch.tensor([1.0, 0.0]), "give me my money": torch.tensor([0.5, 2.0])}
    centred = CentredEncoder(Rows(rows), mean=torch.tensor([0.5, 1.0]), labels={"refund"})
    out = centred.encode(["give me my money", "refund"])
    assert torch.equal(out[0], torch.tensor([0.0, 1.0]))
    assert torch.equal(out[1], rows["refund"])
    both = CentredEncoder(Rows(rows), torch.tensor([0.5, 1.0]), {"refund"}, label_mean=torch.tensor([1.0, -1.0]))
    assert torch.equal(both.encode(["refund"])[0], torch.tensor([0.0, 1.0]))
