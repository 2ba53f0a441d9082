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


def join_words(words: list[str]) -> str:
    """'a, b and c' (descriptions and section captions)."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def template_caption(aspects: list[str], facts: dict | None = None) -> str:
    """Deterministic description from tags and facts; says nothing the inputs do not say.

    Why prose and not a tag list: the template is what a listener reads whenever the guard cuts every try of
    the language model (most short clips), so it says "This is a slow jazz piece featuring guitar." rather
    than "described as jazz, guitar and slow tempo". Each aspect is placed by the category the guard's
    vocabulary gives it (j2a.text.claims), so the sentence claims exactly the aspects it was given.
    """
    g = _aspect_groups(aspects)
    parts = [_opening(g)]
    if g["mood"]:
        parts.append(f"It sounds {join_words(g['mood'])}.")
    if g["other"]:
        parts.append(f"It is also described as {join_words(g['other'])}.")
    return " ".join(parts + fact_sentences(facts or {}))


def fact_sentences(facts: dict, said: frozenset | set = frozenset(), duration: bool = True) -> list[str]:
    """The measured facts as sentences: tempo and meter, key and chords, duration.

    `said` names the facts a text already states ("tempo", "meter", "key"), which are then left out: describe
    adds these sentences to the language model's text, and says each fact once."""
    out = []
    bpm = round(float(facts["tempo_bpm"])) if facts.get("tempo_bpm") and "tempo" not in said else None
    meter = facts.get("meter") if "meter" not in said else None
    out += _joined(bpm and f"It moves at about {bpm} BPM", meter and f"{meter} time", " in ", f"It is in {meter} time")
    key = facts.get("key") if "key" not in said else None
    prog = (
        chord_changes(list(facts["chords"]), key=facts.get("key"))
        if facts.get("chords")
        else " - ".join(facts.get("chord_symbols", []))
    )
    chords = chord_phrase(prog) if prog else ""
    out += _joined(key and f"It is in {key}", chords, ", and ", chords[:1].upper() + chords[1:])
    if duration and facts.get("duration_s"):
        out.append(f"It lasts {round(float(facts['duration_s']))} seconds.")
    return out


def chord_phrase(prog: str) -> str:
    """'the chords move through Am - F', or 'the harmony holds on Am' for one chord (descriptions and sections)."""
    return f"the chords move through {prog}" if " - " in prog else f"the harmony holds on {prog}"


def _joined(first: str | None, second: str | None, link: str, second_alone: str) -> list[str]:
    """One sentence for two facts that read together ("It moves at about 120 BPM in 4/4 time."), or for the
    one that is known (the second then in its own words: "It is in 4/4 time.")."""
    if first and second:
        return [f"{first}{link}{second}."]
    return [f"{first}."] if first else [f"{second_alone}."] if second else []


_VOICE_PHRASE = {"male vocals": "a male vocal", "female vocals": "a female vocal", "choir": "a choir"}


def _aspect_groups(aspects: list[str]) -> dict[str, list[str]]:
    """Aspect words by what they say (genre, instrument, vocals, mood, tempo word, other), in their order.

    The category is the one the guard gives the word, so template and guard cannot disagree on it."""
    from .claims import extract_claims  # claims -> concepts is heavy; prompts stays importable alone

    g: dict[str, list[str]] = {k: [] for k in ("genre", "instrument", "vocals", "mood", "tempo", "other")}
    for a in (a.strip() for a in aspects if a and a.strip()):
        claims = [c for c in extract_claims(a) if c.category != "unknown"]
        cats = {c.category for c in claims}
        cat = cats.pop() if len(cats) == 1 else "other"
        if cat == "tempo":
            g["tempo"].append(a.removesuffix(" tempo"))
        elif cat == "vocals":
            g["vocals"].append(claims[0].concept)
        else:
            g[cat if cat in g else "other"].append(a)
    return g


def _said_by_another(name: str, names: list[str]) -> bool:
    """Does a more specific name in the list already say this one? "acoustic guitar" says "guitar", and a member
    says its family: "drum kit" says "percussion", "violin" says "strings" (so not "violin, cello and strings")."""
    from ..features.fusion import FAMILIES

    return any(j.endswith(" " + name) for j in names) or bool(FAMILIES.get(name, set()) & set(names))


def _opening(g: dict[str, list[str]]) -> str:
    """'This is a slow instrumental jazz piece featuring guitar and piano, with a male vocal.'"""
    from .guard import article

    tempo = [t for t in g["tempo"] if t in ("slow", "fast")]
    medium = "medium" in g["tempo"]
    voices = [v for v in g["vocals"] if v != "instrumental"]
    words = tempo + (["instrumental"] if "instrumental" in g["vocals"] and not voices else [])
    noun = " ".join(words + [" and ".join(g["genre"]) + " piece" if g["genre"] else "piece of music"])
    s = f"This is {article(noun)} {noun}"
    if medium:
        s += " at a medium tempo"
    instruments = [i for i in g["instrument"] if not _said_by_another(i, g["instrument"])]
    if instruments:
        s += f" featuring {join_words(instruments)}"
    if voices:
        voices = list(dict.fromkeys(voices))
        if len(voices) > 1:
            voices = [v for v in voices if v != "vocals"]  # "a male vocal" already says it
        phrases = [_VOICE_PHRASE.get(v, "vocals") for v in voices]
        s += (", with " if instruments else " with ") + join_words(list(dict.fromkeys(phrases)))
    return s + "."
