"""Rhythm: tempo, beats, downbeats and meter on synthetic truth and the shared real clips; the
vectorised network equals madmom's; the chunked long-file path equals the one-piece path."""

from __future__ import annotations

import re

import mir_eval
import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.data.synth import SynthSpec, render
from j2a.features import rhythm as R

TEMPO_FILES = [
    "hainsworth_001.flac",
    "cuidado_falla_cancion.flac",
    "simac_01_mikri_rallou.flac",
    "trumpet_loop_f_90bpm.ogg",
    "madmom_sample.wav",
]
DUBSTEP = ["dubstep.wav", "dubstep.flac", "dubstep.mp3", "dubstep.ogg", "dubstep.aac"]


@pytest.fixture(scope="module")
def analysed(audio_dir):
    """analyze_rhythm per shared file, computed once per module."""
    cache: dict[str, R.Rhythm] = {}

    def get(name: str) -> R.Rhythm:
        if name not in cache:
            cache[name] = R.analyze_rhythm(open_audio(audio_dir / name))
        return cache[name]

    return get


# -- synthetic truth ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth_rhythm(synth_clip):
    path, spec = synth_clip
    return R.analyze_rhythm(open_audio(path)), spec


def test_synth_tempo_beats_downbeats_meter(synth_rhythm):
    r, spec = synth_rhythm
    assert abs(r.tempo.bpm / spec.bpm - 1) <= 0.02, r.tempo
    assert r.tempo.candidates[0].bpm == r.tempo.bpm and 0 < r.tempo.confidence <= 1
    assert {round(c.bpm) for c in r.tempo.candidates} <= {60, 120, 240}
    assert mir_eval.beat.f_measure(np.array(spec.beats()), np.array(r.beats)) >= 0.9
    assert mir_eval.beat.f_measure(np.array(spec.downbeats()), np.array(r.downbeats)) >= 0.9
    assert (r.meter.label, r.meter.beats_per_bar) == ("4/4", 4) and r.meter.confidence > 0.9


def test_synth_three_four():
    spec = SynthSpec(bpm=100, beats_per_bar=3, chords=["C:maj", "G:maj", "A:min"], duration_s=30.0)
    r = R.analyze_rhythm(open_audio(render(spec), sr=spec.sr))
    assert abs(r.tempo.bpm / spec.bpm - 1) <= 0.02, r.tempo
    assert (r.meter.label, r.meter.beats_per_bar) == ("3/4", 3) and r.meter.confidence > 0.9
    assert mir_eval.beat.f_measure(np.array(spec.downbeats()), np.array(r.downbeats)) >= 0.9


# -- real clips -----------------------------------------------------------------------------------------
def _truth(manifest, name: str) -> float:
    row = next(r for r in manifest if r["file"] == name)
    return float(re.match(r"[\d.]+", row["tempo_bpm"]).group())


@pytest.mark.slow
@pytest.mark.parametrize("name", TEMPO_FILES)
def test_tempo_matches_manifest(name, manifest, analysed):
    truth = _truth(manifest, name)
    bpm = analysed(name).tempo.bpm
    assert min(abs(bpm / (truth * k) - 1) for k in (0.5, 1.0, 2.0)) <= 0.04, (name, bpm, truth)


@pytest.mark.slow
def test_dubstep_formats_agree(analysed):
    tempi = [analysed(f).tempo.bpm for f in DUBSTEP]
    assert max(tempi) / min(tempi) - 1 <= 0.01, dict(zip(DUBSTEP, tempi))


@pytest.mark.slow
def test_sweet_waltz_is_three_four(analysed):
    """A waltz (manifest: 3/4) that madmom's default downbeat DBN calls 4: the fair bar HMM says 3."""
    r = analysed("sweet_waltz.ogg")
    assert (r.meter.label, r.meter.beats_per_bar) == ("3/4", 3) and r.meter.confidence > 0.6, r.meter
    assert len(r.downbeats) == pytest.approx(len(r.beats) / 3, abs=2)


@pytest.mark.slow
def test_short_clip_has_no_meter(analysed):
    r = analysed("madmom_sample.wav")  # 2.8 s, four annotated beats: too few to say a meter
    assert r.meter.label is None and r.meter.confidence == 0.0 and r.downbeats == []
    assert len(r.beats) >= 4


# -- the port equals madmom --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def excerpt(audio_dir):
    return open_audio(audio_dir / "hainsworth_001.flac").load(R.SR)[5 * R.SR : 8 * R.SR]


@pytest.mark.slow
def test_features_equal_madmom(excerpt):
    from j2a.features.madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.downbeats import RNNDownBeatProcessor

    pre = RNNDownBeatProcessor().processors[0]
    ref = pre(excerpt)
    ours = R._features(excerpt)
    assert ours.shape == ref.shape == (300, 314)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@pytest.mark.slow
def test_network_equals_madmom(excerpt):
    from j2a.features.madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.downbeats import RNNDownBeatProcessor

    _, nn, act = RNNDownBeatProcessor().processors
    feats = R._features(excerpt)
    ref = act(nn(feats))
    ours = R._ensemble()([feats, feats[:120]])  # batched with a shorter sequence
    np.testing.assert_allclose(ours[0], ref, atol=1e-3)
    assert ours[1].shape == (120, 2)


# -- long input: chunked == one piece ------------------------------------------------------------------------
@pytest.mark.slow
def test_chunked_equals_one_piece(audio_dir):
    y = np.concatenate(
        [open_audio(audio_dir / f).load(R.SR) for f in ("hainsworth_001.flac", "sweet_waltz.ogg", "techno_loop.mp3")]
    )  # 136 s
    audio = open_audio(y, sr=R.SR)
    whole = R.RhythmConfig(chunk_s=200.0, overlap_s=0.0, segment_s=1000.0)
    chunked = R.RhythmConfig(chunk_s=24.0, overlap_s=4.0, batch_chunks=3, segment_s=40.0, segment_overlap_s=10.0)
    a1, a2 = R.activations(audio, whole), R.activations(audio, chunked)
    assert a1.shape == a2.shape == (int(np.ceil(len(y) / R.HOP)), 2)
    # trimmed overlaps: no seam artefacts beyond small differences of context
    assert np.mean(np.abs(a1 - a2)) < 0.005
    b1, b2 = R.track_beats(a1, whole), R.track_beats(a1, chunked)  # segmented DBN on the same activations
    b3 = R.track_beats(a2, chunked)  # and the fully chunked path
    assert len(b1) > 250
    step = chunked.segment_s - chunked.segment_overlap_s
    for k in range(1, int(len(a1) / R.FPS / step) + 1):  # each DBN overlap region
        lo, hi = k * step, k * step + chunked.segment_overlap_s
        ref = b1[(b1 >= lo) & (b1 < hi)]
        for got in (b2, b3):
            seg = got[(got >= lo) & (got < hi)]
            assert len(seg) == len(ref) and np.allclose(seg, ref, atol=0.011), (lo, ref, seg)
    assert mir_eval.beat.f_measure(b1, b3, 0.02) >= 0.99


def test_bad_config():
    with pytest.raises(ValueError):
        R.activations(
            open_audio(np.random.default_rng(0).standard_normal(R.SR * 2), sr=R.SR),
            R.RhythmConfig(chunk_s=10.0, overlap_s=10.0),
        )


def _pulses(bpm: float, seconds: float, accent_every: int = 1) -> np.ndarray:
    """A beat activation (frames x 2, as madmom's RNN gives) with a pulse at `bpm`; every `accent_every`-th pulse
    full strength, the others 0.6."""
    act = np.full((int(seconds * R.FPS), 2), 0.01, np.float32)
    for k, t in enumerate(np.arange(0.5, seconds - 0.5, 60.0 / bpm)):
        act[int(t * R.FPS), 0] = 0.9 if k % accent_every == 0 else 0.6
    return act


def test_an_equally_supported_faster_level_wins_by_the_tempo_prior():
    """Beats tracked at 60 BPM over a pulse at 120 whose two levels the histogram supports equally: a listener
    taps 120 (the moderate-tempo prior), so the beats are re-tracked there."""
    act = _pulses(120, 30, accent_every=2)
    slow = np.arange(0.5, 29.5, 1.0)
    hist = np.array([[120.0, 0.5], [60.0, 0.5]])
    beats = R._prefer_moderate_octave(act, slow, hist, R.RhythmConfig())
    assert abs(R.beat_tempo(beats)[0] - 120) < 3
    # clearly slower in the histogram: the slow level stays; and a short input keeps what the tracker found
    assert R._prefer_moderate_octave(act, slow, np.array([[60.0, 0.8], [120.0, 0.2]]), R.RhythmConfig()) is slow
    short = slow[:9]
    assert R._prefer_moderate_octave(act[: 10 * R.FPS], short, hist, R.RhythmConfig()) is short


# -- compound meter -------------------------------------------------------------------------------------
def _three_beat_rhythm(bars: int = 16, beat_s: float = 0.5) -> R.Rhythm:
    """A rhythm as the downbeat network reports it: three beats a bar at 120 BPM, the octaves as candidates."""
    from j2a.analysis.schema import Meter, Tempo, TempoCandidate

    beats = [round(i * beat_s, 3) for i in range(3 * bars + 1)]
    tempo = Tempo(bpm=120.0, confidence=0.8, candidates=[TempoCandidate(120.0, 0.7), TempoCandidate(60.0, 0.3)])
    return R.Rhythm(tempo, beats, beats[::3], Meter("3/4", 3, 0.95))


def _onsets(r: R.Rhythm, phases: list[float], weights: list[float] | None = None) -> tuple[list, list]:
    """Note onsets at these phases of every bar of r (0 = downbeat), with these velocities."""
    d = np.asarray(r.downbeats)
    t = [a + p * (b - a) for a, b in zip(d[:-1], d[1:]) for p in phases]
    return t, (weights or [0.5] * len(phases)) * (len(d) - 1)


def test_compound_meter_reads_the_bar_from_its_notes():
    """A bar of three tracked beats whose notes fall in two halves (a dotted-quarter pulse over eighths) is 6/8 at
    two thirds of the tracked tempo, two beats a bar; one whose beats divide in three is 9/8; quarter notes
    keep 3/4."""
    r = _three_beat_rhythm()
    eighths, accents = [j / 6 for j in range(6)], [0.9, 0.3, 0.3, 0.9, 0.3, 0.3]
    six = R.compound_meter(r, *_onsets(r, eighths, accents))
    assert (six.meter.label, six.meter.beats_per_bar, six.meter.confidence) == ("6/8", 2, 0.95)
    assert six.tempo.bpm == 80.0 and [c.bpm for c in six.tempo.candidates] == [80.0, 40.0]
    assert six.downbeats == r.downbeats and np.allclose(np.diff(six.beats), 0.75)
    assert len(six.beats) == 2 * (len(r.downbeats) - 1) + 1

    nine = R.compound_meter(r, *_onsets(r, [j / 9 for j in range(9)]))
    assert (nine.meter.label, nine.meter.beats_per_bar) == ("9/8", 3) and nine.beats == r.beats
    assert nine.tempo is r.tempo

    assert R.compound_meter(r, *_onsets(r, [0, 1 / 3, 2 / 3])) is r  # quarter notes: a simple 3/4
    assert R.compound_meter(r, *_onsets(r, [0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 5 / 6])) is r  # even eighths say nothing


def test_compound_meter_needs_a_three_beat_bar_and_enough_notes():
    r = _three_beat_rhythm()
    eighths, accents = [j / 6 for j in range(6)], [0.9, 0.3, 0.3, 0.9, 0.3, 0.3]
    four = R.Rhythm(r.tempo, r.beats, r.beats[::4], R.Meter("4/4", 4, 0.95))
    assert R.compound_meter(four, *_onsets(r, eighths, accents)) is four
    few = _three_beat_rhythm(bars=4)
    assert R.compound_meter(few, *_onsets(few, eighths, accents)) is few  # 4 bars: too few to read a grouping
    t, w = _onsets(r, eighths, accents)
    assert R.compound_meter(r, t[:30], w[:30]) is r  # 30 notes: too few
    assert R.compound_meter(R.Rhythm(r.tempo, r.beats, r.downbeats, None), t, w).meter is None


def _beats_at(n=32, period=0.5, meter=("4/4", 4, 0.6)):
    beats = [round(i * period, 3) for i in range(n)]
    return R.Rhythm(None, beats, beats[:: meter[1]], R.Meter(*meter))


def test_chords_changing_every_third_beat_overturn_an_unsure_four_four():
    r = _beats_at(n=160, meter=("4/4", 4, 0.6))  # 53 changes below: the chords' full weight
    changes = [b + 0.02 for b in r.beats[1::3]]  # on every third beat, from the second
    three = R.meter_from_chords(r, changes)
    assert (three.meter.label, three.meter.beats_per_bar) == ("3/4", 3) and three.meter.confidence > 0.99
    assert three.downbeats == r.beats[1::3] and three.beats == r.beats
    # a sure 4/4 whose chords change every bar is surer; one every third beat does not overturn a very sure network
    sure = _beats_at(meter=("4/4", 4, 0.99999))
    assert R.meter_from_chords(sure, sure.beats[::4]).meter.confidence > 0.99999
    assert R.meter_from_chords(sure, [sure.beats[i] for i in (0, 3, 6, 9, 12, 15, 20, 24)]).meter.label == "4/4"


def test_a_few_chord_changes_weigh_less_than_many():
    """The chords' say grows with their number (RhythmConfig.chord_meter_full_changes): eight changes one beat in
    three do not overturn a 4/4 the network is fairly sure of (0.9); forty-eight such changes do."""
    few = _beats_at(n=32, meter=("4/4", 4, 0.9))
    assert R.meter_from_chords(few, few.beats[1::3][:8]).meter.label == "4/4"
    many = _beats_at(n=160, meter=("4/4", 4, 0.9))
    assert R.meter_from_chords(many, many.beats[1::3][:48]).meter.label == "3/4"


def test_meter_from_chords_needs_beats_and_changes_on_them():
    r = _beats_at(meter=("4/4", 4, 0.6))
    assert R.meter_from_chords(r, r.beats[1::3][:3]) is r  # three changes: too few
    assert R.meter_from_chords(r, [b + 0.25 for b in r.beats[1::3]]) is r  # between the beats: no say
    short = _beats_at(n=12)
    assert R.meter_from_chords(short, short.beats[::3]) is short  # 12 beats: too few
    for label, n in (("6/8", 2), ("9/8", 3)):  # only 3/4 against 4/4 is weighed
        compound = R.Rhythm(None, r.beats, r.beats[::n], R.Meter(label, n, 0.6))
        assert R.meter_from_chords(compound, r.beats[::4]) is compound


@pytest.mark.slow
def test_a_rendered_six_eight_score_is_heard_in_six_eight(tmp_path):
    """Schumann's quartet op. 41 no. 1, 2nd movement (6/8), rendered at a dotted quarter of 70 BPM: the downbeat
    network hears three beats a bar at 105 BPM (two eighths a beat); the notes make it 6/8 at the score's tempo,
    two beats a bar (the analysis said 3/4 at 105 BPM before `compound_meter`)."""
    import j2a
    from j2a.data import render as scores

    font = "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3"  # scripts/setup.sh installs it
    row = scores.render_piece(
        scores.Piece("schumann_robert/opus41no1/movement2.mxl", 70, "woodwinds", font, 0), tmp_path
    )
    a = j2a.analyze(row["audio"])
    assert (a.meter.label, a.meter.beats_per_bar) == ("6/8", 2) and a.meter.confidence >= 0.9
    assert abs(a.tempo.bpm / 70 - 1) <= 0.04, a.tempo
    assert abs(np.median(np.diff(a.beats)) / (60 / 70) - 1) <= 0.04  # the beats are the dotted quarters too
    assert len(a.beats) == pytest.approx(2 * len(a.downbeats), abs=2)
