"""From an analysis to what a prompt may say: aspect words for the tags the analysis asserts, measured facts
(tempo, key, meter, a chord loop), every aspect checked against the same analysis.
"""

from __future__ import annotations

from ..theory import chord_symbol
from .claims import extract_claims
from .evidence import (
    CFG,
    EvidenceConfig,
    check_claims,
    compound,
    leads,
    norm_tag,
    present_tags,
    stated_bpm,
    stated_chords,
    stated_meter,
)

READABLE = {
    "hip-hop": "hip hop",
    "female vocals": "female vocal",
    "male vocals": "male vocal",
    "instrumental (no vocals)": "instrumental",
    "acoustic instruments": "acoustic",
    "progressive rock": "progressive rock",
    "classic": "classical",
    "rnb": "r&b",
    "male": "male vocal",
    "female": "female vocal",
    "man": "male vocal",
    "woman": "female vocal",
    "male voice": "male vocal",
    "female voice": "female vocal",
    "male vocalists": "male vocal",
    "female vocalists": "female vocal",
    "female vocalist": "female vocal",
    "vocal": "vocals",
    "voice": "vocals",
    "singing": "vocals",
    "no vocal": "instrumental",
    "no vocals": "instrumental",
    "no voice": "instrumental",
    "beat": "beat",
    "beats": "beat",
    "00s": "2000s",
    "mellow": "mellow",
    "choral": "choir",
}
_SKIP_ASPECT = {"loud", "quiet", "soft", "solo", "weird", "fast", "slow", "party", "sexy", "catchy"}


def tag_word(label: str) -> str:
    """How a description names a tag: 'msd:Hip-Hop' -> 'hip hop', 'female vocals' -> 'female vocal'."""
    k = norm_tag(label)
    return READABLE.get(k, k)


def aspect_word(label: str) -> str | None:
    """How a prompt names a tag (tag_word), or None for the words a description never takes from a tag
    (loud, fast, party...: the measurements say those)."""
    return None if norm_tag(label) in _SKIP_ASPECT else tag_word(label)


def tempo_word(bpm: float | None, cfg: EvidenceConfig = CFG) -> str | None:
    """The tempo word a caption may use for `bpm` (consistent with the guard's checks)."""
    if bpm is None:
        return None
    if bpm < cfg.word_bands[0]:
        return "slow"
    if bpm > cfg.word_bands[1]:
        return "fast"
    return "medium"


def chord_loop(chords, max_len: int = 8) -> list[str]:
    """The most repeated loop of 2-4 chords (Harte labels), else the first `max_len` changes.

    Why a loop: a 3-minute song has hundreds of chord segments; its progression is what repeats.
    """
    seq: list[str] = []
    for c in chords or []:
        lab = c.label if hasattr(c, "label") else c["label"]
        if lab in ("N", "X") or not _short_chord(lab):
            continue
        if not seq or _short_chord(seq[-1]) != _short_chord(lab):
            seq.append(lab)
    best, best_cover = None, 0
    for n in (4, 3, 2):
        counts: dict[tuple, int] = {}
        last: dict[tuple, int] = {}
        for i in range(len(seq) - n + 1):
            g = tuple(_short_chord(x) for x in seq[i : i + n])
            if n == 4 and g[:2] == g[2:]:
                continue  # Am-F-Am-F is the 2-chord loop Am-F
            if i >= last.get(g, -n):  # non-overlapping occurrences
                counts[g] = counts.get(g, 0) + 1
                last[g] = i + n
        if counts:
            g, k = max(counts.items(), key=lambda kv: kv[1])
            if k >= 2 and k * n > best_cover + 1:  # a longer loop must cover clearly more
                best, best_cover = g, k * n
    if best:
        i = next(i for i in range(len(seq)) if tuple(_short_chord(x) for x in seq[i : i + len(best)]) == best)
        return seq[i : i + len(best)]
    return seq[:max_len]


def chord_progression(chords, max_len: int = 8, key: str | None = None) -> str | None:
    """Readable progression of `chord_loop`: 'Am - F - C - G' (None when there are no chords);
    roots spelled by `key` when given ('Bb - Eb - F', not 'A# - D# - F')."""
    loop = chord_loop(chords, max_len)
    return " - ".join(chord_symbol(x, key) for x in loop) if loop else None


def _short_chord(label: str) -> str | None:
    """Harte 'A:min7' -> 'Am7'; 'N' (no chord) -> None (j2a.theory.chord_symbol, the one chord speller)."""
    return chord_symbol(label) or None


def aspects_from_analysis(analysis, cfg: EvidenceConfig = CFG) -> tuple[list[str], dict]:
    """What a caption may mention: aspect phrases for the supported tags, plus measured facts.

    Only tags the analysis asserts become aspects, and every aspect passes `check_claims` against
    the same analysis, so a model that only repeats its prompt cannot be unfaithful.
    """
    facts: dict = {"duration_s": round(float(getattr(analysis, "duration_s", 0.0) or 0.0), 1)}
    if not getattr(analysis, "is_music", True):
        return [], facts
    tags = present_tags(analysis, cfg)
    order = []
    t = analysis.tags
    for group in ("genre", "instrument", "vocals", "mood"):
        ranked = sorted(getattr(t, group) or [], key=lambda x: -x.score) if t else []
        if group == "genre" and ranked:
            ranked = [g for g in ranked if leads(g.score, ranked[0].score, cfg)]
        for tag in ranked:
            k = norm_tag(tag.label)
            if k in tags and k not in _SKIP_ASPECT:
                order.append(READABLE.get(k, k))
    aspects: list[str] = []
    for a in order:
        if a not in aspects and (
            a != "instrumental" or not any(v in aspects for v in ("vocals", "male vocal", "female vocal"))
        ):
            aspects.append(a)
    if "instrumental" in aspects and any(v in aspects for v in ("vocals", "male vocal", "female vocal", "choir")):
        aspects.remove("instrumental")
    if "vocals" in aspects and any(v in aspects for v in ("male vocal", "female vocal")):
        aspects.remove("vocals")  # "male vocal" already says it
    bpm = stated_bpm(analysis, cfg)
    if bpm is not None:
        facts["tempo_bpm"] = round(bpm)
        if not compound(analysis):
            aspects.append(f"{tempo_word(bpm, cfg)} tempo")
    key = getattr(analysis, "key", None)
    if key is not None and key.label:
        facts["key"] = key.label
    meter = stated_meter(analysis, cfg)
    if meter:
        facts["meter"] = meter
    loop = chord_loop(stated_chords(analysis, cfg))
    if loop:
        facts["chords"] = loop  # Harte labels, as j2a.text.prompts.format_prompt expects
    # keep only aspects the guard accepts (e.g. 'beat' alone is fine, a stray tag name is not)
    aspects = [a for a in aspects if not check_claims(extract_claims(a), analysis, cfg)[1]]
    return aspects, facts
