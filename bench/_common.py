"""What the benchmark scripts share: this checkout and the shared data on their paths, and long test
tracks made by looping the shared clips.

A script imports it first (`from _common import REPO, AUDIO`): bench/ is the script's own folder, so it
is importable, and importing it puts the repository first on sys.path, so `import j2a` is this checkout.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("J2A_SHARED", REPO.parent / "shared"))  # ../shared beside the checkout
AUDIO = SHARED / "data" / "audio"
CAPTIONS = SHARED / "data" / "captions"
RESULTS = REPO / "bench" / "RESULTS.md"


# The shared music clips a synthetic long track is made of (analyze_speed: all ten; describe_speed: the first eight)
MUSIC_CLIPS = [
    "brahms_hungarian_dance_5.ogg",
    "pistachio_ragtime.ogg",
    "techno_loop.mp3",
    "sweet_waltz.ogg",
    "hainsworth_001.flac",
    "vocadito_1.wav",
    "flamenco.mp3",
    "choice_drum_bass.ogg",
    "cuidado_falla_cancion.flac",
    "simac_01_mikri_rallou.flac",
]


def looped_clips(names: list[str], seconds: float, sr: int) -> Iterator[np.ndarray]:
    """The shared clips `names` (files in AUDIO), decoded mono at `sr`, one after another and round again,
    cut at `seconds`: piece by piece, so an hour-long track need not be held in memory."""
    from j2a.audio import open_audio

    clips = [open_audio(str(AUDIO / c)).load(sr) for c in names]
    need, done = int(seconds * sr), 0
    while done < need:
        for y in clips:
            y = y[: need - done]
            yield y
            done += len(y)
            if done >= need:
                return
