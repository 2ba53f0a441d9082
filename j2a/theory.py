"""Music theory J2A needs, one table each: pitch classes, key names, chord symbols and tones, Camelot / Open Key.

Why one module: the same facts were spelled out in six places (the guard's key checks, the chord model's
labels, note names, the synthetic and rendered test sets, the training prompts) and had begun to disagree
on spellings. Spellings that reach users stay as they were: note names and chord roots from the models
use sharps (`SHARP_NAMES`, as madmom and basic-pitch do), keys and generated material the common spelling
of each pitch class (`NAMES`: Eb, Ab, Bb but C#, F#).
"""

from __future__ import annotations

import re

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# every spelling of a pitch class with at most one accidental -> 0..11 (C = 0)
PITCH_CLASS = {
    "C": 0,
    "B#": 0,
    "C#": 1,
    "Db": 1,
    "D": 2,
    "D#": 3,
    "Eb": 3,
    "E": 4,
    "Fb": 4,
    "E#": 5,
    "F": 5,
    "F#": 6,
    "Gb": 6,
    "G": 7,
    "G#": 8,
    "Ab": 8,
    "A": 9,
    "A#": 10,
    "Bb": 10,
    "B": 11,
    "Cb": 11,
}
_ANY_CASE = {k.upper(): v for k, v in PITCH_CLASS.items()}


def pitch_class(name: str) -> int | None:
    """'C#' / 'Db' / 'DB' / 'db' -> 1; None for anything that is not a pitch name."""
    return _ANY_CASE.get((name or "").strip().upper())


# ------------------------------------------------------------------------------------------- keys
def parse_key(label: str) -> tuple[int | None, str] | None:
    """'F# minor' -> (6, 'minor'); 'Bb' -> (10, 'major'); accepts ♯ / ♭ and maj / min; None if no tonic."""
    m = re.match(r"^\s*([A-Ga-g])([#b♯♭]?)\s*(major|minor|maj|min)?", label or "")
    if not m:
        return None
    name = m.group(1).upper() + {"♯": "#", "♭": "b"}.get(m.group(2), m.group(2))
    mode = {"maj": "major", "min": "minor", None: "major"}.get(m.group(3), m.group(3))
    return pitch_class(name), mode


def same_key(a: str, b: str) -> bool:
    """Enharmonic-aware key equality: 'F# minor' == 'Gb minor'."""
    pa, pb = parse_key(a), parse_key(b)
    return pa is not None and pa == pb


def camelot(key: str | None) -> str | None:
    """'A minor' -> '8A', 'C major' -> '8B': the DJ's wheel, where neighbours mix (None if no tonic)."""
    parsed = parse_key(key or "")
    if parsed is None or parsed[0] is None:
        return None
    pc, mode = parsed
    minor = mode == "minor"
    major_pc = (pc + 3) % 12 if minor else pc  # a minor key sits on its relative major's number
    return f"{((major_pc * 7) % 12 + 7) % 12 + 1}{'A' if minor else 'B'}"


def open_key(key: str | None) -> str | None:
    """'C major' -> '1d', 'A minor' -> '1m': Traktor's Open Key numbering of the same wheel."""
    c = camelot(key)
    if c is None:
        return None
    return f"{(int(c[:-1]) + 4) % 12 + 1}{'m' if c[-1] == 'A' else 'd'}"


def camelot_mixes(a: str | None, b: str | None) -> bool:
    """Two Camelot codes mix: the same key, one step round the wheel (same letter), or relative major/minor."""
    if not a or not b:
        return False
    na, la, nb, lb = int(a[:-1]), a[-1], int(b[:-1]), b[-1]
    if la == lb:
        return (na - nb) % 12 in (0, 1, 11)
    return na == nb


# Key signatures, by tonic and mode: a chord root is spelled with its key's accidentals.
_FLAT_KEYS = {"major": {"F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb"}, "minor": {"D", "G", "C", "F", "Bb", "Eb", "Ab"}}
_SHARP_KEYS = {"major": {"G", "D", "A", "E", "B", "F#", "C#"}, "minor": {"E", "B", "F#", "C#", "G#", "D#", "A#"}}
_TO_FLAT = {"C#": "Db", "D#": "Eb", "F#": "Gb", "G#": "Ab", "A#": "Bb"}
_TO_SHARP = {v: k for k, v in _TO_FLAT.items()}


def spell_root(root: str, key: str | None = None) -> str:
    """'A#' in 'Bb major' -> 'Bb'; 'Eb' in 'E major' -> 'D#'. Chord models name roots by pitch class
    (madmom always uses sharps); a musician spells them by the key. C major / A minor keep the input."""
    tonic, _, mode = (key or "").partition(" ")
    mode = "minor" if mode.startswith("min") else "major"
    if tonic in _FLAT_KEYS[mode]:
        return _TO_FLAT.get(root, root)
    if tonic in _SHARP_KEYS[mode]:
        return _TO_SHARP.get(root, root)
    return root


# ----------------------------------------------------------------------------------------- chords
# Harte quality -> the short chord-symbol suffix musicians (and captions) use.
CHORD_SUFFIX = {
    "maj": "",
    "min": "m",
    "7": "7",
    "maj7": "maj7",
    "min7": "m7",
    "dim": "dim",
    "dim7": "dim7",
    "hdim7": "m7b5",
    "aug": "aug",
    "sus2": "sus2",
    "sus4": "sus4",
    "maj6": "6",
    "min6": "m6",
    "9": "9",
    "maj9": "maj9",
    "min9": "m9",
    "minmaj7": "m(maj7)",
    "5": "5",
    "1": "",
}
# Harte quality -> semitones above the root
CHORD_TONES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
}


def chord_symbol(harte: str, key: str | None = None) -> str:
    """'A:min' -> 'Am', 'G:7' -> 'G7', 'C' -> 'C', 'N' -> '' (no chord); bass inversions are dropped.
    With a key ('Bb major') the root is spelled by its signature: 'A#:maj' -> 'Bb'."""
    label = harte.strip()
    if not label or label in ("N", "X"):
        return ""
    root, _, quality = label.partition(":")
    quality = quality.split("/")[0].split("(")[0]
    return spell_root(root, key) + CHORD_SUFFIX.get(quality, quality)


def triad(label: str) -> tuple[int, str] | None:
    """Harte 'C:maj' -> (0, 'maj'), 'A:min7' -> (9, 'min'): root pitch class and the major / minor triad
    the chord reduces to by its third (dim and hdim count as minor). None for 'N' / 'X' or no root."""
    if label in ("N", "X") or ":" not in label and pitch_class(label) is None:
        return None
    root, _, qual = label.partition(":")
    qual = qual.split("/")[0] or "maj"
    pc = pitch_class(root)
    if pc is None:
        return None
    minor = qual.startswith("min") or qual.startswith("dim") or qual.startswith("hdim")
    return pc, "min" if minor else "maj"
