"""The faithfulness guard: every sentence of a description is checked claim by claim against the analysis,
and each unsupported claim is repaired the way its concept's table row says (j2a.text.concepts.CONCEPTS /
REPAIRS), or its sentence goes.

Why repairs and not only drops: a 270M model packs a whole instrumentation into one sentence ("violin,
strings, brass and percussion"), and dropping it for one wrong item lost every right one; MusicCaps habits
("the low quality recording features ...", "sings in Spanish") wrap true claims in words nothing measures.

One loop does it all. For a sentence: find its claims once (`extract_claims`, with their character spans),
judge them (`check_claims`), and give every unsupported claim the first repair of its row that applies at
its span:
- "modifier": cut the claim's own words where they only qualify (an adjective before its noun, "a sad
  song" -> "a song"; a trailing phrase, "sings in Spanish" -> "sings");
- "item": cut the list item that holds it ("guitar, drums and a saxophone" -> "guitar and drums");
- "opener": cut the sentence back to its head ("This jazz song features a sax ..." -> "This is a jazz song.");
- "sentence": drop the sentence.
All cuts are made on the spans at once. The result is judged again with the same extractor and kept only
if it claims nothing unsupported (a cut can change what a negation covers).
"""

from __future__ import annotations

import re

from .claims import extract_claims
from .concepts import repairs_for
from .evidence import CFG, EvidenceConfig, check_claims

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_SEP = re.compile(r",\s*(?:and\s+)?|\s+and\s+")  # list items: commas and "and" (item 0 is the sentence's head)
MAX_ITEM_WORDS = (
    6  # a longer "item" is a clause after a comma ("After 2 bars, the saxophone plays ..."), not a list item
)
# words after which a cut adjective would leave no noun ("a sad and ..."), or before which it is no adjective
_FUNCTION = r"(?:and|but|or|with|in|of|is|was|are|were|to|for|about|that|which|as|on|at|by|from|features?|has|have)\b"
_DETERMINER = re.compile(r"(?:^|\b(?:a|an|the|this|that|its|their|his|her|some)\s+)$", re.I)
_COORD_LEFT = re.compile(r"(?:,\s*|\s+(?:and|or)\s+)$")
_COORD_RIGHT = re.compile(r"^(?:\s*,\s*(?:and\s+)?|\s+(?:and|or)\s+)")
_PHRASE_END = re.compile(r"^\s*(?:[.,;!?]|$|(?:over|with|and|while|as|to|on|at|along|accompanied)\b)", re.I)
_PREPOSITION = re.compile(r"^(?:in|on|at|with|by|from|during)\b", re.I)
# a repaired sentence that ends on a function word or an article lost its complement ("The audio is in mono and
# noisy." -> "The audio is."): it goes whole
_DANGLING = re.compile(rf"\b(?:{_FUNCTION}|a\b|an\b|the\b)\W*$", re.I)
# MusicCaps' opener "This jazz song features a saxophone playing the melody.": when what it features is
# unsupported, "This is a jazz song." keeps the genre (and the antecedent of the next sentence's "This").
_OPENER = re.compile(
    r"^(?:This|It)\s+(?:is\s+)?(?:an?\s+)?(?P<desc>[\w/&' -]+?)\s+"
    r"(?P<noun>song|piece|track|tune|instrumental|composition)\s+(?:that\s+|which\s+)?"
    r"(?:features?|has|contains|includes?|with)\b",
    re.I,
)


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", (text or "").strip())
    return [s.strip() for s in _SENT.split(text) if s.strip()]


def _claim_row(claim, evidence) -> dict:
    return {
        "category": claim.category,
        "phrase": claim.phrase,
        "concept": claim.concept,
        "negated": claim.negated,
        "supported": evidence is not None,
        "evidence": evidence,
    }


def guard(text: str, analysis, cfg: EvidenceConfig = CFG) -> tuple[str, list[dict], list[dict]]:
    """(kept text, checked claims, dropped or rewritten sentences). Repeated sentences (a failure mode of small
    models) go, stuttering lists are cut back (_unstutter), and a trailing unfinished sentence is cut."""
    sentences = split_sentences(text)
    if sentences and not re.search(r"[.!?\"')]$", sentences[-1]):
        sentences = sentences[:-1] or [sentences[-1] + "."]
    kept, checked, dropped, seen = [], [], [], set()
    for s in sentences:
        norm = re.sub(r"\W+", " ", s.lower()).strip()
        if not norm or norm in seen:
            continue
        seen.add(norm)
        r = _unstutter(s)
        if r != s:
            dropped.append({"sentence": s, "claims": ["repetition"], "rewritten": r})
            s = r
        supported, unsupported = check_claims(extract_claims(s), analysis, cfg)
        if unsupported and (r := repair(s, unsupported)) is not None:
            sup2, uns2 = check_claims(extract_claims(r), analysis, cfg)
            if not uns2:
                dropped.append({"sentence": s, "claims": [str(c) for c in unsupported], "rewritten": r})
                supported, unsupported, s = sup2, [], r
        checked += [_claim_row(c, e) for c, e in supported] + [_claim_row(c, None) for c in unsupported]
        if unsupported:
            dropped.append({"sentence": s, "claims": [str(c) for c in unsupported]})
        else:
            kept.append(s)
    if kept:  # its antecedent was dropped: "This is accompanied by percussion ..." cannot open a caption
        kept[0] = re.sub(r"^(?:This|It) is accompanied by ", "The music features ", kept[0])
    return " ".join(kept), checked, dropped


# ------------------------------------------------------------------------------------- repairs
def repair(s: str, unsupported) -> str | None:
    """`s` with every unsupported claim repaired by its table row (concepts.repairs_for), or None if one of
    them can only be dropped with its sentence."""
    items = _item_spans(s)
    cuts: list[tuple[int, int]] = []
    gone: set[int] = set()
    opener = False
    for claim in unsupported:
        done = False
        for kind in repairs_for(claim):
            if kind == "modifier" and (cut := _modifier_cut(s, *claim.span)) is not None:
                cuts.append(cut)
            elif kind == "item" and (k := _item_of(items, s, claim.span[0])) is not None:
                gone.add(k)
            elif kind == "opener" and _opener_keeps(s, unsupported):
                opener = True
            else:
                continue
            done = True
            break
        if not done:
            return None
    if opener:  # what follows the head goes anyway, with whatever else was cut there
        m = _OPENER.match(s)
        desc, noun = m["desc"].strip(), m["noun"].lower()
        return f"This is {article(desc.lower())} {desc} {noun}."
    out = _tidy(_apply(s, items, cuts, gone))
    return None if _DANGLING.search(out) else out


def _item_spans(s: str) -> list[tuple[int, int]]:
    """Character spans of the sentence's list items (its final punctuation left out)."""
    end = len(s) - (1 if s[-1:] in ".!?" else 0)
    spans, start = [], 0
    for m in _SEP.finditer(s, 0, end):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, end))
    return [(a, b) for a, b in spans if s[a:b].strip()]


def _item_of(items, s: str, pos: int) -> int | None:
    """The index of the list item holding `pos`, if cutting it leaves a sentence: not the head, and a short
    item (a longer one is a clause)."""
    for k, (a, b) in enumerate(items):
        if a <= pos < b:
            return k if k > 0 and len(s[a:b].split()) <= MAX_ITEM_WORDS else None
    return None


def _modifier_cut(s: str, start: int, end: int) -> tuple[int, int] | None:
    """The characters to cut so that the words s[start:end] go and a sentence remains, or None.

    An adjective goes with a coordinating neighbour ("an upbeat and happy song" -> "an upbeat song") when a
    determiner or another adjective stands before it and a noun after it; a trailing prepositional phrase
    ("in Spanish", "in a foreign language") goes when the clause ends or goes on with a new phrase."""
    before, after = s[:start], s[end:]
    if re.search(r"\b(?:is|are|was|were|seems?|sounds?|of)\b", s[start:end], re.I):
        return None  # "the audio quality is", "quality of the recording": a clause, not a qualifier
    if _PREPOSITION.match(s[start:end]) and _PHRASE_END.match(after):
        return (len(before.rstrip()), end)
    left = _COORD_LEFT.search(before)
    right = _COORD_RIGHT.match(after)
    a, b = start, end
    if left and re.search(r"\w$", before[: left.start()]):
        a = left.start()
    elif _DETERMINER.search(before):
        b = end + (right.end() if right else len(after) - len(after.lstrip()))
    else:
        return None
    rest = s[b:] if b > end else after
    if not re.match(rf"^\s*(?!{_FUNCTION})[a-z]", rest):
        return None
    return (a, b)


def _opener_keeps(s: str, unsupported) -> bool:
    """Does cutting back to 'This is a <desc> <noun>.' leave out every unsupported claim?"""
    m = _OPENER.match(s)
    return m is not None and all(c.span[0] >= m.end("noun") for c in unsupported)


def _apply(s: str, items, cuts: list[tuple[int, int]], gone: set[int]) -> str:
    def cut_inside(a: int, b: int) -> str:
        out, pos = [], a
        for ca, cb in sorted(cuts):
            if ca >= a and cb <= b and ca >= pos:
                out.append(s[pos:ca])
                pos = cb
        return "".join(out) + s[pos:b]

    end = s[-1] if s[-1:] in ".!?" else ""
    if not gone:
        return cut_inside(0, len(s))
    kept = [cut_inside(a, b).strip() for k, (a, b) in enumerate(items) if k not in gone]
    return _join_items(kept, end)


def _tidy(s: str) -> str:
    """Articles and spaces after a cut: 'a upbeat' -> 'an upbeat', 'an song' -> 'a song'."""
    out = re.sub(r"\b([Aa])n\s+(?=[b-df-hj-np-tv-z])", r"\1 ", s)
    out = re.sub(r"\b([Aa])\s+(?=[aeiou])", r"\1n ", out)
    out = re.sub(r"\s+([,.;!?])", r"\1", re.sub(r"\s{2,}", " ", out)).strip()
    return out[:1].upper() + out[1:]


def _join_items(items: list[str], end: str) -> str:
    return (items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]) + end


def article(word: str) -> str:
    """'a' or 'an' before `word` (by its first letter)."""
    return "an" if word[:1] in "aeiou" else "a"


def _unstutter(s: str, stem: int = 5, limit: int = 3) -> str:
    """Cut a list that stutters on one word ("upbeat, groovy, punchy, punch like, punchlike, punchly,
    punchable and infectious": beam search on a 270M model does this) back to its first variant.
    Items are split at commas and "and"; an item's key is the first `stem` letters of its first word
    (of its last word for the sentence head). Nothing else changes unless a key repeats `limit` times;
    an item said twice word for word is cut at any count."""
    end = s[-1] if s[-1:] in ".!?" else ""
    items = [s[a:b].strip() for a, b in _item_spans(s)]
    words = [re.findall(r"[a-z]+", i.lower()) for i in items]
    keys = [(w[-1] if k == 0 else w[0])[:stem] if w else "" for k, w in enumerate(words)]
    if len(items) < limit or max(keys.count(k) for k in keys if k) < limit:
        # no stutter; an item said twice word for word ("lively, spirited, spirited and engaging") goes
        said = [" ".join(w) for w in words]
        kept = [i for k, i in enumerate(items) if k == 0 or said[k] not in said[:k]]
        return s if len(kept) == len(items) else _join_items(kept, end)
    kept, seen = [], set()
    for item, key in zip(items, keys):
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(item)
    return _join_items(kept, end)
