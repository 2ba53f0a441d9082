"""Fixtures of the library tests: generated clips with known tempo, key and meter, and a real index of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from j2a import library as lib
from j2a.data.synth import SynthSpec, render_to_file


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Path:
    """Six short generated pieces with known tempo, key and meter."""
    d = tmp_path_factory.mktemp("clips")
    specs = [
        SynthSpec(bpm=72, key="D minor", chords=["D:min", "A:min", "Bb:maj", "A:maj"], duration_s=10, seed=1),
        SynthSpec(bpm=128, key="C major", duration_s=10, seed=2),
        SynthSpec(
            bpm=96, beats_per_bar=3, key="G major", chords=["G:maj", "C:maj", "D:maj", "G:maj"], duration_s=10, seed=3
        ),
        SynthSpec(
            bpm=140, key="A minor", chords=["A:min", "F:maj", "C:maj", "G:maj"], duration_s=10, drums=False, seed=4
        ),
        SynthSpec(bpm=110, key="E major", chords=["E:maj", "A:maj", "B:maj", "E:maj"], duration_s=10, seed=5),
        SynthSpec(bpm=84, key="F major", chords=["F:maj", "Bb:maj", "C:maj", "F:maj"], duration_s=10, seed=6),
    ]
    for n, s in enumerate(specs):
        render_to_file(s, d / f"piece{n}_{s.bpm:g}bpm.wav")
    return d


@pytest.fixture(scope="session")
def indexed(clips, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "music.db"
    with lib.Library(db) as L:
        rep = L.index([str(clips)], describe=True, llm="none")
    assert rep.added == 6 and not rep.failed
    return db
