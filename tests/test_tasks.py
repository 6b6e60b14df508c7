"""Task sets, class-disjoint splits and episodes on small in-test data."""

import pytest

from fewshot_nlp import ClassificationTaskSet, EpisodeSampler, load_task_set
from fewshot_nlp.tasks import load_episodes, read_label_descriptions, save_episodes


def _task_set(classes=6, per_class=8):
    texts = [f"text {c} number {i}" for c in range(classes) for i in range(per_class)]
    labels = [f"class{c}" for c in range(classes) for _ in range(per_class)]
    return ClassificationTaskSet(texts, labels, name="toy")


def test_task_set_groups_rows_by_class():
    ts = ClassificationTaskSet(["a", "b", "a", "c"], ["x", "y", "x", "x"])
    assert ts.by_class == {"x": ["a", "a", "c"], "y": ["b"]}
    assert len(ts) == 4 and ts.classes == ["x", "y"]


def test_conflicting_labels_name_the_text_or_warn():
    with pytest.raises(ValueError, match="'a' is 'x' and 'y'"):
        ClassificationTaskSet(["a", "a"], ["x", "y"])
    with pytest.warns(UserWarning, match="kept under both labels"):
        ts = ClassificationTaskSet(["a", "a", "b"], ["x", "y", "y"], conflicts="warn")
    assert ts.by_class == {"x": ["a"], "y": ["a", "b"]}


def test_duplicated_texts_never_sit_in_support_and_query():
    ts = ClassificationTaskSet(["a", "a", "a", "b", "c", "d"], ["x", "x", "x", "x", "y", "y"])
    for episode in EpisodeSampler(ts, way=2, shot=1, query=1).sample(20):
        assert not set(episode.support_texts) & set(episode.query_texts)


def test_from_csv_and_bad_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sentence,intent\nhello,greet\nbye,leave\n")
    ts = ClassificationTaskSet.from_csv(path, text_column="sentence", label_column="intent")
    assert ts.classes == ["greet", "leave"] and ts.name == "d"
    with pytest.raises(ValueError, match=r"column 'text' not found; columns are \['sentence', 'intent'\]"):
        ClassificationTaskSet.from_csv(path)
    assert load_task_set(str(path), text_column="sentence", label_column="intent").classes == ["greet", "leave"]
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        ClassificationTaskSet.from_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(ValueError, match="no rows"):
        ClassificationTaskSet.from_csv(tmp_path / "empty.csv")


def test_unknown_task_set_name():
    with pytest.raises(ValueError, match="unknown task set 'nope'.*banking77"):
        load_task_set("nope")


def test_missing_data_root_says_how_to_point_at_data(monkeypatch):
    monkeypatch.delenv("FEWSHOT_NLP_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="FEWSHOT_NLP_DATA"):
        load_task_set("clinc150")


def test_class_split_is_disjoint_complete_and_seeded():
    ts = _task_set(classes=10)
    split = ts.split_classes((0.6, 0.2, 0.2), seed=3)
    parts = [set(v) for v in split.values()]
    assert sum(map(len, parts)) == 10 and set.union(*parts) == set(ts.classes)
    assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert split == ts.split_classes((0.6, 0.2, 0.2), seed=3)
    assert split != ts.split_classes((0.6, 0.2, 0.2), seed=4)
    with pytest.raises(ValueError, match="summing to 1"):
        ts.split_classes((0.5, 0.2, 0.2))


def test_episodes_shape_and_no_query_in_support():
    sampler = EpisodeSampler(_task_set(), way=3, shot=2, query=4, seed=1)
    episode = sampler.episode(0)
    assert episode.way == 3 and len(episode.support_texts) == 6 and len(episode.query_texts) == 12
    assert set(episode.support_labels) == set(episode.query_labels) == set(episode.classes)
    assert not set(episode.support_texts) & set(episode.query_texts)


def test_episodes_are_reproducible_from_seed_and_index():
    a = EpisodeSampler(_task_set(), way=3, shot=2, query=4, seed=1)
    b = EpisodeSampler(_task_set(), way=3, shot=2, query=4, seed=1)
    assert a.episode(5) == b.episode(5)
    assert a.sample(3, start=2) == [b.episode(i) for i in (2, 3, 4)]
    assert a.episode(5) != a.episode(6)
    assert EpisodeSampler(_task_set(), way=3, shot=2, query=4, seed=2).episode(5) != a.episode(5)


def test_all_way_episodes():
    episode = EpisodeSampler(_task_set(), way=None, shot=1, query=1).episode(0)
    assert episode.way == 6


def test_small_classes_skip_with_warning_or_error():
    ts = ClassificationTaskSet([f"t{i}" for i in range(12)] + ["lonely"], ["a"] * 6 + ["b"] * 6 + ["c"], name="toy")
    with pytest.warns(UserWarning, match="skipping 1 classes"):
        sampler = EpisodeSampler(ts, way=2, shot=2, query=2)
    assert sampler.classes == ["a", "b"]
    with pytest.raises(ValueError, match=r"\['c'\]"):
        EpisodeSampler(ts, way=2, shot=2, query=2, too_small="error")
    with pytest.raises(ValueError, match="way=5"), pytest.warns(UserWarning):
        EpisodeSampler(ts, way=5, shot=2, query=2)


def test_episode_json_round_trip(tmp_path):
    episodes = EpisodeSampler(_task_set(), way=3, shot=2, query=2, seed=7).sample(4)
    save_episodes(episodes, tmp_path / "episodes.json")
    assert load_episodes(tmp_path / "episodes.json") == episodes
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_episodes(tmp_path / "bad.json")


def test_label_descriptions_from_yaml(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("refund: wants money back\ndelivery: when the parcel arrives\n")
    assert read_label_descriptions(path) == {"refund": "wants money back", "delivery": "when the parcel arrives"}
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="must map label -> description"):
        read_label_descriptions(path)
    path.write_text("a: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        read_label_descriptions(path)
