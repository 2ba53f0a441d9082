"""`j2a eval qa`: exact match for facts, keyword match for open questions, on a small handmade set."""

from __future__ import annotations

import json

import pytest

from j2a.eval import qa

QA = [
    {"id": "t1", "question": "What is the tempo?", "answer": "120 BPM", "kind": "fact"},
    {"id": "t2", "question": "What key is it in?", "answer": "F# minor", "kind": "fact"},
    {"id": "t3", "question": "Is there a singer?", "answer": "No", "kind": "fact"},
    {"id": "t4", "question": "What is the time signature?", "answer": "3/4"},  # short: a fact
    {"id": "t5", "question": "How many beats per bar?", "answer": "three", "kind": "fact"},
    {
        "id": "o1",
        "question": "Describe the instruments.",
        "answer": "x",
        "kind": "open",
        "keywords": ["piano", "strings"],
    },
    {"id": "o2", "question": "What is the mood?", "answer": "The mood is calm, melancholic and reflective."},
]
ANSWERS = {
    "t1": "120 bpm.",  # right: case and punctuation do not matter
    "t2": "F# Minor",  # right: '#' is kept, so F minor would be wrong
    "t3": "No, it is instrumental",  # right: yes/no judged on the first word
    "t4": "4/4",  # wrong
    "t5": "3",  # right: number words are digits
    "o1": "A piano over soft string pads",  # right: both keywords (plural-insensitive)
    "o2": "A calm, bright piece",  # 1 of 3 content words (calm, melancholic, reflective): wrong
}


def test_judging_rules():
    items = {q["id"]: q for q in QA}
    got = {k: qa.judge(items[k], v)["correct"] for k, v in ANSWERS.items()}
    assert got == {"t1": True, "t2": True, "t3": True, "t4": False, "t5": True, "o1": True, "o2": False}
    assert qa.judge(items["t2"], "F minor")["correct"] is False
    assert qa.judge(items["t3"], "Yes")["correct"] is False
    assert qa.judge(items["t1"], "The tempo is 120 BPM")["correct"] is False  # exact, not containment
    assert qa.judge(items["o2"], "melancholic and calm")["keyword_recall"] == pytest.approx(2 / 3)
    assert qa.judge(items["o2"], "melancholic and calm")["correct"] is True
    assert qa.judge(items["o1"], "solo piano")["correct"] is False  # given keywords: all required


def test_score_and_cli(tmp_path, capsys):
    from j2a.cli import main

    (tmp_path / "qa.json").write_text(json.dumps(QA + [{"id": "u1", "question": "Tempo?", "answer": "slow"}]))
    (tmp_path / "a.jsonl").write_text(
        "".join(json.dumps({"id": k, "answer": v}) + "\n" for k, v in ANSWERS.items())
        + json.dumps({"id": "zz", "answer": "stray"})
        + "\n"
    )
    s = qa.score_qa(qa.load_qa(tmp_path / "qa.json"), qa.load_answers(tmp_path / "a.jsonl"))
    assert s["n"] == 8 and s["unanswered"] == 1 and s["unknown_ids"] == 1
    assert s["n_fact"] == 6 and s["n_open"] == 2
    assert s["accuracy"] == pytest.approx(5 / 8) and s["fact_accuracy"] == pytest.approx(4 / 6)
    assert s["open_accuracy"] == pytest.approx(1 / 2)
    out = tmp_path / "s.json"
    assert (
        main(
            ["eval", "qa", "--qa", str(tmp_path / "qa.json"), "--preds", str(tmp_path / "a.jsonl"), "--json", str(out)]
        )
        == 0
    )
    assert "accuracy 62.5" in capsys.readouterr().out
    assert json.loads(out.read_text())["accuracy"] == pytest.approx(0.625)


def test_musicqa_format_and_errors(captions_dir, tmp_path):
    items = qa.load_qa(captions_dir / "musicqa-eval.json")
    assert len(items) == 5040 and all(i["kind"] == "open" for i in items.values())
    first = items["012542.wav#0"]
    assert first["question"] == "Describe the audio" and "post-rock" in first["answer"]
    assert qa.judge(first, "An experimental post-rock track with electronic alternative rock sounds")["correct"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "1", "question": "q"}]))
    with pytest.raises(ValueError, match="bad.json: row 1: no `answer`"):
        qa.load_qa(bad)
    bad.write_text(json.dumps([{"id": "1", "question": "q", "answer": "a", "kind": "essay"}]))
    with pytest.raises(ValueError, match="kind must be"):
        qa.load_qa(bad)
