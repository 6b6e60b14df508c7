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
    assert all(0 < float(r["probability"]) <= 1 for r in rows)
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


def test_predict_bad_input_is_a_clear_error(files, capsys):
    with pytest.raises(SystemExit, match="give --model"):
        main(["predict", str(files / "texts.txt")])
    with pytest.raises(SystemExit, match="no such input file"):
        main(["predict", str(files / "nope.txt"), "--labels", str(files / "labels.yaml")])


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
    out = capsys.readouterr().out
    assert "classes: 150" in out and "texts: 22500" in out and "class split: train 90, val 30, test 30" in out
    assert "group banking: 15 classes" in out
    assert main(["tasks", "info", "bible", "--data", str(shared_data)]) == 0
    assert "languages: 34" in capsys.readouterr().out
