"""The prompt format J2A-LLM is trained and run with, its inverse, and chord spelling in prompts."""

from __future__ import annotations

import pytest

from j2a import theory
from j2a.text import prompts

FACTS = {
    "tempo_bpm": 121.6,
    "key": "A minor",
    "meter": "4/4",
    "chords": ["A:min", "A:min", "F:maj", "C:maj", "G:7", "N"],
    "duration_s": 184.2,
}


def test_format_prompt_layout():
    p = prompts.format_prompt(["rock", "electric guitar", " "], FACTS)
    assert p.splitlines() == [
        "Music tags: rock, electric guitar",
        "Tempo: 122 BPM",
        "Key: A minor",
        "Meter: 4/4",
        "Chords: Am - F - C - G7",
        "Duration: 184 s",
        "Description:",
    ]
    assert prompts.format_prompt([], None) == "Music tags: unknown\nDescription:"


def test_parse_prompt_inverts_format():
    aspects, facts = prompts.parse_prompt(prompts.format_prompt(["jazz", "trumpet"], FACTS))
    assert aspects == ["jazz", "trumpet"]
    assert facts == {
        "tempo_bpm": 122.0,
        "key": "A minor",
        "meter": "4/4",
        "chord_symbols": ["Am", "F", "C", "G7"],
        "duration_s": 184.0,
    }


@pytest.mark.parametrize(
    "harte,sym",
    [("A:min", "Am"), ("C:maj", "C"), ("G:7", "G7"), ("D:min7/b3", "Dm7"), ("B:hdim7", "Bm7b5"), ("N", ""), ("E", "E")],
)
def test_chord_symbol(harte, sym):
    assert theory.chord_symbol(harte) == sym


@pytest.mark.parametrize(
    "key,chords,expected",
    [
        ("Bb major", ["A#:maj", "D#:maj", "F:7", "G:min"], "Bb - Eb - F7 - Gm"),
        ("E major", ["E:maj", "Eb:min", "Ab:min", "B:maj"], "E - D#m - G#m - B"),
        ("D minor", ["D:min", "A#:maj", "C:maj", "A:7"], "Dm - Bb - C - A7"),
        ("C major", ["C:maj", "A#:maj", "F:maj"], "C - A# - F"),  # no signature: as the model named it
        (None, ["A#:maj", "F:maj"], "A# - F"),
    ],
)
def test_chord_roots_are_spelled_by_the_key(key, chords, expected):
    assert prompts.chord_changes(chords, key=key) == expected
    assert f"Chords: {expected}" in prompts.format_prompt(["rock"], {"key": key, "chords": chords})
