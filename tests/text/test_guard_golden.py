"""The faithfulness guard against sentences labelled by reading the analyses, never by running the guard
(tests/data/guard_golden: the labelling standard is its README). Floors at the measured figures
(bench/guard_golden.py, bench/RESULTS.md), so a change that lets more unsupported sentences through fails."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def judged(bench_script):
    g = bench_script("guard_golden")
    analyses, rows = g.load()
    return g, g.judge(analyses, rows)


def test_the_set_is_large_and_balanced_enough(judged):
    _, rows = judged
    dev = [r for r in rows if not r.get("held_out")]
    assert len(dev) >= 200 and len(rows) - len(dev) >= 80
    assert sum(r["label"] == "supported" for r in dev) >= 50
    assert {r["source"] for r in rows} == {"j2a-llm", "musiccaps-dev", "musiccaps-train"}


def test_guard_precision_and_recall_on_unsupported_sentences(judged):
    g, rows = judged
    dev = g.scores([r for r in rows if not r.get("held_out")])
    tuned = g.scores([r for r in rows if r.get("held_out") and r.get("batch", 1) in (1, 2)])
    fresh = g.scores([r for r in rows if r.get("held_out") and r.get("batch") == 3])
    assert dev["precision"] >= 0.95 and dev["recall"] >= 0.95, dev
    assert tuned["precision"] >= 0.95 and tuned["recall"] >= 0.95, tuned
    # never tuned on: measured 0.983 / 0.978 (targets 0.95 / 0.90); 0.995 / 0.984 after the weak-genre relabel (README)
    assert fresh["n"] >= 150 and fresh["precision"] >= 0.95 and fresh["recall"] >= 0.90, fresh


def test_every_held_out_batch_was_labelled_apart_from_the_guard(judged):
    """Each held-out batch names its reader's procedure in the README, and no sentence is in two batches."""
    _, rows = judged
    readme = (Path(__file__).parents[1] / "data" / "guard_golden" / "README.md").read_text()
    assert "Batch 2" in readme and "Batch 3" in readme and "Random(23)" in readme
    earlier = {r["sentence"] for r in rows if r.get("batch", 1) == 1}  # dev and batch 1 share 4 stock sentences
    second = {r["sentence"] for r in rows if r.get("batch") == 2}
    third = {r["sentence"] for r in rows if r.get("batch") == 3}
    assert len(second) >= 200 and len(third) >= 150
    assert not second & earlier and not third & (earlier | second)
