"""Shared test fixtures: where the shared data lives, and synthetic clips with exact truth."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__import__("os").environ.get("J2A_SHARED", REPO.parent / "shared")).resolve()
AUDIO_DIR = SHARED / "data" / "audio"
CAPTIONS_DIR = SHARED / "data" / "captions"


def _require_shared():
    if not AUDIO_DIR.is_dir():
        pytest.fail(f"shared data not found at {SHARED} (set J2A_SHARED); these tests need it")


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    _require_shared()
    return AUDIO_DIR


@pytest.fixture(scope="session")
def labelled_dir() -> Path:
    _require_shared()
    return SHARED / "data" / "labelled"


@pytest.fixture(scope="session")
def captions_dir() -> Path:
    _require_shared()
    return CAPTIONS_DIR


@pytest.fixture(scope="session")
def manifest(audio_dir) -> list[dict]:
    with open(audio_dir / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory):
    """30 s, 120 BPM, 4/4, C-F-G-C one chord per bar: (path, SynthSpec)."""
    from j2a.data.synth import SynthSpec, render_to_file

    spec = SynthSpec()
    path = render_to_file(spec, tmp_path_factory.mktemp("synth") / "synth_120_4-4_CFGC.wav")
    return path, spec


@pytest.fixture(scope="session")
def analysis_of():
    """Analyse an audio file once per test session: analysis_of(path) -> j2a Analysis (cached)."""
    import functools

    from j2a.analysis import analyze

    @functools.lru_cache(maxsize=None)
    def get(path) -> "object":
        return analyze(str(path))

    return get
