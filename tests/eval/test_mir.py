"""`j2a eval mir`: metric path with given predictions (exact truth, shifted beats, wrong chords/keys/tempi),
truth loading (CSV + .beats/.lab, the renderer's JAMS), the CLI, and J2A's real analysis of a synthetic clip."""

from __future__ import annotations

import csv
import json
import math

import pytest

from j2a.eval import mir
from j2a.eval.mir import Prediction, Truth, score_item, score_mir


@pytest.fixture(scope="module")
def synth_truth(synth_clip):
    path, spec = synth_clip
    chords = [(c["start"], c["end"], c["label"]) for c in spec.chord_timeline()]
    return Truth(
        file=str(path),
        tempo_bpm=spec.bpm,
        meter="4/4",
        key="C major",
        beats=spec.beats(),
        downbeats=spec.downbeats(),
        chords=chords,
    ), spec


def _perfect(t: Truth) -> Prediction:
    return Prediction(
        tempo_bpm=t.tempo_bpm,
        meter=t.meter,
        key=t.key,
        beats=list(t.beats),
        downbeats=list(t.downbeats),
        chords=list(t.chords),
    )


def test_truth_as_prediction_scores_one(synth_truth):
    t, _ = synth_truth
    s = score_item(t, _perfect(t))
    for m in mir.METRICS:
        assert s[m] == pytest.approx(1.0), m


def test_every_other_beat_shifted_out_of_the_window(synth_truth):
    t, spec = synth_truth
    # odd beats 100 ms late: outside mir_eval's +-70 ms window, so only even beats match
    shifted = [b + (0.1 if i % 2 else 0.0) for i, b in enumerate(t.beats)]
    s = score_item(t, Prediction(beats=shifted))
    kept = [i for i, b in enumerate(t.beats) if b >= 5.0]  # MIREX trims the first 5 s
    est_kept = [b for b in shifted if b >= 5.0]
    hits = sum(1 for i in kept if i % 2 == 0)
    p, r = hits / len(est_kept), hits / len(kept)
    assert s["beat_f"] == pytest.approx(2 * p * r / (p + r), abs=1e-9)
    assert s["beat_f"] == pytest.approx(0.5, abs=0.02)
    assert score_item(t, Prediction(beats=[b + 0.2 for b in t.beats]))["beat_f"] == 0.0


def test_small_constant_shift_keeps_f_and_lowers_cemgil(synth_truth):
    t, _ = synth_truth
    s = score_item(t, Prediction(beats=[b + 0.03 for b in t.beats]))
    assert s["beat_f"] == pytest.approx(1.0)
    # Cemgil: Gaussian of the error with sigma 40 ms, averaged over beats
    assert s["beat_cemgil"] == pytest.approx(math.exp(-(0.03**2) / (2 * 0.04**2)), abs=1e-6)


def test_tempo_key_meter_chords(synth_truth):
    t, spec = synth_truth

    def f(**kw):
        return score_item(t, Prediction(**kw))

    assert (f(tempo_bpm=122.0)["tempo_acc1"], f(tempo_bpm=122.0)["tempo_acc2"]) == (1.0, 1.0)
    assert (f(tempo_bpm=240.0)["tempo_acc1"], f(tempo_bpm=240.0)["tempo_acc2"]) == (0.0, 1.0)
    assert (f(tempo_bpm=60.5)["tempo_acc1"], f(tempo_bpm=60.5)["tempo_acc2"]) == (0.0, 1.0)
    assert f(tempo_bpm=130.0)["tempo_acc2"] == 0.0 and f()["tempo_acc1"] == 0.0
    assert f(key="G major")["key_weighted"] == pytest.approx(0.5)  # fifth
    assert f(key="A minor")["key_weighted"] == pytest.approx(0.3)  # relative
    assert f(key="C minor")["key_weighted"] == pytest.approx(0.2)  # parallel
    assert f(key="C:major")["key_correct"] == 1.0 and f()["key_weighted"] == 0.0
    assert f(meter="3/4")["meter_acc"] == 0.0 and f(meter="4/4")["meter_acc"] == 1.0
    # wrong chord (a tritone away) on every odd bar: recall = share of time in the even bars
    wrong = [(s, e, lab if i % 2 == 0 else "F#:maj") for i, (s, e, lab) in enumerate(t.chords)]
    even = sum(e - s for i, (s, e, _) in enumerate(t.chords) if i % 2 == 0)
    total = sum(e - s for s, e, _ in t.chords)
    got = f(chords=wrong)
    assert got["chords_majmin"] == pytest.approx(even / total, abs=1e-9)
    # C:maj7 for C:maj: right in majmin (reduces to C:maj), wrong in sevenths
    sev = f(chords=[(s, e, lab.replace("C:maj", "C:maj7")) for s, e, lab in t.chords])
    c_time = sum(e - s for s, e, lab in t.chords if lab == "C:maj")
    assert sev["chords_majmin"] == pytest.approx(1.0)
    assert sev["chords_sevenths"] == pytest.approx(1 - c_time / total, abs=1e-9)
    assert f()["chords_majmin"] == 0.0


def test_summary_pools_chords_by_duration_and_counts_missing():
    a = Truth(file="a.wav", chords=[(0.0, 10.0, "C:maj")], tempo_bpm=100.0)
    b = Truth(file="/x/b.wav", chords=[(0.0, 30.0, "G:maj")])
    c = Truth(file="c.wav", tempo_bpm=90.0)
    preds = {
        "a.wav": Prediction(chords=[(0.0, 10.0, "C:maj")], tempo_bpm=100.0),
        "b.wav": Prediction(chords=[(0.0, 30.0, "D:maj")]),
    }  # matched by file name
    s = score_mir([a, b, c], preds)
    assert s["n"] == 2 and s["missing"] == ["c.wav"]
    assert s["chords_majmin"] == pytest.approx(10 / 40)  # pooled WCSR, not the per-clip mean 0.5
    assert s["tempo_acc1"] == 1.0 and s["n_tempo_acc1"] == 1 and s["beat_f"] is None


def _write_annotated_manifest(tmp_path, synth_truth):
    t, spec = synth_truth
    audio = tmp_path / "clip.wav"
    audio.write_bytes(open(t.file, "rb").read())
    (tmp_path / "clip.beats").write_text("".join(f"{b:.6f} {i % 4 + 1}\n" for i, b in enumerate(t.beats)))
    (tmp_path / "clip.lab").write_text("".join(f"{s:.6f} {e:.6f} {lab}\n" for s, e, lab in t.chords))
    man = tmp_path / "manifest.csv"
    with open(man, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "tempo_bpm", "meter", "key"])
        w.writerow(["clip.wav", "120", "4/4", "C major"])
        w.writerow(["other.wav", "", "", "F (blues/dorian)"])  # unknown/unscorable cells stay unscored
    return man, audio


def test_load_truth_from_csv_beats_and_lab(tmp_path, synth_truth):
    t, _ = synth_truth
    man, audio = _write_annotated_manifest(tmp_path, synth_truth)
    got = mir.load_truth(man)
    assert [g.file for g in got] == [str(tmp_path / "clip.wav"), str(tmp_path / "other.wav")]
    g = got[0]
    assert g.tempo_bpm == 120.0 and g.meter == "4/4" and g.key == "C major"
    assert g.beats == pytest.approx(t.beats) and g.downbeats == pytest.approx(t.downbeats)
    assert [c[2] for c in g.chords] == [c[2] for c in t.chords]
    assert got[1].key is None and got[1].tempo_bpm is None and got[1].beats is None


def test_cli_with_analysis_jsonl(tmp_path, synth_truth, capsys):
    from j2a.cli import main

    t, _ = synth_truth
    man, audio = _write_annotated_manifest(tmp_path, synth_truth)
    shifted = [b + (0.1 if i % 2 else 0.0) for i, b in enumerate(t.beats)]
    ana = tmp_path / "analysis.jsonl"
    ana.write_text(
        json.dumps(
            {
                "file": str(audio),
                "tempo": {"bpm": 60.0},
                "meter": {"label": "4/4"},
                "key": {"label": "C major"},
                "beats": shifted,
                "downbeats": t.downbeats,
                "chords": [{"start": s, "end": e, "label": lab} for s, e, lab in t.chords],
            }
        )
        + "\n"
    )
    out = tmp_path / "mir.json"
    assert main(["eval", "mir", "--manifest", str(man), "--analysis", str(ana), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "beat_f" in text and "1 without predictions" in text
    s = json.loads(out.read_text())
    assert s["beat_f"] == pytest.approx(0.5, abs=0.02) and s["downbeat_f"] == pytest.approx(1.0)
    assert (s["tempo_acc1"], s["tempo_acc2"]) == (0.0, 1.0) and s["key_weighted"] == 1.0
    assert s["chords_majmin"] == pytest.approx(1.0) and s["meter_acc"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    assert main(["eval", "mir", "--manifest", str(man), "--analysis", str(bad)]) == 1


@pytest.fixture(scope="module")
def rendered_piece(tmp_path_factory):
    from j2a.data.render import render_set

    out = tmp_path_factory.mktemp("rendered")
    rows = render_set(out, 1, seed=3, workers=1)
    assert len(rows) == 1
    return out / "manifest.jsonl", rows[0]


def test_truth_from_rendered_jams(rendered_piece):
    import jams

    man, row = rendered_piece
    (t,) = mir.load_truth(man)
    jam = jams.load(str(man.parent / row["truth"]["jams"]))
    assert t.tempo_bpm == pytest.approx(row["truth"]["tempo_bpm"])
    assert t.key == mir.normalise_key(row["truth"]["key"]) and t.meter == row["truth"]["meter"]
    beats = jam.search(namespace="beat")[0].data
    assert t.beats == pytest.approx([o.time for o in beats])
    downs = [o.time for o in jam.search(namespace="beat_position")[0].data if o.value["position"] == 1]
    assert t.downbeats == pytest.approx(downs) and 0 < len(downs) < len(beats)
    assert t.chords and all(e > s for s, e, _ in t.chords)
    # the truth scored against itself is perfect
    s = score_item(t, _perfect(t))
    assert all(s[m] == pytest.approx(1.0) for m in s if not m.startswith("_"))


@pytest.mark.slow
def test_real_analysis_of_synth_clip(tmp_path, synth_truth):
    """J2A's own analysis (run by `evaluate_mir`) on a clip with exactly known beats."""
    man, _ = _write_annotated_manifest(tmp_path, synth_truth)
    man.write_text(man.read_text().splitlines()[0] + "\n" + man.read_text().splitlines()[1] + "\n")
    s = mir.evaluate_mir(man)
    assert s["n"] == 1 and not s["missing"]
    assert s["beat_f"] >= 0.95 and s["downbeat_f"] >= 0.9
    assert s["tempo_acc1"] == 1.0 and s["meter_acc"] == 1.0
    assert s["key_weighted"] >= 0.5 and s["chords_majmin"] >= 0.8


def test_shared_manifest_truth(audio_dir):
    """The shared manifest's cells: '87.5 (or 175)' is 87.5 BPM (Acc2 covers 175), unparseable keys stay unscored."""
    by_name = {t.file.rsplit("/", 1)[-1]: t for t in mir.load_truth(audio_dir / "manifest.csv")}
    assert by_name["madmom_sample.wav"].tempo_bpm == 87.5
    assert by_name["hainsworth_001.flac"].tempo_bpm == pytest.approx(100.16)
    assert (
        by_name["sax_tenor_d_minor.wav"].key == "D minor" and by_name["brahms_hungarian_dance_5.ogg"].key == "F# minor"
    )
    assert by_name["trumpet_loop_f_90bpm.ogg"].key is None and by_name["sweet_waltz.ogg"].meter == "3/4"
    assert score_item(by_name["madmom_sample.wav"], Prediction(tempo_bpm=175.0)) == {
        "tempo_acc1": 0.0,
        "tempo_acc2": 1.0,
    }
