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
