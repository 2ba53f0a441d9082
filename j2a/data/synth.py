"""Synthetic music with exactly known truth (tempo, beats, downbeats, meter, key, chords).

Why: the demo and the tests need audio whose answers are known to the sample, generated on the spot
(no files to ship). Drums mark the pulse (kick on the bar's first beat, snare on back-beats,
hi-hats on eighths) and a harmonic pad plays one chord per bar with its root in the bass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..theory import CHORD_TONES, PITCH_CLASS


@dataclass
class SynthSpec:
    bpm: float = 120.0
    beats_per_bar: int = 4
    chords: list[str] = field(default_factory=lambda: ["C:maj", "F:maj", "G:maj", "C:maj"])
    key: str = "C major"
    duration_s: float = 30.0
    sr: int = 44100
    drums: bool = True
    seed: int = 0

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    @property
    def bar_s(self) -> float:
        return self.beat_s * self.beats_per_bar

    def beats(self) -> list[float]:
        return [i * self.beat_s for i in range(int(self.duration_s / self.beat_s + 1e-9))]

    def downbeats(self) -> list[float]:
        return [b for i, b in enumerate(self.beats()) if i % self.beats_per_bar == 0]

    def chord_timeline(self) -> list[dict]:
        """One chord per bar, cycling through `chords`, as {start, end, label}."""
        out = []
        n_bars = int(np.ceil(self.duration_s / self.bar_s - 1e-9))
        for i in range(n_bars):
            s = i * self.bar_s
            out.append(
                {"start": s, "end": min(s + self.bar_s, self.duration_s), "label": self.chords[i % len(self.chords)]}
            )
        return out


def chord_pitches(label: str, octave: int = 4) -> list[int]:
    root, _, qual = label.partition(":")
    r = PITCH_CLASS[root] + 12 * (octave + 1)
    return [r + iv for iv in CHORD_TONES[qual or "maj"]]


def _tone(f0: float, n: int, sr: int, partials: int = 6) -> np.ndarray:
    t = np.arange(n) / sr
    y = np.zeros(n)
    for k in range(1, partials + 1):
        if f0 * k < sr / 2:
            y += np.sin(2 * np.pi * f0 * k * t) / k**1.5
    return y


def render(spec: SynthSpec) -> np.ndarray:
    sr, n = spec.sr, int(spec.duration_s * spec.sr)
    rng = np.random.default_rng(spec.seed)
    y = np.zeros(n)

    def midi_hz(m):
        return 440.0 * 2 ** ((m - 69) / 12)

    # harmony: pad chord + bass root, re-struck each beat with a decaying envelope
    for c in spec.chord_timeline():
        pitches = chord_pitches(c["label"], 4) + [chord_pitches(c["label"], 2)[0]]
        for b in np.arange(c["start"], c["end"] - 1e-9, spec.beat_s):
            s, e = int(b * sr), min(n, int((b + spec.beat_s) * sr))
            env = np.exp(-np.arange(e - s) / (0.35 * sr))
            for p in pitches:
                y[s:e] += 0.12 * env * _tone(midi_hz(p), e - s, sr)
    if spec.drums:
        for i, b in enumerate(spec.beats()):
            s = int(b * sr)
            pos = i % spec.beats_per_bar
            # kick: pitch-dropping sine; strongest on the bar's first beat
            if pos == 0 or (spec.beats_per_bar == 4 and pos == 2):
                m = min(n - s, int(0.25 * sr))
                t = np.arange(m) / sr
                amp = 1.0 if pos == 0 else 0.6
                y[s : s + m] += amp * np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
            elif spec.beats_per_bar != 3 or pos > 0:  # snare on the others
                m = min(n - s, int(0.15 * sr))
                y[s : s + m] += 0.35 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.04 * sr))
            for off in (0.0, 0.5):  # hi-hat eighths
                h = int((b + off * spec.beat_s) * sr)
                m = min(n - h, int(0.05 * sr))
                if m > 0:
                    noise = np.diff(rng.standard_normal(m + 1))
                    y[h : h + m] += 0.08 * noise * np.exp(-np.arange(m) / (0.01 * sr))
    y /= max(1e-9, np.max(np.abs(y))) / 0.8
    return y.astype(np.float32)


def render_to_file(spec: SynthSpec, path: str | Path) -> Path:
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, render(spec), spec.sr, subtype="PCM_16")
    return path
