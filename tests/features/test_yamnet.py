"""YAMNet: the numpy front end against librosa's STFT + HTK mel filterbank, patching, the quantized model."""

from __future__ import annotations

import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.features import yamnet as Y


def _signal(seconds=3.0, sr=16000, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    y = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234.5 * t) + 0.05 * rng.normal(size=len(t))
    return y.astype(np.float32)


def test_front_end_matches_librosa():
    """Independent implementation: librosa's STFT (periodic Hann of 400 samples, centred in a 512-point
    frame, so the same magnitudes 56 samples later) and librosa's HTK mel filters without normalisation."""
    librosa = pytest.importorskip("librosa", reason="librosa is a test dependency (pyproject [test])")
    y = _signal()
    ours = Y.log_mel(y)
    pad = (Y.N_FFT - Y.WIN) // 2
    spec = np.abs(
        librosa.stft(np.pad(y, pad), n_fft=Y.N_FFT, hop_length=Y.HOP, win_length=Y.WIN, window="hann", center=False)
    )
    fb = librosa.filters.mel(sr=Y.SR, n_fft=Y.N_FFT, n_mels=Y.N_MELS, fmin=Y.FMIN, fmax=Y.FMAX, htk=True, norm=None)
    theirs = np.log(fb @ spec + Y.LOG_OFFSET).T
    assert ours.shape == theirs.shape == (1 + (len(y) - Y.WIN) // Y.HOP, 64)
    np.testing.assert_allclose(ours, theirs, atol=2e-3, rtol=0)
    np.testing.assert_allclose(Y.mel_matrix().T, fb, atol=1e-5)


def test_patches_and_streaming_equal_the_whole_signal():
    y = _signal(5.0)
    whole = Y.patches(Y.log_mel(y))
    assert whole.shape[1:] == (1, 96, 64)
    assert len(whole) == 1 + (len(Y.log_mel(y)) - 96) // 48
    blocks = [y[i : i + 7001] for i in range(0, len(y), 7001)]
    streamed = np.concatenate(list(Y.stream_patches(blocks, batch=3)))
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    short = np.concatenate(list(Y.stream_patches([y[:8000]])))  # 0.5 s: padded to one patch
    assert short.shape == (1, 1, 96, 64)


def test_model_scores_and_classes():
    net = Y.load()
    assert 0 < net.q.in_scale and 0 < net.q.out_scale  # read from the graph's initializers
    names = Y.class_names()
    assert len(names) == 521 and names[0] == "Speech" and "Saxophone" in names and "Whale vocalization" in names
    s = net.scores(Y.patches(Y.log_mel(_signal(2.0))))
    assert s.shape == (3, 521) and s.min() >= 0 and s.max() <= 1  # 2 s: 198 frames, patches at 0, 48, 96


@pytest.mark.slow
def test_window_scores_hear_the_shared_clips(audio_dir):
    names = Y.class_names()
    trumpet = Y.window_scores(open_audio(audio_dir / "trumpet_loop_f_90bpm.ogg")).mean(0)
    assert names[int(np.argmax(trumpet[1:])) + 1] in ("Music", "Trumpet")  # past Speech, the top class
    assert trumpet[names.index("Trumpet")] > 0.3
    bird = Y.window_scores(open_audio(audio_dir / "bird_robin.ogg")).mean(0)
    assert bird[names.index("Bird vocalization, bird call, bird song")] > 0.5 and bird[names.index("Music")] < 0.05
