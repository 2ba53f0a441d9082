"""`j2a duplicates`: the same recording in other formats, trimmed and padded, and nothing else (j2a/library/duplicates.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from j2a import library as lib


@pytest.mark.slow
def test_duplicates_group_the_same_recording_in_other_formats_and_nothing_else(audio_dir, tmp_path):
    """The shared dubstep clip in five formats plus a trimmed copy is one group; the other clips stay alone."""
    d = tmp_path / "music"
    d.mkdir()
    for name in (
        "dubstep.wav",
        "dubstep.flac",
        "dubstep.mp3",
        "dubstep.ogg",
        "dubstep.aac",
        "techno_loop.mp3",
        "hiphop.mp3",
        "madmom_sample.wav",
    ):
        shutil.copy(audio_dir / name, d / name)
    import soundfile as sf

    x, sr = sf.read(audio_dir / "dubstep.wav")
    sf.write(d / "dubstep_trimmed.wav", x[int(0.5 * sr) :], sr)
    with lib.Library(tmp_path / "m.db") as L:
        L.index([str(d)], describe=False)
        groups = L.duplicates()
    names = [sorted(Path(t.path).name for t in g) for g in groups]
    assert names == [
        ["dubstep.aac", "dubstep.flac", "dubstep.mp3", "dubstep.ogg", "dubstep.wav", "dubstep_trimmed.wav"]
    ]
    assert all(t.why or t is g[-1] for g in groups for t in g)
