"""The fewshot-nlp command: predict / evaluate / tasks on a tiny model, quickstart on MiniLM."""

import csv
import json
import subprocess
import sys

import pytest

from fewshot_nlp import FewShotClassifier
from fewshot_nlp.cli import main

EXAMPLES = "text,label\nmy card never arrived,card\nplease cancel my order,cancel\nwhat is my account balance,balance\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "examples.csv").write_text(EXAMPLES)
    (tmp_path / "labels.yaml").write_text("greeting: hello there how are you\n")
    (tmp_path / "texts.txt").write_text("my card never arrived\nhello there how are you\n\nplease cancel my order\n")
    return tmp_path


def test_predict_to_csv_and_save(files, tiny_model_dir, capsys):
    out, saved = files / "pred.csv", files / "model"
    args = ["predict", str(files / "texts.txt"), "--encoder", str(tiny_model_dir), "--examples"]
    args += [str(files / "examples.csv"), "--labels", str(files / "labels.yaml"), "-o", str(out), "--save", str(saved)]
    assert main(args) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["label"] for r in rows] == ["card", "greeting", "cancel"]  # each text is an example/description
    assert all(r["label"] == r["nearest_label"] and r["out_of_scope"] == "False" for r in rows)
    assert all(0 < float(r["nearest_probability"]) <= 1 and r["oos_threshold"] == "" for r in rows)
    assert "wrote 3 predictions" in capsys.readouterr().out
    assert FewShotClassifier.from_pretrained(saved).classes_ == ["greeting", "card", "cancel", "balance"]


def test_predict_with_saved_model_to_jsonl(files, tiny_encoder):
    FewShotClassifier(tiny_encoder).fit(
        ["my card never arrived", "please cancel my order"], ["card", "cancel"]
    ).save_pretrained(files / "model")
    (files / "texts.csv").write_text("sentence\nplease cancel my order\n")
    out = files / "pred.jsonl"
    args = ["predict", str(files / "texts.csv"), "--text-column", "sentence", "--model", str(files / "model")]
    assert main([*args, "-o", str(out)]) == 0
    assert [json.loads(line)["label"] for line in out.read_text().splitlines()] == ["cancel"]


def test_predict_self_trains_on_the_input_texts_before_classifying(files, tiny_model_dir, capsys):
    words = ["card", "cancel", "balance", "password"]
    (files / "many.txt").write_text("".join(f"{w} {f} {i}\n" for w in words for i, f in enumerate("abcdefgh")))
    (files / "four.yaml").write_text("".join(f"{w}: {w}\n" for w in words))
    out, saved = files / "pred.csv", files / "model"
    args = ["predict", str(files / "many.txt"), "--encoder", str(tiny_model_dir), "--labels", str(files / "four.yaml")]
    assert main([*args, "--self-train", "-o", str(out), "--save", str(saved)]) == 0
    assert len(list(csv.DictReader(out.open()))) == 32
    record = FewShotClassifier.from_pretrained(saved).self_training
    assert record["texts"] == 32 and record["steps"] == 100 and record["examples"] == 0
    assert main(["predict", str(files / "texts.txt"), "--model", str(saved), "--self-train"]) == 2
    assert "--self-train builds a new classifier from --labels" in capsys.readouterr().err


def test_predict_self_trains_with_the_examples_instead_of_fitting_them_after(files, tiny_model_dir, monkeypatch):
    calls = []

    def self_train(classifier, texts, args=None, output_dir=None, examples=None):
        calls.append((texts, examples))
        return classifier

    monkeypatch.setattr(FewShotClassifier, "self_train", self_train)
    monkeypatch.setattr(FewShotClassifier, "fit", lambda *a, **k: pytest.fail("examples fitted after self_train"))
    args = [
        "predict",
        str(files / "texts.txt"),
        "--encoder",
        str(tiny_model_dir),
        "--labels",
        str(files / "labels.yaml"),
    ]
    assert main([*args, "--examples", str(files / "examples.csv"), "--self-train", "-o", str(files / "p.csv")]) == 0
    rows = list(csv.DictReader(EXAMPLES.splitlines()))
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    assert calls == [(["my card never arrived", "hello there how are you", "please cancel my order"], (texts, labels))]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_predict_out_of_scope_rows_say_why(files, tiny_encoder, suffix, capsys):
    """A rejected row names the nearest label and its probability as such, with the score and the
    threshold; the same fields in CSV and JSONL, and the same decisions as the Python API."""
    classifier = FewShotClassifier(tiny_encoder).fit(
        ["my card never arrived", "please cancel my order"], ["card", "cancel"]
    )
    classifier.save_pretrained(files / "model")
    texts = (files / "texts.txt").read_text().split()
    scores = classifier.decision_function(texts).max(1).values
    threshold = float(scores.median())  # rejects some texts and keeps others
    out = files / f"pred{suffix}"
    args = ["predict", str(files / "texts.txt"), "--model", str(files / "model"), "--oos-threshold", str(threshold)]
    (files / "texts.txt").write_text("\n".join(texts))
    assert main([*args, "-o", str(out)]) == 0
    if suffix == ".csv":
        rows = list(csv.DictReader(out.open()))
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert list(rows[0]) == [
        "text",
        "label",
        "nearest_label",
        "nearest_probability",
        "score",
        "oos_threshold",
        "out_of_scope",
        "prior_weight",
    ]
    classifier.oos_threshold = threshold
    expected = classifier.explain(texts)
    rejected = [r for r in rows if str(r["out_of_scope"]) == "True"]
    assert 0 < len(rejected) < len(rows)
    assert f"({len(rejected)} out of scope)" in capsys.readouterr().out
    for row, truth in zip(rows, expected):
        assert row["label"] == truth.label and row["nearest_label"] == truth.nearest_label
        assert float(row["score"]) == pytest.approx(truth.score, abs=1e-5)
        assert float(row["oos_threshold"]) == pytest.approx(threshold)
        assert (row["label"] == "oos") == (str(row["out_of_scope"]) == "True") == (truth.score < threshold)


def _no_model_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs were checked")

    monkeypatch.setattr(FewShotClassifier, "from_pretrained", refuse)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["predict", "{d}/texts.txt"], "give --model FOLDER, or --examples CSV"),
        (["predict", "{d}/nope.txt", "--labels", "{d}/labels.yaml"], "input {d}/nope.txt: no such file"),
        (["predict", "{d}/texts.txt", "--examples", "{d}/nope.csv"], "--examples {d}/nope.csv: no such file"),
        (["predict", "{d}/texts.txt", "--examples", "{d}/bad.csv"], "has no column 'label'; its columns are"),
        (["predict", "{d}/texts.txt", "--labels", "{d}/list.yaml"], "must map each label to its description"),
        (["predict", "{d}/texts.txt", "--labels", "{d}/labels.yaml", "-o", "{d}/out.xlsx"], "use a .csv or .jsonl"),
        (["predict", "{d}/texts.txt", "--model", "{d}/no-such-model"], "no such model folder"),
        (["predict", "{d}/texts.txt", "--labels", "{d}/labels.yaml", "--unknown"], "unrecognized arguments: --unknown"),
        (["predict", "{d}/texts.txt", "--oos-threshold", "high"], "invalid float value: 'high'"),
        (["evaluate", "--tasks", "nope"], "unknown task set 'nope'; use one of"),
        (["evaluate", "--tasks", "{d}/examples.csv", "--way", "one"], "--way one: give a number of classes"),
        (["evaluate", "--tasks", "{d}/examples.csv", "--episodes", "0"], "--episodes 0: must be at least 1"),
        (["meta-train", "--config", "{d}/nope.yaml"], "--config {d}/nope.yaml: no such file"),
        (["meta-train", "steps"], "must look like key=value"),
        (["quickstart", "--data", "{d}/nowhere"], "--data {d}/nowhere: no such folder"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_usage_errors_are_one_line_exit_2_before_any_model(files, monkeypatch, capsys, arguments, message):
    (files / "bad.csv").write_text("text,intent\nhello,greeting\n")
    (files / "list.yaml").write_text("- card\n- cancel\n")
    _no_model_loading(monkeypatch)
    assert main([a.format(d=files) for a in arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message.format(d=files) in captured.err
    assert captured.err.count("\n") == 1 and captured.err.startswith("fewshot-nlp: error: ")


@pytest.mark.parametrize("verbose", [False, True])
def test_warnings_are_one_line_unless_verbose(files, verbose):
    """Run as a user runs it (a process of its own, no pytest warning capture)."""
    code = (
        "import sys, warnings; from fewshot_nlp import cli\n"
        "def warn(args):\n"
        "    warnings.warn('clinc150-all: 4 texts carry two labels; kept under both labels.')\n"
        "    return 0\n"
        "cli.tasks_info = warn\n"
        f"sys.exit(cli.main(['tasks', 'info', {str(files / 'examples.csv')!r}] + {['--verbose'] if verbose else []!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0
    if verbose:  # the whole warning, with where it came from
        assert result.stderr.startswith("<string>:3: UserWarning: clinc150-all")
    else:
        assert result.stderr == "warning: clinc150-all: 4 texts carry two labels; kept under both labels.\n"


def test_cli_checks_inputs_before_importing_torch(files):
    """Usage errors are answered before torch loads (the part of a start-up that takes seconds)."""
    code = (
        "import sys; from fewshot_nlp.cli import main; "
        f"rc = main(['predict', {str(files / 'nope.txt')!r}, '--labels', 'x.yaml']); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2 and "no such file" in result.stderr


def test_evaluate_and_tasks_info_on_a_csv(files, tiny_model_dir, capsys):
    rows = "\n".join(f"{word} number {i},{word}" for word in ("card", "cancel", "balance") for i in range(6))
    (files / "tasks.csv").write_text("text,label\n" + rows + "\n")
    assert main(["tasks", "info", str(files / "tasks.csv")]) == 0
    assert "classes: 3" in capsys.readouterr().out
    args = ["evaluate", "--model", str(tiny_model_dir), "--tasks", str(files / "tasks.csv")]
    assert main([*args, "--way", "3", "--shot", "2", "--query", "2", "--episodes", "4"]) == 0
    assert "3-way 2-shot, prototype: accuracy" in capsys.readouterr().out


def test_errors_exit_2_with_a_message(capsys, monkeypatch):
    monkeypatch.delenv("FEWSHOT_NLP_DATA", raising=False)
    _no_model_loading(monkeypatch)
    assert main(["tasks", "info", "clinc150"]) == 2
    assert "FEWSHOT_NLP_DATA" in capsys.readouterr().err


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "fewshot_nlp", "--help"], capture_output=True, text=True, check=True)
    assert "quickstart" in result.stdout and "predict" in result.stdout


@pytest.mark.slow
def test_quickstart_without_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    monkeypatch.delenv("FEWSHOT_NLP_DATA", raising=False)
    assert main(["quickstart"]) == 0
    out = capsys.readouterr().out
    assert "refund" in out and "delivery_time" in out
    assert "skipping the episodic evaluation" in out


@pytest.mark.slow
@pytest.mark.data
def test_quickstart_with_data(shared_data, capsys):
    assert main(["quickstart", "--data", str(shared_data), "--episodes", "20"]) == 0
    out = capsys.readouterr().out
    assert "5-way 5-shot, 20 episodes" in out and "95% CI" in out


@pytest.mark.slow
@pytest.mark.data
def test_tasks_info_on_real_data(shared_data, capsys):
    assert main(["tasks", "info", "clinc150", "--data", str(shared_data)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("warning: clinc150-all: 4 texts carry two labels") and err.count("\n") == 1
    assert "classes: 150" in out and "texts: 22500" in out and "class split: train 90, val 30, test 30" in out
    assert "group banking: 15 classes" in out
    assert main(["tasks", "info", "bible", "--data", str(shared_data)]) == 0
    assert "languages: 34" in capsys.readouterr().out
