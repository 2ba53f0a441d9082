"""The one prompt format J2A-LLM is trained and run with, and the template used without an LLM.

Training (j2a.llm_train) and inference (describe, ask, caption-tags) must build prompts the same way,
so both call `format_prompt`. Gemma 3 270M is a base model without a chat template, so the prompt is
a plain completion prefix ending in "Description:"; the caption follows it.
"""
from __future__ import annotations

import re

PROMPT_END = "Description:"

# Harte quality -> the short chord-symbol suffix musicians (and captions) use.
_QUALITY = {
    "maj": "", "min": "m", "7": "7", "maj7": "maj7", "min7": "m7", "dim": "dim", "dim7": "dim7",
    "hdim7": "m7b5", "aug": "aug", "sus2": "sus2", "sus4": "sus4", "maj6": "6", "min6": "m6",
    "9": "9", "maj9": "maj9", "min9": "m9", "minmaj7": "m(maj7)", "5": "5", "1": "",
}


# Key signatures, by tonic and mode: a root is spelled with the signature's accidentals.
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


def chord_symbol(harte: str, key: str | None = None) -> str:
    """'A:min' -> 'Am', 'G:7' -> 'G7', 'C' -> 'C', 'N' -> '' (no chord); bass inversions are dropped.
    With a key ('Bb major') the root is spelled by its signature: 'A#:maj' -> 'Bb'."""
    label = harte.strip()
    if not label or label in ("N", "X"):
        return ""
    root, _, quality = label.partition(":")
    quality = quality.split("/")[0].split("(")[0]
    return spell_root(root, key) + _QUALITY.get(quality, quality)


def chord_progression(chords: list[str], max_chords: int = 8, key: str | None = None) -> str:
    """Readable progression: consecutive repeats merged, 'no chord' dropped, at most max_chords."""
    out: list[str] = []
    for c in chords:
        s = chord_symbol(c, key)
        if s and (not out or out[-1] != s):
            out.append(s)
    return " - ".join(out[:max_chords])


def format_prompt(aspects: list[str], facts: dict | None = None) -> str:
    """Completion prompt: tags, then whichever facts are known, then 'Description:'.

    facts keys (all optional): tempo_bpm, key (e.g. 'A minor'), meter (e.g. '3/4'),
    chords (Harte labels in time order), duration_s.
    """
    facts = facts or {}
    tags = ", ".join(a.strip() for a in aspects if a and a.strip())
    lines = [f"Music tags: {tags or 'unknown'}"]
    if facts.get("tempo_bpm"):
        lines.append(f"Tempo: {round(float(facts['tempo_bpm']))} BPM")
    if facts.get("key"):
        lines.append(f"Key: {facts['key']}")
    if facts.get("meter"):
        lines.append(f"Meter: {facts['meter']}")
    if facts.get("chords"):
        prog = chord_progression(list(facts["chords"]), key=facts.get("key"))
        if prog:
            lines.append(f"Chords: {prog}")
    if facts.get("duration_s"):
        lines.append(f"Duration: {round(float(facts['duration_s']))} s")
    return "\n".join(lines) + f"\n{PROMPT_END}"


def parse_prompt(prompt: str) -> tuple[list[str], dict]:
    """Inverse of format_prompt (lets the template backend serve any caller that built a J2A prompt)."""
    aspects: list[str] = []
    facts: dict = {}
    for line in prompt.splitlines():
        name, _, value = line.partition(":")
        value = value.strip()
        if name == "Music tags" and value != "unknown":
            aspects = [a.strip() for a in value.split(",") if a.strip()]
        elif name == "Tempo" and (m := re.match(r"([\d.]+)", value)):
            facts["tempo_bpm"] = float(m.group(1))
        elif name == "Key" and value:
            facts["key"] = value
        elif name == "Meter" and value:
            facts["meter"] = value
        elif name == "Chords" and value:
            facts["chord_symbols"] = [c.strip() for c in value.split(" - ") if c.strip()]
        elif name == "Duration" and (m := re.match(r"([\d.]+)", value)):
            facts["duration_s"] = float(m.group(1))
    return aspects, facts


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def template_caption(aspects: list[str], facts: dict | None = None) -> str:
    """Deterministic description from tags and facts; says nothing the inputs do not say."""
    facts = facts or {}
    aspects = [a.strip() for a in aspects if a and a.strip()]
    parts = []
    if aspects:
        parts.append(f"This is a piece of music described as {_join(aspects)}.")
    else:
        parts.append("This is a piece of music.")
    rhythm = []
    if facts.get("tempo_bpm"):
        rhythm.append(f"a tempo of about {round(float(facts['tempo_bpm']))} BPM")
    if facts.get("meter"):
        rhythm.append(f"{facts['meter']} meter")
    if rhythm:
        parts.append(f"It has {_join(rhythm)}.")
    if facts.get("key"):
        parts.append(f"It is in {facts['key']}.")
    prog = chord_progression(list(facts["chords"]), key=facts.get("key")) if facts.get("chords") else " - ".join(facts.get("chord_symbols", []))
    if prog:
        parts.append(f"The chords move through {prog}.")
    if facts.get("duration_s"):
        parts.append(f"It lasts {round(float(facts['duration_s']))} seconds.")
    return " ".join(parts)
