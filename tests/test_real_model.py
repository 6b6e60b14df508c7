"""Real-model tests: the embedded all-MiniLM-L6-v2 on CLINC150 and BANKING77 from ../shared/data.

The floors catch a broken pipeline; they are not goals (a frozen MiniLM reaches about
0.99, 0.95 and 0.87 on these settings).
"""

import pytest

from fewshot_nlp import EpisodeSampler, FewShotClassifier, evaluate_episodes
from fewshot_nlp.tasks import read_banking77, read_clinc150

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.fixture(scope="module")
def clinc_test(shared_data):
    return read_clinc150(shared_data, split="test")


def test_real_corpus_sizes(shared_data):
    with pytest.warns(UserWarning, match="two labels"):
        clinc = read_clinc150(shared_data, include_oos=True)
    assert len(clinc) == 23_700
    in_scope = read_clinc150(shared_data)
    assert len(in_scope.classes) == 150 and len(in_scope) == 22_500
    assert len(in_scope.groups) == 10 and sum(map(len, in_scope.groups.values())) == 150
    banking = read_banking77(shared_data)
    assert len(banking.classes) == 77 and len(banking) == 13_083


def test_prototypes_5way_5shot(minilm, clinc_test):
    episodes = EpisodeSampler(clinc_test, way=5, shot=5, query=15, seed=0).sample(200)
    result = evaluate_episodes(lambda enc, ep: FewShotClassifier(enc), episodes, minilm, progress=False)
    assert result.episodes == 200
    assert result.accuracy >= 0.97, result
    # per-episode accuracies, in episode order, for paired comparisons of methods
    assert len(result.per_episode) == 200 and min(result.per_episode) < 1.0
    assert sum(result.per_episode) / 200 == pytest.approx(result.accuracy)


def test_zero_shot_from_label_names_5way(minilm, clinc_test):
    episodes = EpisodeSampler(clinc_test, way=5, shot=1, query=15, seed=1).sample(200)
    result = evaluate_episodes(
        lambda enc, ep: FewShotClassifier(enc, labels=ep.classes), episodes, minilm, use_support=False, progress=False
    )
    assert result.accuracy >= 0.90, result


def test_prototypes_150way_5shot(minilm, clinc_test):
    episodes = EpisodeSampler(clinc_test, way=None, shot=5, query=15, seed=2).sample(20)
    assert episodes[0].way == 150
    result = evaluate_episodes(lambda enc, ep: FewShotClassifier(enc), episodes, minilm, progress=False)
    assert result.accuracy >= 0.84, result


def test_oos_calibration_rejects_out_of_scope(minilm, shared_data):
    """Calibrated on CLINC150 val, the threshold must separate test in/out-of-scope far above chance."""
    import json

    data = json.loads((shared_data / "intents" / "clinc150" / "data_full.json").read_text())
    domain = {"balance", "transfer", "bill_due", "pay_bill", "freeze_account"}
    train = [(t, y) for y in sorted(domain) for t in [t for t, y2 in data["train"] if y2 == y][:10]]
    clf = FewShotClassifier(minilm).fit([t for t, _ in train], [y for _, y in train])
    val_in = [t for t, y in data["val"] if y in domain]
    clf.calibrate_oos(val_in, [t for t, _ in data["oos_val"]])
    test_in = [(t, y) for t, y in data["test"] if y in domain]
    test_out = [t for t, _ in data["oos_test"][:300]]
    kept = sum(p != "oos" for p in clf.predict([t for t, _ in test_in])) / len(test_in)
    rejected = sum(p == "oos" for p in clf.predict(test_out)) / len(test_out)
    assert (kept + rejected) / 2 >= 0.8, (kept, rejected)
