"""The faithfulness guard against sentences labelled by reading the analyses, never by running the guard
(tests/data/guard_golden: the labelling standard is its README). Floors at the measured figures
(bench/guard_golden.py, bench/RESULTS.md), so a change that lets more unsupported sentences through fails."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "guard_golden.py"


@pytest.fixture(scope="module")
def judged():
    spec = importlib.util.spec_from_file_location("guard_golden", BENCH)
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
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
    held = g.scores([r for r in rows if r.get("held_out")])
    assert dev["precision"] >= 0.95 and dev["recall"] >= 0.95, dev
    assert held["precision"] >= 0.95 and held["recall"] >= 0.85, held  # measured 1.000 / 0.894 (target 0.90)
