"""TranslationTaskSet readers (aligned files, TSV, JSONL, HF translation datasets, Bible XML)."""

import pytest

from fewshot_nlp.tasks import BibleSplit, TranslationTaskSet, read_bible, read_bible_file
from fewshot_nlp.tasks.bible import align_verses
from fewshot_nlp.tasks.translation import TranslationEpisode


def _bible(path, verses, lang="xx"):
    segs = "\n".join(f'<seg id="{i}" type="verse">\n  {t}\n</seg>' for i, t in verses)
    path.write_text(f'<?xml version="1.0" ?>\n<cesDoc><text><body lang="{lang}">{segs}</body></text></cesDoc>')
    return path


def test_aligned_files(tmp_path):
    (tmp_path / "src.txt").write_text("habari\n\nasante\n")
    (tmp_path / "tgt.txt").write_text("hello\nskipped\nthanks\n")
    ts = TranslationTaskSet.from_aligned_files(tmp_path / "src.txt", tmp_path / "tgt.txt", "swa")
    assert ts.pairs == {"swa": [("habari", "hello"), ("asante", "thanks")]}
    assert ts.ids["swa"] == ["1", "3"]
    (tmp_path / "short.txt").write_text("hello\n")
    with pytest.raises(ValueError, match="misaligned files.*3 lines.*1"):
        TranslationTaskSet.from_aligned_files(tmp_path / "src.txt", tmp_path / "short.txt", "swa")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        TranslationTaskSet.from_aligned_files(tmp_path / "empty.txt", tmp_path / "tgt.txt", "swa")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        TranslationTaskSet.from_aligned_files(tmp_path / "nope.txt", tmp_path / "tgt.txt", "swa")


def test_tsv_and_jsonl(tmp_path):
    (tmp_path / "p.tsv").write_text("habari\thello\nasante\tthanks\n")
    assert TranslationTaskSet.from_tsv(tmp_path / "p.tsv", "swa").pairs["swa"][1] == ("asante", "thanks")
    (tmp_path / "bad.tsv").write_text("habari\thello\nno tab here\n")
    with pytest.raises(ValueError, match="bad.tsv, line 2"):
        TranslationTaskSet.from_tsv(tmp_path / "bad.tsv", "swa")
    (tmp_path / "p.jsonl").write_text('{"sw": "habari", "en": "hello", "id": "v1"}\n')
    ts = TranslationTaskSet.from_jsonl(tmp_path / "p.jsonl", "swa", source_key="sw", target_key="en")
    assert ts.pairs["swa"] == [("habari", "hello")] and ts.ids["swa"] == ["v1"]
    with pytest.raises(ValueError, match=r"line 1: keys \['source', 'target'\] not found"):
        TranslationTaskSet.from_jsonl(tmp_path / "p.jsonl", "swa")


def test_hugging_face_translation_dataset():
    from datasets import Dataset

    data = Dataset.from_dict({"translation": [{"sw": "habari", "en": "hello"}, {"sw": "", "en": "x"}]})
    ts = TranslationTaskSet.from_hf_dataset(data, "sw", "en")
    assert ts.pairs == {"sw": [("habari", "hello")]} and ts.target_language == "en"
    with pytest.raises(ValueError, match=r"languages \['fr'\]"):
        TranslationTaskSet.from_hf_dataset(data, "fr", "en")
    with pytest.raises(ValueError, match="column 'pairs' not found"):
        TranslationTaskSet.from_hf_dataset(data, "sw", "en", column="pairs")


def test_bad_pairs():
    with pytest.raises(ValueError, match="no sentence pairs"):
        TranslationTaskSet({"swa": []})
    with pytest.raises(ValueError, match="pair 0"):
        TranslationTaskSet({"swa": [("only one side",)]})
    with pytest.raises(ValueError, match="no languages"):
        TranslationTaskSet({})


def test_episodes_hold_out_and_filter():
    ts = TranslationTaskSet(
        {"a": [(f"a{i}", f"e{i}") for i in range(10)], "b": [(f"b{i}", f"e{i}") for i in range(10)]},
        ids={"a": [f"b.ACT.1.{i}" for i in range(10)], "b": [f"b.MAT.1.{i}" for i in range(10)]},
    )
    episode = ts.episode("a", support=3, query=2, seed=1, index=4)
    assert len(episode.support) == 3 and len(episode.query) == 2
    assert not set(episode.support) & set(episode.query)
    assert episode == ts.episode("a", support=3, query=2, seed=1, index=4)
    assert episode != ts.episode("a", support=3, query=2, seed=1, index=5)
    assert TranslationEpisode.from_dict(episode.to_dict()) == episode
    with pytest.raises(ValueError, match="fewer than support\\+query=11"):
        ts.episode("a", support=10, query=1)
    rest, held = ts.hold_out(["b"])
    assert rest.languages == ["a"] and held.languages == ["b"]
    assert ts.filter_ids(lambda i: ".ACT." not in i).languages == ["b"]


def test_bible_reader_aligns_fixes_prefixed_chapters_and_drops_merged_verses(tmp_path):
    folder = tmp_path / "bible"
    folder.mkdir()
    english = [
        ("b.MAT.1.1", "one"),
        ("b.MAT.1.2", "two"),
        ("b.MAT.1.3", "three"),
        ("b.MAT.1.4", "four"),
        ("b.1CO.1.1", "c1"),
        ("b.1CO.2.1", "c2"),
        ("b.ACT.1.1", "acts"),
    ]
    _bible(folder / "English-KJV-NT.xml", english, "en")
    other = [
        ("b.MAT.1.1", "moja"),
        ("b.MAT.1.2", "mbili na tatu"),  # verses 2 and 3 merged: 3 is missing
        ("b.MAT.1.4", ""),  # empty: skipped
        ("b.1CO.11.1", "k1"),  # chapter ids carry the book's digit: 11 = chapter 1
        ("b.1CO.12.1", "k2"),
        ("b.ACT.1.1", "matendo"),
    ]
    _bible(folder / "Swahili-NT.xml", other)
    ts = read_bible(tmp_path)
    assert ts.languages == ["Swahili"]
    assert dict(zip(ts.ids["Swahili"], ts.pairs["Swahili"])) == {
        "b.MAT.1.1": ("moja", "one"),
        "b.1CO.1.1": ("k1", "c1"),
        "b.1CO.2.1": ("k2", "c2"),
        "b.ACT.1.1": ("matendo", "acts"),
    }
    assert "b.ACT.1.1" not in read_bible(tmp_path, exclude_books=["ACT"]).ids["Swahili"]
    with pytest.raises(ValueError, match="no Bible file for \\['Klingon'\\]"):
        read_bible(tmp_path, languages=["Klingon"])


def test_a_real_chapter_11_is_not_mistaken_for_a_prefix(tmp_path):
    verses = [(f"b.1CO.{c}.1", f"c{c}") for c in range(1, 17)]
    assert set(read_bible_file(_bible(tmp_path / "x.xml", verses))) == {v for v, _ in verses}


def test_malformed_bible_files(tmp_path):
    (tmp_path / "broken.xml").write_text("<cesDoc><seg id='b.MAT.1.1'>unclosed</cesDoc>")
    with pytest.raises(ValueError, match="broken.xml is not well-formed XML"):
        read_bible_file(tmp_path / "broken.xml")
    with pytest.raises(ValueError, match="'MAT-1-1' is not of the form"):
        read_bible_file(_bible(tmp_path / "ids.xml", [("MAT-1-1", "x")]))
    with pytest.raises(ValueError, match="holds no verses"):
        read_bible_file(_bible(tmp_path / "none.xml", [("b.MAT.1.1", " ")]))


def test_bible_split_parts():
    split = BibleSplit(held_out_books=["ACT"], meta_books=["REV"], dev_chapters=["JOH.21", "REV.22"])
    parts = [split.part(i) for i in ("b.ACT.1.1", "b.REV.1.1", "b.REV.22.3", "b.JOH.21.1", "b.JOH.20.1", "b.MAT.1.1")]
    assert parts == ["test", "meta", "dev", "dev", "base", "base"]
    split.check_books(["b.ACT.1.1", "b.REV.1.1", "b.JOH.1.1"])
    with pytest.raises(ValueError, match=r"books \['JOH'\] of this split are not in the corpus; its book codes are"):
        split.check_books(["b.ACT.1.1", "b.REV.1.1", "b.JHN.1.1"])
    with pytest.raises(ValueError, match=r"books \['ACT'\] are both held out and meta books"):
        BibleSplit(held_out_books=["ACT"], meta_books=["ACT"])
    with pytest.raises(ValueError, match="dev chapter 'John 21' must look like 'JOH.21'"):
        BibleSplit(held_out_books=["ACT"], dev_chapters=["John 21"])


def test_align_verses_keeps_only_shared_ids():
    assert align_verses({"b.A.1.1": "x", "b.A.1.9": "y"}, {"b.A.1.1": "X", "b.A.2.1": "Z"}) == [("b.A.1.1", "x", "X")]


@pytest.mark.slow
@pytest.mark.data
def test_every_bible_language_pairs_with_english(shared_data):
    from fewshot_nlp.tasks import bible_languages

    ts = read_bible(shared_data)
    assert len(ts.languages) == 34
    for language in ts.languages:
        in_file = len(read_bible_file(shared_data / "bible" / bible_languages(shared_data)[language]["file"]))
        if in_file > 7_100:
            assert len(ts.pairs[language]) > 7_000, language
        else:  # Camsa: its file holds only ~6,500 verses; nearly all of them must pair
            assert len(ts.pairs[language]) > 0.97 * in_file, language
