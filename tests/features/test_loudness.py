"""Loudness: BS.1770 integrated loudness, EBU LRA, peak and crest — checked against theory and pyloudnorm."""

from __future__ import annotations

import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.features import loudness as L


def _sine(amp: float, seconds: float = 20.0, f: float = 1000.0, sr: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("dbfs", [-6.0, -20.0, -35.0])
def test_sine_at_known_level(dbfs):
    """A 1 kHz sine with peak at X dBFS has RMS X-3.01 dB, and BS.1770 reads it at X-3.01 LUFS (K-weighting ~0 dB at 1 kHz)."""
    r = L.analyze_loudness(open_audio(_sine(10 ** (dbfs / 20)), sr=44100))
    assert r.integrated_lufs == pytest.approx(dbfs - 3.01, abs=0.5)
    assert r.peak_dbfs == pytest.approx(dbfs, abs=0.05)
    assert r.crest_db == pytest.approx(3.01, abs=0.05)
    assert r.loudness_range_lu == pytest.approx(0.0, abs=0.1)  # steady tone: no dynamics


def test_loudness_range_of_two_levels():
    """10 s at -10 dB then 10 s at -30 dB: LRA is about the 20 dB step (Tech 3342 percentiles)."""
    y = np.concatenate([_sine(10 ** (-10 / 20), 10), _sine(10 ** (-30 / 20), 10)])
    r = L.analyze_loudness(open_audio(y, sr=44100))
    assert 17.0 < r.loudness_range_lu <= 20.5
    assert r.integrated_lufs == pytest.approx(-13.01 - 0.0, abs=0.6)  # quiet half is gated out (relative gate)


@pytest.mark.slow
def test_matches_pyloudnorm_on_real_music(audio_dir):
    import pyloudnorm

    a = open_audio(audio_dir / "brahms_hungarian_dance_5.ogg")
    y = a.load(L.SR).astype(np.float64)
    meter = pyloudnorm.Meter(L.SR)
    r = L.analyze_loudness(a)
    assert r.integrated_lufs == pytest.approx(meter.integrated_loudness(y), abs=0.05)
    assert r.loudness_range_lu == pytest.approx(meter.loudness_range(y), abs=0.5)


def test_streaming_equals_single_pass():
    """Filter state carries across chunks: chunked sub-block powers equal one-shot ones."""
    y = np.random.default_rng(1).normal(0, 0.1, 44100 * 7)
    whole = L.subblock_power([y])[0]
    parts = L.subblock_power([y[:12345], y[12345:100000], y[100000:]])[0]
    np.testing.assert_allclose(parts, whole, rtol=1e-9)
