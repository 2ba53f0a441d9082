"""Audio input: every format ffmpeg reads decodes, and every kind of bad input fails with one line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from j2a import audio as A
from j2a.audio import AudioError, open_audio

DUBSTEP = ["dubstep.wav", "dubstep.flac", "dubstep.mp3", "dubstep.ogg", "dubstep.aac"]


def make_bad_inputs(folder, audio_dir) -> dict[str, tuple]:
    """Bad files of every kind the issue lists: name -> (path, words the error must contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    p = folder / "empty.wav"
    p.write_bytes(b"")
    out["zero_bytes"] = (p, ["0 bytes"])
    src = (audio_dir / "techno_loop.mp3").read_bytes()
    p = folder / "truncated.mp3"
    p.write_bytes(src[: len(src) // 2])
    out["truncated_mp3"] = (p, ["truncated"])
    p = folder / "notes.wav"
    p.write_text("this is a text file, not audio\n" * 20)
    out["text_as_wav"] = (p, ["not a readable audio file"])
    p = folder / "short.wav"
    t = np.arange(int(0.2 * 22050)) / 22050
    sf.write(p, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    out["short_0.2s"] = (p, ["too short", "0.20 s"])
    p = folder / "silence.wav"
    sf.write(p, np.zeros(30 * 22050, np.float32), 22050)
    out["silence_30s"] = (p, ["digital silence"])
    return out


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, audio_dir):
    return make_bad_inputs(tmp_path_factory.mktemp("bad"), audio_dir)


@pytest.mark.parametrize("kind", ["zero_bytes", "truncated_mp3", "text_as_wav", "short_0.2s", "silence_30s"])
def test_bad_input_raises_one_line_naming_file_and_reason(bad_inputs, kind):
    path, words = bad_inputs[kind]
    with pytest.raises(AudioError) as e:
        open_audio(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(path) + ": ")
    for w in words:
        assert w in msg, msg


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        open_audio(tmp_path / "nope.mp3")
    with pytest.raises(AudioError, match="directory"):
        open_audio(tmp_path)


def test_array_input_checks():
    with pytest.raises(AudioError, match="sample rate"):
        open_audio(np.zeros(44100, np.float32))
    with pytest.raises(AudioError, match="digital silence"):
        open_audio(np.zeros(44100 * 2, np.float32), sr=44100)
    with pytest.raises(AudioError, match="too short"):
        open_audio(np.ones(4410, np.float32) * 0.1, sr=44100)
    stereo = np.random.default_rng(0).normal(0, 0.1, (2, 44100 * 2)).astype(np.float32)
    a = open_audio(stereo, sr=44100)
    assert a.duration_s == pytest.approx(2.0)
    assert a.load(22050).shape == (44100,)


def test_dubstep_formats_decode_and_agree_on_duration(audio_dir):
    durations = {}
    for name in DUBSTEP:
        a = open_audio(audio_dir / name)
        y = a.load(22050)
        assert y.dtype == np.float32 and y.ndim == 1
        assert np.max(np.abs(y)) > 0.1
        durations[name] = a.duration_s
    ref = durations["dubstep.wav"]
    assert ref == pytest.approx(6.85, abs=0.05)
    for d in durations.values():  # MP3 / AAC add encoder padding of a few tens of ms
        assert abs(d - ref) < 0.1, durations


def test_stereo_m4a_decodes(audio_dir):
    a = open_audio(audio_dir / "stereo_sample.m4a")
    assert a.duration_s > 1.0
    y = a.load(44100)
    assert len(y) == pytest.approx(a.duration_s * 44100, rel=0.01)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0.01


def test_streamed_chunks_equal_whole_decode(audio_dir, monkeypatch):
    """Long files stream (bounded memory); the streamed blocks must be the same signal."""
    path = audio_dir / "sweet_waltz.ogg"
    whole = open_audio(path).load(16000)
    monkeypatch.setattr(A, "CACHE_LIMIT_S", 5.0)  # force the streaming path
    a = open_audio(path)
    assert 16000 not in a._cache
    blocks = list(a.chunks(16000, chunk_s=10.0))
    assert all(len(b) == 160000 for _, b in blocks[:-1])
    assert [s for s, _ in blocks] == [10.0 * i for i in range(len(blocks))]
    streamed = np.concatenate([b for _, b in blocks])
    assert len(streamed) == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
    over = list(a.chunks(16000, chunk_s=10.0, overlap_s=2.0))
    assert over[1][0] == pytest.approx(8.0)
    np.testing.assert_allclose(over[1][1][:32000], over[0][1][-32000:], atol=1e-6)


def test_find_audio_files_walks_folders(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/x.mp3", "a/b/y.FLAC", "a/readme.txt", "z.wav"]:
        (tmp_path / name).write_bytes(b"x")
    found = A.find_audio_files([tmp_path / "a", tmp_path / "a" / "readme.txt"])
    assert found == [str(tmp_path / "a/b/y.FLAC"), str(tmp_path / "a/x.mp3"), str(tmp_path / "a/readme.txt")]
