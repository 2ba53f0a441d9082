"""is_music: the shared non-music clips are rejected with a reason; every music clip is accepted."""

from __future__ import annotations

import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.features import music

NOT_MUSIC = {
    "speech_librispeech.ogg": "speech",
    "bird_robin.ogg": "non-musical sound",
    "cat_purr.wav": "non-musical sound",
}


@pytest.mark.slow
@pytest.mark.parametrize("name,reason", sorted(NOT_MUSIC.items()))
def test_non_music_is_rejected_with_reason(audio_dir, name, reason):
    d = music.detect(open_audio(audio_dir / name), None)
    assert d.is_music is False
    assert d.reason == reason
    assert 0.5 < d.confidence <= 1.0
    assert d.scores["music_evidence"] < 0.5


@pytest.mark.slow
def test_every_music_clip_is_music(audio_dir, manifest):
    clips = [r["file"] for r in manifest if r["kind"] == "music"]
    assert "vocadito_1.wav" in clips and "trumpet_loop_f_90bpm.ogg" in clips  # solo singing, short loop
    wrong = {}
    for name in clips:
        d = music.detect(open_audio(audio_dir / name), None)
        if not (d.is_music and d.reason == "music" and d.confidence >= 0.5):
            wrong[name] = (d.reason, d.scores)
    assert not wrong, wrong


@pytest.mark.slow
def test_solo_singing_is_music_although_the_voice_detector_fires(audio_dir):
    d = music.detect(open_audio(audio_dir / "vocadito_1.wav"), None)
    assert d.scores["speech"] > 0.3  # Silero hears a voice ...
    assert d.scores["melodic"] > 0.5  # ... but it holds steady pitches
    assert d.is_music


def test_noise_and_near_silence():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.1, 44100 * 10).astype(np.float32)
    d = music.detect(open_audio(noise, sr=44100), None)
    assert not d.is_music and d.reason == "non-musical sound"
    quiet = (noise * 10 ** (-55 / 20)).astype(np.float32)  # about -75 dBFS: above digital silence, below -60
    d = music.detect(open_audio(quiet, sr=44100), None)
    assert not d.is_music and d.reason == "silence"


def test_synthetic_song_is_music(synth_clip):
    path, _ = synth_clip
    d = music.detect(open_audio(path), None)
    assert d.is_music and d.confidence > 0.9


def test_excerpts_bounded_for_long_input():
    """A long input is judged on at most EXCERPTS windows, spread over the whole file."""
    sr = music.SR
    y = np.zeros(sr * 600, np.float32)
    y[::sr] = 1.0  # marks every second so windows can be located
    y += np.random.default_rng(0).normal(0, 1e-3, len(y)).astype(np.float32)
    a = open_audio(y, sr=sr)
    ex = music.excerpts(a)
    assert len(ex) == music.EXCERPTS
    assert all(len(e) == int(music.EXCERPT_S * sr) for e in ex)


def test_tuning_statistic_separates_tuned_tones_from_glides():
    sr = music.LOW_SR
    t = np.arange(sr * 5) / sr
    tones = sum(np.sin(2 * np.pi * 440 * 2 ** (k / 12) * t) for k in (0, 3, 7))  # A minor triad, A440 tuning
    glide = np.sin(2 * np.pi * np.cumsum(np.linspace(200, 900, len(t))) / sr)  # a sweeping, untuned pitch
    assert np.median(music.tuning_z(tones.astype(np.float32))) > 50
    assert np.median(music.tuning_z(glide.astype(np.float32))) < 8


def test_decide_with_what_yamnet_heard():
    """YAMNet's music classes say music (solo singing the voice detector calls speech); a sound source
    outweighs a steady hum the tuning test calls tonal, and the reason names it; else the signal decides."""
    from j2a.features.fusion import Calibration

    cal = Calibration(music={"music": 0.06, "source": 0.14})
    hum = {"music_evidence": 1.0, "speech": 0.0, "rms_dbfs": -30.0}  # a fan: strongly tonal
    fan = {"music": 0.0, "speech": 0.02, "source": 0.95, "source_label": ("machine", "Electric shaver, electric razor")}
    d = music.decide(dict(hum), fan, cal)
    assert not d.is_music and d.reason == "non-musical sound: Electric shaver, electric razor 0.95"
    assert d.source == {"label": "machine", "audioset_class": "Electric shaver, electric razor", "score": 0.95}
    sung = {"music_evidence": 0.1, "speech": 0.9, "rms_dbfs": -24.0}  # vocadito_14: the VAD hears speech
    d = music.decide(
        dict(sung), {"music": 0.1, "speech": 0.53, "source": 0.0, "source_label": ("animal", "Animal")}, cal
    )
    assert d.is_music and d.reason == "music"
    talk = {"music": 0.01, "speech": 0.99, "source": 0.0, "source_label": ("animal", "Animal")}
    d = music.decide(dict(sung), talk, cal)
    assert not d.is_music and d.reason == "speech: Speech 0.99"
    quiet = {"music": 0.01, "speech": 0.03, "source": 0.01, "source_label": ("animal", "Animal")}
    assert music.decide(dict(hum), quiet, cal).is_music  # nothing heard either way: the signal evidence decides
    assert music.decide({**hum, "rms_dbfs": -70.0}, quiet, cal).reason == "silence"
