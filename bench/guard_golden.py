"""The faithfulness guard against a golden set labelled by reading the analyses (tests/data/guard_golden).

Why: the guard's own tests check it against its own vocabulary, so they cannot catch a claim whose
words it does not know. Here each sentence was labelled supported / unsupported by a reader looking at
the analysis alone (the standard is in tests/data/guard_golden/README.md); the guard flags a sentence
when `check_claims` finds an unsupported claim in it (what `describe.guard` then cuts or rewrites).
Precision and recall are for the *unsupported* class: precision = flagged sentences that are truly
unsupported, recall = unsupported sentences that are flagged.

    python bench/guard_golden.py            # the table and every disagreement
    python bench/guard_golden.py --show     # what a labeller reads: each clip's analysis, in words
"""

from __future__ import annotations

import json
import sys

from _common import REPO  # noqa: E402  (and this checkout first on sys.path)

GOLDEN = REPO / "tests" / "data" / "guard_golden"


def load():
    from j2a.analysis import Analysis

    analyses = {k: Analysis.from_dict(v) for k, v in json.loads((GOLDEN / "analyses.json").read_text()).items()}
    rows = [
        json.loads(line)
        for name in ("sentences.jsonl", "heldout2.jsonl", "heldout3.jsonl")
        for line in (GOLDEN / name).read_text().splitlines()
        if line.strip()
    ]
    return analyses, rows


def judge(analyses, rows):
    """Each row with the guard's verdict: flagged (an unsupported claim found) and the claims it flags."""
    from j2a.text.claims import extract_claims
    from j2a.text.evidence import check_claims

    out = []
    for r in rows:
        uns = check_claims(extract_claims(r["sentence"]), analyses[r["clip"]])[1]
        out.append({**r, "flagged": bool(uns), "flags": [str(c) for c in uns]})
    return out


def scores(judged) -> dict:
    tp = sum(r["flagged"] and r["label"] == "unsupported" for r in judged)
    fp = sum(r["flagged"] and r["label"] == "supported" for r in judged)
    fn = sum(not r["flagged"] and r["label"] == "unsupported" for r in judged)
    return {
        "n": len(judged),
        "unsupported": tp + fn,
        "flagged": tp + fp,
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, tp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def reading_card(name: str, a) -> str:
    """One clip's analysis as a labeller reads it: measured facts, and every listed tag with its fused score,
    marked (weak) when it is below the score J2A states that group at (the taggers' calibration, not the guard)."""
    from j2a.features.fusion import calibration

    lines = [f"== {name}: {a.duration_s:.1f} s, is_music {a.is_music}"]
    if a.tempo:
        lines.append(
            f"tempo {a.tempo.bpm:.0f} BPM; meter {a.meter.label if a.meter else '?'}; "
            f"key {a.key.label if a.key else '?'}; loudness {a.loudness.integrated_lufs if a.loudness else '?'} LUFS"
        )
    if a.chords:
        lines.append("chords " + " ".join(c.label for c in a.chords.segments[:24]))
    if a.notes and a.notes.pitch_range:
        lines.append(
            f"notes: {a.notes.count}, lowest {a.notes.pitch_range['low']['name']}, "
            f"highest {a.notes.pitch_range['high']['name']}"
        )
    for group in ("instrument", "vocals", "genre", "mood", "sound"):
        tags = getattr(a.tags, group, None) or [] if a.tags else []
        words = [
            f"{t.label} {t.score:.2f}"
            + ("" if not t.sources or calibration().claimable(group, t.sources) else " (weak)")
            for t in sorted(tags, key=lambda t: -t.score)
        ]
        lines.append(f"{group}: {', '.join(words) or 'none listed'}")
    return "\n".join(lines)


def main() -> None:
    analyses, rows = load()
    if "--show" in sys.argv:
        print("\n\n".join(reading_card(k, a) for k, a in analyses.items()))
        return
    judged = judge(analyses, rows)
    lines = [
        "## Faithfulness guard on the golden set (tests/data/guard_golden)",
        "",
        "| source | sentences | unsupported (labels) | flagged by the guard | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    dev = [r for r in judged if not r.get("held_out")]

    def batch(b):
        return [r for r in judged if r.get("held_out") and r.get("batch", 1) == b]

    for name, subset in (
        ("J2A-LLM outputs", [r for r in dev if r["source"] == "j2a-llm"]),
        ("MusicCaps dev sentences", [r for r in dev if r["source"] != "j2a-llm"]),
        ("**development set**", dev),
        ("held-out batch 1 (MusicCaps train; tuned on after its first measure)", batch(1)),
        ("held-out batch 2 (second reader; tuned on after its first measure)", batch(2)),
        ("**held-out batch 3 (second reader; never tuned on)**", batch(3)),
        ("all", judged),
    ):
        s = scores(subset)
        lines.append(
            f"| {name} | {s['n']} | {s['unsupported']} | {s['flagged']} | {s['precision']:.3f} | {s['recall']:.3f} |"
        )
    lines += ["", "Flagged although labelled supported (false alarms):", ""]
    lines += [
        f"- [{r['id']}] {r['clip']}: {r['sentence']} — {r['flags']}"
        for r in judged
        if r["flagged"] and r["label"] == "supported"
    ] or ["- none"]
    lines += ["", "Labelled unsupported, not flagged (misses):", ""]
    lines += [
        f"- [{r['id']}] {r['clip']}: {r['sentence']}"
        for r in judged
        if not r["flagged"] and r["label"] == "unsupported"
    ] or ["- none"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
