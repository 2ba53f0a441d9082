"""The one prompt format J2A-LLM is trained and run with, and the template used without an LLM.

Training (j2a.training.llm_data) and inference (describe, ask, caption-tags) must build prompts the same way,
so both call `format_prompt`. Gemma 3 270M is a base model without a chat template, so the prompt is
a plain completion prefix ending in "Description:"; the caption follows it.
"""

from __future__ import annotations

import re

from ..theory import chord_symbol

PROMPT_END = "Description:"


def chord_changes(chords: list[str], max_chords: int = 8, key: str | None = None) -> str:
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
        prog = chord_changes(list(facts["chords"]), key=facts.get("key"))
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
    prog = (
        chord_changes(list(facts["chords"]), key=facts.get("key"))
        if facts.get("chords")
        else " - ".join(facts.get("chord_symbols", []))
    )
    if prog:
        parts.append(f"The chords move through {prog}.")
    if facts.get("duration_s"):
        parts.append(f"It lasts {round(float(facts['duration_s']))} seconds.")
    return " ".join(parts)
