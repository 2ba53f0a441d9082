"""j2a.theory: the one table of pitch classes, keys, Camelot / Open Key and chord names."""

from __future__ import annotations

import pytest

from j2a import theory


def test_pitch_classes_every_spelling():
    assert [theory.PITCH_CLASS[n] for n in theory.NAMES] == list(range(12))
    assert [theory.PITCH_CLASS[n] for n in theory.SHARP_NAMES] == list(range(12))
    assert theory.pitch_class("Db") == theory.pitch_class("DB") == theory.pitch_class("c#") == 1
    assert theory.pitch_class("B#") == 0 and theory.pitch_class("Cb") == 11 and theory.pitch_class("H") is None


def test_keys():
    assert theory.parse_key("F# minor") == (6, "minor") and theory.parse_key("Bb") == (10, "major")
    assert theory.same_key("F# minor", "Gb minor") and not theory.same_key("F# minor", "F# major")
    assert theory.parse_key("unknown") is None


@pytest.mark.parametrize(
    "key,cam,ok",
    [
        ("C major", "8B", "1d"),
        ("A minor", "8A", "1m"),
        ("G major", "9B", "2d"),
        ("E minor", "9A", "2m"),
        ("F major", "7B", "12d"),
        ("F# minor", "11A", "4m"),
        ("Db major", "3B", "8d"),
    ],
)
def test_camelot_and_open_key(key, cam, ok):
    assert theory.camelot(key) == cam and theory.open_key(key) == ok


def test_camelot_mixes_neighbours_and_relatives():
    assert theory.camelot(None) is None and theory.open_key("") is None
    assert theory.camelot_mixes("8A", "8B") and theory.camelot_mixes("8A", "9A") and theory.camelot_mixes("12B", "1B")
    assert (
        not theory.camelot_mixes("8A", "10A")
        and not theory.camelot_mixes("8A", "9B")
        and not theory.camelot_mixes(None, "8A")
    )


def test_chords():
    assert theory.chord_symbol("A#:maj", "Bb major") == "Bb" and theory.chord_symbol("B:hdim7") == "Bm7b5"
    assert (
        theory.triad("A:min7") == (9, "min")
        and theory.triad("B:hdim7") == (11, "min")
        and theory.triad("C") == (0, "maj")
    )
    assert theory.triad("N") is None and theory.triad("H:maj") is None
    assert theory.CHORD_TONES["maj7"] == (0, 4, 7, 11)
