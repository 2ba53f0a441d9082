"""Hand-made test inputs: an Analysis for the text tests (claims, guard, describe): tags as (label, score) pairs,
facts as plain values; one helper, so a field added to the Analysis is added here once. And the trainers' small
manifest of synthetic clips with known tempo, and the command line the CLI tests run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from j2a.analysis import Analysis

J2A = [sys.executable, "-m", "j2a.cli"]  # `j2a` as a user runs it, in this interpreter


def make_analysis(
    genre=(),
    instrument=(),
    mood=(),
    vocals=(),
    bpm=None,
    key=None,
    meter=None,
    meter_confidence=0.95,
    chords=(),
    low_note=None,
    is_music=True,
    reason="music",
    duration=30.0,
    chord_s=2.0,
    notes=(),
    voices=2.0,
) -> Analysis:
    """`notes`: (start, end, midi pitch) events; `low_note`: the lowest transcribed pitch (a bass register);
    `voices`: the notes sounding at once on average, overtones not counted (2: chords sound; 1: a single line)."""
    tags = {
        g: [{"label": lab, "score": s} for lab, s in v]
        for g, v in (("genre", genre), ("instrument", instrument), ("mood", mood), ("vocals", vocals))
    }
    tags["scores"] = {lab: s for v in (genre, instrument, mood, vocals) for lab, s in v}
    transcribed = None
    if notes or low_note:
        transcribed = {"count": len(notes) or 10, "voices": voices}
        if notes:
            transcribed["events"] = [{"start": s, "end": e, "pitch": p, "velocity": 0.8} for s, e, p in notes]
        if low_note:
            transcribed["pitch_range"] = {"low": {"midi": low_note, "name": "E1"}, "high": {"midi": 80, "name": "G#5"}}
    return Analysis.from_dict(
        {
            "file": "x.wav",
            "duration_s": duration,
            "is_music": is_music,
            "music": {"is_music": is_music, "confidence": 0.9, "reason": reason},
            "tags": tags if is_music else None,
            "tempo": {"bpm": bpm, "confidence": 0.8, "candidates": []} if bpm else None,
            "meter": {"label": meter, "beats_per_bar": beats_per_bar(meter), "confidence": meter_confidence}
            if meter
            else None,
            "key": {"label": key, "confidence": 0.7} if key else None,
            "chords": [{"start": chord_s * i, "end": chord_s * (i + 1), "label": c} for i, c in enumerate(chords)],
            "notes": transcribed,
        }
    )


def two_sections(**kw) -> Analysis:
    """60 s in two halves: Am-F with sparse low notes (one a second, A2), then C-G with busy high ones (four a
    second, E5) from 30 s; `kw` as make_analysis (tags, tempo ...)."""
    chords = ["A:min", "F:maj"] * 7 + ["C:maj", "G:maj"] * 8
    notes = [(t * 1.0, t + 0.5, 45) for t in range(30)] + [(30 + t * 0.25, 30.2 + t * 0.25, 76) for t in range(120)]
    return make_analysis(**{**kw, "chords": chords, "duration": 60.0}, notes=notes)


def synth_manifest(d: Path, qa_row: int | None = None) -> Path:
    """Ten 2.5-s synthetic clips (70-178 BPM, drums on every other one) captioned "slow/fast synth, N BPM", the
    last one for validation; `qa_row` makes that row a question ("What is the tempo?") with its answer."""
    from j2a.data.synth import SynthSpec, render_to_file

    rows = []
    for i in range(10):
        bpm = 70 + 12 * i
        p = render_to_file(SynthSpec(bpm=bpm, duration_s=2.5, sr=16000, seed=i, drums=i % 2 == 0), d / f"c{i}.wav")
        row = {"audio": p.name, "text": f"{'slow' if bpm < 100 else 'fast'} synth, {bpm} BPM"}
        if i == 9:
            row["split"] = "valid"
        if i == qa_row:
            row.update(prompt="What is the tempo?", text=f"{bpm} BPM")
        rows.append(row)
    m = d / "m.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return m


def beats_per_bar(meter: str) -> int:
    """As J2A counts them: 3 in 3/4, 2 in 6/8 (dotted-quarter beats), 3 in 9/8."""
    num, den = (int(x) for x in meter.split("/"))
    return num // 3 if den == 8 and num % 3 == 0 else num


class ScriptedLLM:
    """A stand-in language model that returns the given texts in turn, the last one from then on, to every prompt
    of a call; it records each call's prompts and options (tests of the guard, the retries and the batching)."""

    name = "scripted"

    def __init__(self, *texts):
        self.texts, self.calls, self.prompts = list(texts), [], []

    def generate(self, prompts, max_new_tokens=200, **kw):
        self.calls.append((prompts[0], kw))
        self.prompts += prompts
        return [self.texts[min(len(self.calls), len(self.texts)) - 1]] * len(prompts)
