"""Rendered compositions: audio + JAMS truth that agrees with the score, and the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jams
import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.data import render as R

BWV269 = "bach/bwv269.mxl"  # "Aus meines Herzens Grunde": G major, 3/4, one-beat pickup, human RN analysis


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    rows = R.render_set(out, n=0, seed=3, sources=[BWV269], workers=1)
    return out, rows


def test_manifest_row_and_caption(rendered):
    out, rows = rendered
    assert len(rows) == 1
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == rows
    row = rows[0]
    t = row["truth"]
    assert Path(row["audio"]).exists() and row["audio"].endswith(".flac")
    assert t["key"] == "G major" and t["meter"] == "3/4" and t["composer"] == "bach" and t["chorale"]
    assert t["tempo_class"] == R.tempo_class(t["tempo_bpm"])
    assert t["instrument_family"] in R.FAMILIES
    # the caption states exactly the truth
    assert row["text"] == f"A Bach chorale in G major played by {t['instrument']} at {t['tempo_bpm']:g} BPM in 3/4."


def test_truth_validates_as_jams_and_matches_score(rendered):
    out, rows = rendered
    t = rows[0]["truth"]
    jam = jams.load(str(out / t["jams"]), validate=True)
    jam.validate()
    assert jam.search(namespace="key_mode")[0].data[0].value == "G:major"
    assert jam.search(namespace="tempo")[0].data[0].value == t["tempo_bpm"]
    beats = jam.search(namespace="beat_position")[0].data
    spb = 60.0 / t["tempo_bpm"]
    times = np.array([o.time for o in beats])
    np.testing.assert_allclose(np.diff(times), spb, atol=1e-6)  # metronomic quarter-note beats
    # one-beat pickup: the first note is beat 3 of bar 0, the first downbeat falls one beat in
    assert (beats[0].time, beats[0].value["position"], beats[0].value["measure"]) == (0.0, 3, 0)
    downs = [o for o in beats if o.value["position"] == 1]
    assert downs[0].time == pytest.approx(spb) and downs[0].value["measure"] == 1
    assert all(o.value["num_beats"] == 3 and o.value["beat_units"] == 4 for o in beats)
    # the score's 21 measures after the pickup (the last one short): one downbeat each
    assert len(downs) == 21
    # audio holds the whole piece: last beat inside the audio, length as the truth says
    a = open_audio(rows[0]["audio"])
    assert a.duration_s == pytest.approx(t["duration_s"], abs=0.05)
    assert times[-1] < a.duration_s


def test_score_chords_and_human_analysis_agree(rendered):
    import mir_eval

    out, rows = rendered
    jam = jams.load(str(out / rows[0]["truth"]["jams"]))
    anns = {a.annotation_metadata.annotator["name"]: a for a in jam.annotations if a.namespace == "chord"}
    assert set(anns) == {"music21 chordify", "human roman-numeral analysis"}
    (ci, cl), (hi, hl) = (anns[k].to_interval_values() for k in ("music21 chordify", "human roman-numeral analysis"))
    assert cl[0] == "G:maj" and hl[0] == "G:maj" and cl[-1] == "G:maj"
    hi, hl = mir_eval.util.adjust_intervals(hi, hl, ci.min(), ci.max(), "N", "N")
    iv, r, e = mir_eval.util.merge_labeled_intervals(ci, cl, hi, hl)
    score = mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(r, e), mir_eval.util.intervals_to_durations(iv))
    assert score > 0.7  # the two references line up in time and mostly agree
    assert jam.search(namespace="chord_roman")[0].data[0].value == {"tonic": "G", "chord": "I"}


@pytest.mark.parametrize(
    "pcs,bass,label",
    [
        ({0, 4, 7}, 0, "C:maj"),
        ({9, 0, 4}, 9, "A:min"),
        ({7, 11, 2, 5}, 7, "G:7"),
        ({0, 4}, 0, "C:maj"),
        ({11, 2, 5}, 11, "B:dim"),
        ({0, 4, 7, 2}, 0, "C:maj"),
        ({0, 7}, 0, None),
    ],
)
def test_chord_label(pcs, bass, label):
    assert R.chord_label(pcs, bass) == label


def test_notated_key_mode_rule():
    from music21 import converter

    # one flat, ending on G with B-flat in the signature: G minor ("Dorian" notation), not modal
    s = converter.parse("tinyNotation: 4/4 g4 b- d' g")
    s.insert(0, __import__("music21").key.KeySignature(-1))
    k = R.notated_key(s)
    assert (k["label"], k["key_modal"]) == ("G minor", False)
    # no sharps, ending on E: Phrygian-like, flagged modal
    k = R.notated_key(converter.parse("tinyNotation: 4/4 a4 c' b e"))
    assert k["label"] == "E minor" and k["key_modal"]
    # no sharps, ending on G major: a Mixolydian melody or a piece stopping on its dominant, flagged modal
    k = R.notated_key(converter.parse("tinyNotation: 4/4 c4 e f g"))
    assert k["label"] == "G major" and k["key_modal"]


def _score(meter: str, sharps: int, *parts: str):
    """A score of tinyNotation parts (top to bottom) under one key signature."""
    from music21 import converter, key, stream

    s = stream.Score()
    for tiny in parts:
        p = stream.Part()
        for m in converter.parse(f"tinyNotation: {meter} {tiny}").getElementsByClass("Measure"):
            p.append(m)
        s.insert(0, p)
    s.insert(0, key.KeySignature(sharps))
    return s


def test_notated_key_reads_the_bass_part_not_what_sounds_last():
    # the violin's last notes outlast the cello, whose final C is the tonic (a Haydn finale was read "G")
    k = R.notated_key(_score("4/4", 0, "e'4 d' c' b c'2 g'2", "C4 GG C GG C2"))
    assert (k["label"], k["key_modal"]) == ("C major", False)
    # the cello's last note leaps above the viola's D: still the cello's Bb (a Mozart minuet was read "D")
    k = R.notated_key(_score("3/4", -2, "b-'4 f' d' b-'2.", "f4 d f D2.", "BB-2 FF4 BB-2 B-4"))
    assert (k["label"], k["key_modal"]) == ("Bb major", False)


def test_renditions_are_the_same_score_in_another_sound_and_tempo():
    cfg = R.RenderConfig(renditions=2)
    pieces = R.plan(3, seed=1, cfg=cfg)
    assert len(pieces) == 6 and [p.rendition for p in pieces] == [0, 1] * 3
    for first, other in zip(pieces[::2], pieces[1::2]):
        assert other.source == first.source and other.family == first.family
        assert 1.07 <= max(first.bpm, other.bpm) / min(first.bpm, other.bpm) <= 1.21 or other.bpm in cfg.bpm_range
        assert other.soundfont != first.soundfont or len(R.soundfonts()) == 1
    assert len({p.source for p in pieces}) == 3


def test_a_piece_shipped_in_two_formats_is_one_candidate():
    paths = R.candidate_scores("all")
    pieces = [p.rsplit(".", 1)[0] for p in paths]
    assert len(pieces) == len(set(pieces)) and "beethoven/opus18no1/movement4.mxl" in paths


def test_cli_renders_end_to_end(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "j2a.cli",
            "data",
            "render",
            "--out",
            str(tmp_path),
            "--n",
            "1",
            "--seed",
            "5",
            "--workers",
            "1",
            "--format",
            "wav",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["audio"].endswith(".wav") and Path(rows[0]["audio"]).exists()
    jams.load(str(tmp_path / rows[0]["truth"]["jams"]), validate=True)


def test_cli_help_has_example():
    r = subprocess.run([sys.executable, "-m", "j2a.cli", "data", "render", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "j2a data render --out" in r.stdout
