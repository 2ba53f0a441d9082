"""Claims in text: every phrase a description uses about the music (a concept's words, a key, a meter, a tempo,
a quoted title), with its span and whether it is negated; in the closed world, every other word that is not a
function word or a generic music word is an 'unknown' claim.

Why spans: the guard repairs a sentence by cutting a claim's own words or its list item
(`j2a.text.guard`), so it must know where each claim stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .concepts import CONCEPTS, FUNCTION_WORDS, MUSIC_WORDS


@dataclass
class Claim:
    category: str
    phrase: str  # the words as written in the text
    concept: str  # Concept.key, or a normalised value for key / meter / bpm claims
    span: tuple[int, int]
    negated: bool = False  # "no drums", "without vocals", "vocals are absent"
    value: object = None  # bpm (float), key label ("C major"), mode ("minor"), beats per bar (int)

    def __str__(self) -> str:
        return f"{'not ' if self.negated else ''}{self.category}:{self.concept} ({self.phrase!r})"


_CHORD_WORD = re.compile(r"^[a-g](?:b|#)?(?:m|maj|min|dim|aug|sus)?\d*$")


# a chord symbol as J2A writes it ("F#m", "Bbmaj7", "C#dim", "D/F#"): its letters are not words
_CHORD_TOKEN = re.compile(r"(?<![\w#])[A-G](?:#|b)?(?:maj|min|dim|aug|sus|m)?\d*(?:/[A-G](?:#|b)?)?(?![\w#])")


def _unknown_words(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, Claim]]:
    """Words outside every claim span that the closed world does not hold, as 'unknown' claims."""
    out = []
    taken = taken + [m.span() for m in _CHORD_TOKEN.finditer(text)]
    for m in re.finditer(r"[A-Za-z]+(?:'[a-z]+)?", text):
        w = m.group(0).lower()
        if w in FUNCTION_WORDS or w in MUSIC_WORDS or _CHORD_WORD.match(w) or any(a <= m.start() < b for a, b in taken):
            continue
        out.append((m.start(), m.end(), Claim("unknown", m.group(0), "unknown word", (m.start(), m.end()))))
    return out


_NEGATORS = (
    r"\b(?:no|not|without|lacks?|lacking|absent|absence of|free of|devoid of|never|neither|nor|minus|zero|n't)\b|n't\b"
)
_RESETS = r"\b(?:but|with|while|whereas|though|although|yet|instead|featuring|features?|has|have|plays?|playing|which|that|and then|only)\b"
_POST_NEG = (
    r"^\W{0,3}(?:\w+\W+){0,2}?(?:(?:is|are|were|was)\s+)?(?:absent|missing|not present|not heard|not audible|"
    r"nowhere|drops? out|fades? out|fade away|stops?|disappears?|falls? silent|(?:is|are) gone)\b"
)
_NOT_A_CLAIM_AFTER = {  # words after a match that make it something else
    "instrumental": r"^\W*(?:break|section|part|intro|outro|passage|interlude|solo|bridge)",
    "drums": r"^\W*(?:and bass|n bass|& bass)",
    "slow": r"^\W*(?:build|builds|fade|fades|buildup|attack|release|burn|down|decay)",
    "fast": r"^\W*(?:fade|attack|decay)",
    "quick": r"^\W*(?:fade|burst|run|runs|notes|succession)",
}


def _word_regex(form: str) -> str:
    return form.replace(" ", r"[\s\-]*") if " ?" in form else form.replace(" ", r"[\s\-]+")


def _build_patterns():
    pats = []
    for c in CONCEPTS:
        for w in c.words:
            pats.append((re.compile(rf"(?<![\w\-']){_word_regex(w)}(?![\w'])", re.I), c))
    return pats


_PATTERNS = _build_patterns()
_NOTE = r"(?P<root>[A-G])(?P<acc>#|b|♯|♭|\s+sharp|\s+flat)?"
_KEY_RE = re.compile(
    rf"(?<![\w/]){_NOTE}[\s\-]*(?P<mode>(?i:major|minor|maj|min))\b(?!\s*(?:chord|triad|7|seventh|scale degree))(?:\s+(?i:key|tonality))?"
)
_MODE_RE = re.compile(
    r"\b(?:in\s+(?:(?-i:a)\s+)?)?(?P<mode>major|minor)\s+(?:key|tonality|mode)\b"
    r"|\bin\s+(?:(?-i:a)\s+)?(?P<mode2>major|minor)\b(?!\s+(?:chord|third|sixth|seventh|second|scale))",
    re.I,
)
_METER_RE = re.compile(r"(?<![\w/.])(?P<num>[2-9]|1[0-2])\s*/\s*(?P<den>2|4|8|16)(?![\w/])")
_QUOTED_RE = re.compile(r"[\"“][^\"”]{2,80}[\"”]")
_BPM_RE = re.compile(
    r"(?<![\w.])(?P<bpm>\d{2,3}(?:\.\d+)?)\s*(?:-\s*\d{2,3}\s*)?(?:bpm|beats per minute|beats a minute)\b", re.I
)


_STARTS_CLAUSE = re.compile(
    r"^\s*(?:play|plays|playing|provides?|carr(?:y|ies)|drives?|keeps?|adds?|joins?|comes?|enters?|"
    r"kicks?|(?:is|are|was|were)\s+(?!present|heard|audible|used|featured|included|found|detected)\w+)\b",
    re.I,
)


def _list_item(clause: str) -> bool:
    """A bare list continuation between commas: '', 'or', 'drums or' (not 'and a', 'just')."""
    words = clause.lower().split()
    return (
        len(words) <= 3
        and not any(w in ("a", "an", "the", "just", "only", "but", "plus", "also") for w in words)
        and not re.search(_RESETS, clause, re.I)
    )


def _negated(text: str, start: int, end: int) -> bool:
    """Is the mention at text[start:end] inside a negation ("no drums", "without vocals", "vocals are absent")?

    Scope: from a negator to the end of its clause, so "no vocals, but a guitar" negates only vocals;
    a comma-separated list stays negated ("no guitar, drums or vocals") unless the item starts a new
    clause ("no vocals, drums play").
    """
    left = text[:start]
    cut = max(left.rfind(ch) for ch in ".;:!?()\n,")
    clause = left[cut + 1 :]
    neg = None
    for m in re.finditer(_NEGATORS, clause, re.I):
        neg = m
    if neg is not None:
        if not re.search(_RESETS, clause[neg.end() :], re.I):
            return True
    elif cut >= 0 and left[cut] == "," and _list_item(clause) and not _STARTS_CLAUSE.match(text[end:]):
        return _negated(text, cut, cut)
    right = text[end:]
    right = right[: min([len(right)] + [i for i in (right.find(ch) for ch in ".;!?,") if i >= 0])]
    return re.search(_POST_NEG, right, re.I) is not None


_APOSTROPHE_S = re.compile(r"\b([A-Za-z]+)['’]s\b")


def extract_claims(text: str, closed: bool = True) -> list[Claim]:
    """Every checkable statement in `text`: instruments, vocals, genre, tempo, key and meter, in order, and
    (closed=True, the guard's rule) every word outside them that the closed world does not hold.

    Overlapping matches keep the longest ("acoustic guitar" over "guitar", "drum and bass" over "drums").
    A word's "'s" (a possessive, or "is") is read without it ("the singer's voice" claims a singer, "there's" is
    "there"); the spans stay those of `text`.
    """
    text = _APOSTROPHE_S.sub(r"\1  ", text)
    found: list[tuple[int, int, Claim]] = []
    for pat, c in _PATTERNS:
        for m in pat.finditer(text):
            after = text[m.end() :]
            if c.key in _NOT_A_CLAIM_AFTER and re.match(_NOT_A_CLAIM_AFTER[c.key], after, re.I):
                continue
            if m.group(0).lower() in ("quick", "rapid") and not re.match(
                r"^\W*(?:tempo|pace|paced|beat|rhythm)", after, re.I
            ):
                continue  # "quick" alone is usually about notes, not tempo
            if c.key == "piano" and m.group(0).lower() == "keys" and re.match(r"^\s+of\b", after):
                continue
            found.append((m.start(), m.end(), Claim(c.category, m.group(0), c.key, (m.start(), m.end()))))
    for m in _KEY_RE.finditer(text):
        if (
            m.group("root") == "A"
            and not m.group("acc")
            and re.match(r"^\s*(?:[\w\-]+)", text[m.end() :])
            and not re.match(
                r"^\s*(?:key|scale|tonality|mode|and|or|to|with|throughout|that|which)\b", text[m.end() :], re.I
            )
            and (m.start() == 0 or re.search(r"[.!?]\s*$", text[: m.start()]))
        ):
            continue  # "A major highlight is ...": an article, not the key of A
        label = _key_label(m.group("root"), m.group("acc"), m.group("mode"))
        found.append((m.start(), m.end(), Claim("key", m.group(0), label, (m.start(), m.end()), value=label)))
    for m in _MODE_RE.finditer(text):
        mode = (m.group("mode") or m.group("mode2")).lower()
        found.append((m.start(), m.end(), Claim("key", m.group(0), f"{mode} mode", (m.start(), m.end()), value=mode)))
    for m in _METER_RE.finditer(text):
        label = f"{m.group('num')}/{m.group('den')}"
        found.append((m.start(), m.end(), Claim("meter", m.group(0), label, (m.start(), m.end()), value=label)))
    for m in _QUOTED_RE.finditer(text):  # a quoted name is a song / artist title: never supported
        found.append((m.start(), m.end(), Claim("attribution", m.group(0), "quoted title", (m.start(), m.end()))))
    for m in _BPM_RE.finditer(text):
        bpm = float(m.group("bpm"))
        found.append((m.start(), m.end(), Claim("tempo", m.group(0), f"{bpm:g} BPM", (m.start(), m.end()), value=bpm)))
    found.sort(key=lambda t: (-(t[1] - t[0]), t[0]))
    taken: list[tuple[int, int]] = []
    claims = []
    for s, e, cl in found:
        if any(s < te and ts < e for ts, te in taken):
            continue
        taken.append((s, e))
        cl.negated = _negated(text, s, e)
        claims.append(cl)
    if closed:
        claims += [cl for _, _, cl in _unknown_words(text, taken)]
    return sorted(claims, key=lambda c: c.span)


def _key_label(root: str, acc: str | None, mode: str) -> str:
    acc = (acc or "").strip().lower()
    acc = {"♯": "#", "sharp": "#", "♭": "b", "flat": "b"}.get(acc, acc)
    mode = {"maj": "major", "min": "minor"}.get(mode.lower(), mode.lower())
    return f"{root.upper()}{acc} {mode}"
