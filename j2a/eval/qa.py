"""Accuracy of answers to questions about music.

Why two rules: factual questions ("what is the tempo?", "is there a vocalist?") have one right answer,
so they are scored by exact match after SQuAD-style normalisation (case, punctuation, articles, number
words), with yes/no questions judged on the answer's first word. Open questions ("describe the
mood") have no single wording, so an answer is correct when it contains the question's keywords:
the item's own `keywords` (all of them), or else the content words of the reference answer that do not
echo the question (at least half of them, after normalising plurals). Both rules are transparent and need no model.

QA set: JSON list or JSONL of {id, question, answer, kind: "fact"|"open", keywords?: [...]}; items
without `kind` count as facts when the answer is at most three words. MU-LLaMA's MusicQA format
({audio_name, conversation: [human, gpt, ...]}) is read too (ids `{audio_name}#{n}`, kind "open").
Predictions: JSONL / JSON list of {id, answer|prediction}.
"""

from __future__ import annotations

import re
from pathlib import Path

from .captions import read_rows

_NUMBERS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
}
_ARTICLES = {"a", "an", "the"}
_STOP = _ARTICLES | set(
    """is are was were be been it its this that these those of in on at to for with and or but
by from as there here has have had do does did so very some any which what who how also into over their they
song track audio music piece clip sounds sound""".split()
)


def normalise(text: str) -> list[str]:
    """Lower-case, drop punctuation (keeping '#', '/' and '.' inside numbers: 'F#', '4/4', '7.5'),
    articles, and spell number words as digits."""
    t = str(text).lower().replace("\u2019", "'")
    t = re.sub(r"(?<!\d)[./]|[./](?!\d)", " ", t)
    t = re.sub(r"[^\w#/.\s-]", " ", t).replace("-", " ")
    return [_NUMBERS.get(w, w) for w in t.split() if w not in _ARTICLES]


def _stem(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def keywords(answer: str, question: str = "") -> list[str]:
    """Content words of the reference answer, minus those that merely echo the question."""
    echo = {_stem(w) for w in normalise(question)}
    return [w for w in dict.fromkeys(_stem(w) for w in normalise(answer) if w not in _STOP) if w not in echo]


def judge(item: dict, pred: str) -> dict:
    """{correct, kind, keyword_recall} for one answer."""
    gold, got = normalise(item["answer"]), normalise(pred)
    kind = item.get("kind") or ("fact" if len(gold) <= 3 else "open")
    if kind == "fact":
        if gold and gold[0] in ("yes", "no"):
            ok = bool(got) and got[0] == gold[0]
        else:
            ok = got == gold
        return {"kind": "fact", "correct": ok, "keyword_recall": None}
    given = item.get("keywords")
    kws = (
        [_stem(w) for k in given for w in normalise(k)] if given else keywords(item["answer"], item.get("question", ""))
    )
    have = {_stem(w) for w in got}
    recall = sum(k in have for k in kws) / len(kws) if kws else 0.0
    return {"kind": "open", "correct": recall == 1.0 if given else recall >= 0.5, "keyword_recall": recall}


def load_qa(path: str | Path) -> dict[str, dict]:
    items: dict[str, dict] = {}
    per_audio: dict[str, int] = {}
    for i, row in enumerate(read_rows(path), 1):
        if "conversation" in row:  # MusicQA
            conv, audio = row["conversation"], str(row.get("audio_name", i))
            for j in range(0, len(conv) - 1, 2):
                qid = f"{audio}#{per_audio.get(audio, 0)}"
                per_audio[audio] = per_audio.get(audio, 0) + 1
                items[qid] = {"id": qid, "question": conv[j]["value"], "answer": conv[j + 1]["value"], "kind": "open"}
            continue
        if not row.get("answer"):
            raise ValueError(f"{path}: row {i}: no `answer`")
        if row.get("kind") not in (None, "fact", "open"):
            raise ValueError(f"{path}: row {i}: kind must be 'fact' or 'open', not {row['kind']!r}")
        qid = str(row.get("id", i))
        if qid in items:
            raise ValueError(f"{path}: row {i}: duplicate id {qid!r}")
        items[qid] = row | {"id": qid}
    if not items:
        raise ValueError(f"{path}: no questions")
    return items


def load_answers(path: str | Path) -> dict[str, str]:
    out = {}
    for i, row in enumerate(read_rows(path), 1):
        if "id" not in row:
            raise ValueError(f"{path}: row {i}: no `id`")
        val = row.get("answer", row.get("prediction"))
        if val is None:
            raise ValueError(f"{path}: row {i}: no `answer` / `prediction`")
        out[str(row["id"])] = str(val)
    return out


def score_qa(qa: dict[str, dict], preds: dict[str, str]) -> dict:
    """Accuracy over answered questions (an unanswered question is counted as wrong and reported)."""
    rows = []
    for qid, item in qa.items():
        r = (
            judge(item, preds[qid])
            if qid in preds
            else {"kind": item.get("kind") or "fact", "correct": False, "keyword_recall": None}
        )
        rows.append({"id": qid, "answered": qid in preds, **r})

    def mean(xs):
        return sum(xs) / len(xs) if xs else None

    facts, opens = [r for r in rows if r["kind"] == "fact"], [r for r in rows if r["kind"] == "open"]
    return {
        "n": len(rows),
        "accuracy": mean([r["correct"] for r in rows]),
        "fact_accuracy": mean([r["correct"] for r in facts]),
        "open_accuracy": mean([r["correct"] for r in opens]),
        "keyword_recall": mean([r["keyword_recall"] for r in opens if r["keyword_recall"] is not None]),
        "n_fact": len(facts),
        "n_open": len(opens),
        "unanswered": sum(not r["answered"] for r in rows),
        "unknown_ids": len(set(preds) - set(qa)),
        "rows": rows,
    }
