"""A query's words and the command's flags as filters, and how well a track meets them.

`parse_query` turns a query's numbers and vocabulary into `Filters` (the rest of the query ranks by meaning);
`where_clause` is their SQL, `match_filters` the partial credit a near miss earns, `tag_strength` how strongly a
track carries the asked tags, `carried` the one reading of a tag filter outside SQL. Why apart: search, its near
misses and the server's query parameters share these rules, and none of them reads the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text.evidence import CFG as _CFG
from ..theory import camelot, camelot_mixes
from .db import Track


@dataclass
class Filters:
    """What a query's words (or the command's flags) pin down; the rest of the query ranks by meaning."""

    bpm: tuple[float, float] | None = None
    key: str | None = None
    mode: str | None = None  # "minor" / "major" ("in a minor key")
    camelot: str | None = None
    meter: str | None = None
    genre: list[str] = field(default_factory=list)
    instrument: list[str] = field(default_factory=list)
    vocals: str | None = None  # yes | no | female | male | choir | rapping | a cappella (VOCAL_KINDS)
    mood: list[str] = field(default_factory=list)
    is_music: bool | None = True

    def active(self) -> bool:
        """Does it pin down anything beyond music / not music?"""
        return any(v not in (None, []) for k, v in vars(self).items() if k != "is_music")

    def describe(self) -> str:
        parts = []
        if self.bpm:
            parts.append(f"bpm {self.bpm[0]:.0f}-{self.bpm[1]:.0f}")
        for name in ("key", "mode", "camelot", "meter", "vocals"):
            if getattr(self, name):
                parts.append(f"{name} = {getattr(self, name)}")
        for name in ("genre", "instrument", "mood"):
            if getattr(self, name):
                parts.append(f"{name} = {' & '.join(getattr(self, name))}")
        if self.is_music is False:
            parts.append("not music")
        return ", ".join(parts) or "none"


_NOTE = r"([a-g])(#|b|\s+sharp|\s+flat)?"
_TEMPO_WORDS = {
    "slow": (0.0, 90.0),
    "fast": (115.0, 400.0),
    "medium tempo": (90.0, 115.0),
    "mid tempo": (90.0, 115.0),
    "moderate tempo": (90.0, 115.0),
    "uptempo": (115.0, 400.0),
    "up tempo": (115.0, 400.0),
}
_VOCAL_WORDS = [
    (r"\b(?:instrumental|no vocals?|without vocals?|no singing)\b", "no"),
    (r"\b(?:choirs?|choral|chorus)\b", "choir"),
    (r"\b(?:rap|rapping|rappers?)\b", "rapping"),
    (r"\ba cappella\b", "a cappella"),
    (r"\b(?:female (?:vocals?|voices?|singers?|vocalists?)|woman singing|sung by a woman)\b", "female"),
    (r"\b(?:male (?:vocals?|voices?|singers?|vocalists?)|man singing|sung by a man)\b", "male"),
    (r"\b(?:with vocals?|vocals?|singing|singers?|sung)\b", "yes"),
]


# --vocals / query words -> the vocals label a track must carry ("yes" / "no": any voice / none)
VOCAL_KINDS = {
    "female": "female vocals",
    "male": "male vocals",
    "choir": "choir",
    "rapping": "rapping",
    "a cappella": "a cappella",
}


def parse_query(query: str) -> tuple[Filters, str]:
    """(filters, the words left to rank by): 'calm piano pieces in D minor around 70 bpm' ->
    key D minor, bpm 66-74, instrument piano; 'calm pieces' ranks."""
    from ..features.fusion import VOCAB

    q = " " + re.sub(r"(?<=[a-z])-(?=[a-z])", " ", query.lower()) + " "
    f = Filters()

    def take(pattern):
        nonlocal q
        m = re.search(pattern, q)
        if m:
            q = q[: m.start()] + " " + q[m.end() :]
        return m

    if m := take(r"\b(\d{2,3})\s*(?:to|-|–)\s*(\d{2,3})\s*bpm\b"):
        f.bpm = (float(m[1]), float(m[2]))
    elif m := take(r"\b(?:around|about|near|~|roughly)\s*(\d{2,3})\s*bpm\b"):
        f.bpm = (float(m[1]) * 0.94, float(m[1]) * 1.06)
    elif m := take(r"\b(\d{2,3})\s*bpm\b"):
        f.bpm = (float(m[1]) * 0.96, float(m[1]) * 1.04)
    else:
        for word, rng in sorted(_TEMPO_WORDS.items(), key=lambda kv: -len(kv[0])):
            if take(rf"\b{word}\b"):
                f.bpm = rng
                break
    if m := take(rf"\b(?:in\s+)?{_NOTE}\s*(major|minor)\b(?!\s+key)"):
        acc = (m[2] or "").strip().replace("sharp", "#").replace("flat", "b")
        f.key = f"{m[1].upper()}{acc} {m[3]}"
    elif m := take(r"\b(?:in\s+)?(?:a\s+)?(major|minor)\s+key\b"):
        f.mode = m[1]
    if m := take(r"\b(1[0-2]|[1-9])\s*([ab])\b"):
        f.camelot = f"{m[1]}{m[2].upper()}"
    if m := take(r"\b([2-9]|1[0-2])\s*/\s*(4|8|2)\b"):
        f.meter = f"{m[1]}/{m[2]}"
    elif take(r"\b(?:waltz(?:es)?|triple meter|in three)\b"):
        f.meter = "3/4"
    if take(r"\bnot music\b|\bnon music\b"):
        f.is_music = False
    for pattern, value in _VOCAL_WORDS:
        if take(pattern):
            f.vocals = value
            break
    for group, out in (("genre", f.genre), ("instrument", f.instrument)):
        for label in sorted(VOCAB[group], key=len, reverse=True):
            if take(rf"\b{re.escape(label)}(?:s|es)?\b"):
                out.append(label)
    rest = re.sub(r"\s+", " ", q).strip()
    return f, rest


def where_clause(f: Filters) -> tuple[str, list]:
    from ..features.fusion import FAMILIES

    sql, args = [], []
    if f.bpm:
        sql.append("bpm BETWEEN ? AND ?")
        args += list(f.bpm)
    if f.key:
        sql.append("camelot = ?")  # enharmonic spellings meet on the wheel
        args.append(camelot(f.key))
    if f.mode:
        sql.append("key LIKE ?")
        args.append(f"% {f.mode}")
    if f.camelot:
        sql.append("camelot = ?")
        args.append(f.camelot)
    if f.meter:
        sql.append("meter = ?")
        args.append(f.meter)
    if f.is_music is not None:
        sql.append("is_music = ?")
        args.append(int(f.is_music))
    for group in ("genre", "instrument", "mood"):
        for label in getattr(f, group):
            names = sorted({label} | FAMILIES.get(label, set()))
            sql.append(f"id IN (SELECT track_id FROM tags WHERE grp = ? AND label IN ({','.join('?' * len(names))}))")
            args += [group, *names]
    # "id IN (tags by label)", not "EXISTS (... track_id = tracks.id)": SQLite then reads the few tracks a tag
    # names through the tags_label index instead of probing every track (a filter no track passes took ~2 s at 1M)
    voiced = "id IN (SELECT track_id FROM tags WHERE grp = 'vocals' AND label != 'instrumental (no vocals)')"
    if f.vocals == "no":  # and long enough to have heard a voice (a description's absence rule)
        sql.append(f"NOT {voiced} AND duration_s >= {ABSENCE_MIN_S}")
    elif f.vocals == "yes":
        sql.append(voiced)
    elif f.vocals:
        sql.append("id IN (SELECT track_id FROM tags WHERE grp = 'vocals' AND label = ?)")
        args.append(VOCAL_KINDS[f.vocals])
    return ("WHERE " + " AND ".join(sql)) if sql else "", args


def why(t: Track, f: Filters) -> list[str]:
    out = []
    if f.bpm and t.bpm:
        out.append(f"{t.bpm:.0f} BPM")
    if (f.key or f.mode or f.camelot) and t.key:
        out.append(f"key {t.key} ({camelot(t.key)})")
    if f.meter and t.meter:
        out.append(f"meter {t.meter}")
    for g in ("genre", "instrument", "mood"):
        for label in getattr(f, g):
            out += [f"{lab} {sc:.2f}" for lab, sc in carried(t, g, label)][:2]
    if f.vocals:
        voices = [f"{lab} {sc:.2f}" for (gg, lab), sc in t.tags.items() if gg == "vocals"]
        out.append(", ".join(voices) if voices else "no vocals listed" + _too_short(t))
    return out


def _too_short(t: Track) -> str:
    """What a missing tag is worth on a clip too short for the taggers to hear what is absent."""
    return f" (too short to tell: {t.duration_s:.0f} s)" if (t.duration_s or 0) < ABSENCE_MIN_S else ""


def tag_filters(f: Filters) -> list[tuple[str, str]]:
    asked = [(g, label) for g in ("genre", "instrument", "mood") for label in getattr(f, g)]
    return asked + ([("vocals", VOCAL_KINDS[f.vocals])] if f.vocals in VOCAL_KINDS else [])


def tag_strength(t: Track, f: Filters) -> float:
    """How strongly a track carries the tags a query asks for: the mean of its best fused score per asked
    label (the label or a member of its family), 0 when none is asked. Why: a tag filter passes a string
    quartet with a faint "piano" 0.2 as readily as a piano piece at 0.9; ranking by the score puts the piano
    piece first."""
    asked = tag_filters(f)
    if not asked:
        return 0.0
    best = [max((sc for _, sc in carried(t, g, label)), default=0) for g, label in asked]
    return sum(best) / len(best)


UNKNOWN = 0.5  # a fact J2A could not measure (no steady pulse, no clear key) is no evidence either way
ABSENCE_MIN_S = _CFG.absence_min_s  # no voice heard in a shorter clip is not "instrumental" (text.evidence)
_METER_FAMILY = {"2": "duple", "4": "duple", "3": "triple", "6": "compound", "9": "compound", "12": "compound"}


def match_filters(t: Track, f: Filters) -> tuple[float, list[str], list[str]]:
    """(share of the filters met, what it meets, what it misses). Near values earn part of a filter, each the
    kind of error measuring makes: a tempo at double or half (0.75) or within 10% of the range (0.5); the
    relative or parallel key, or a Camelot neighbour (0.5); a meter of the same family, 2/2 or 4/2 heard as
    4/4 (0.75); a fact not measured (`UNKNOWN`)."""
    met, missed, parts = [], [], []

    def judge(name: str, credit: float, note: str) -> None:
        parts.append(credit)
        (met if credit == 1 else missed).append(note if credit == 1 else f"{name} {note}")

    if f.bpm:
        lo, hi = f.bpm
        bpm = t.bpm
        if not bpm:  # no pulse measured: not "slow" (a band from 0 BPM), no evidence either way
            judge("tempo", UNKNOWN, "unknown")
        elif lo <= bpm <= hi:
            judge("tempo", 1, f"{bpm:.0f} BPM")
        elif k := next((k for k in (0.5, 2.0) if lo <= bpm * k <= hi), None):
            level = "half" if k == 0.5 else "double"
            judge("tempo", 0.75, f"{bpm:.0f} BPM (its {level}, {bpm * k:.0f} BPM, is in {lo:.0f}-{hi:.0f})")
        elif lo * 0.9 <= bpm <= hi * 1.1:
            judge("tempo", 0.5, f"{bpm:.0f} BPM (near {lo:.0f}-{hi:.0f})")
        else:
            judge("tempo", 0, f"{bpm:.0f} BPM")
    mine = camelot(t.key)
    for name, want in (("key", camelot(f.key) if f.key else None), ("camelot", f.camelot)):
        if want:
            same_tonic = f.key is not None and t.key is not None and t.key.split()[0] == f.key.split()[0]
            credit = 1 if mine == want else 0.5 if (camelot_mixes(mine, want) or same_tonic) else 0 if mine else UNKNOWN
            judge(name, credit, f"{t.key} ({mine})" if t.key else "unknown")
    if f.mode:
        judge("mode", 1 if (t.key or "").endswith(f.mode) else 0 if t.key else UNKNOWN, t.key or "unknown")
    if f.meter:
        same = t.meter and _METER_FAMILY.get(t.meter.split("/")[0]) == _METER_FAMILY.get(f.meter.split("/")[0])
        credit = 1 if t.meter == f.meter else 0.75 if same else 0 if t.meter else UNKNOWN
        judge("meter", credit, f"{t.meter or 'unknown'} (asked {f.meter})")
    for g in ("genre", "instrument", "mood"):
        for label in getattr(f, g):
            hits = carried(t, g, label)
            judge(g, 1 if hits else 0, hits[0][0] if hits else f"no {label}")
    if f.vocals:
        voices = {lab for (gg, lab), _ in t.tags.items() if gg == "vocals" and lab != "instrumental (no vocals)"}
        ok = {"no": not voices, "yes": bool(voices)}.get(f.vocals, VOCAL_KINDS.get(f.vocals) in voices)
        short = _too_short(t)
        unheard = f.vocals == "no" and ok and short  # no voice heard in 2 s: no evidence either way
        judge("vocals", UNKNOWN if unheard else 1 if ok else 0, ", ".join(sorted(voices)) or "none" + short)
    return (sum(parts) / len(parts) if parts else 1.0), met, missed


def carried(t: Track, group: str, label: str) -> list[tuple[str, float]]:
    """(label, score) of the track's tags that answer an asked label: the label itself or a member of its family
    ("strings" is answered by a violin). The one reading of a tag filter outside SQL (where_clause)."""
    family = _family(label)
    return [(lab, sc) for (g, lab), sc in t.tags.items() if g == group and (lab == label or lab in family)]


def _family(label: str) -> set[str]:
    from ..features.fusion import FAMILIES

    return FAMILIES.get(label, set())


def filters_from_args(args) -> Filters:
    """Filters from the command's flags (or the server's query parameters of the same names); ValueError names a
    malformed one."""
    f = Filters(is_music=None)
    if getattr(args, "bpm", None):
        lo, _, hi = args.bpm.partition("-")
        try:
            f.bpm = (float(lo), float(hi or lo))
        except ValueError:
            raise ValueError(f"bpm {args.bpm!r}: give a tempo or a range, e.g. 120 or 60-80") from None
    if getattr(args, "vocals", None) and args.vocals not in ("yes", "no", *VOCAL_KINDS):
        raise ValueError(f"vocals {args.vocals!r}: one of yes, no, {', '.join(VOCAL_KINDS)}")
    for name in ("key", "camelot", "meter", "vocals"):
        setattr(f, name, getattr(args, name, None))
    for name in ("genre", "instrument", "mood"):
        setattr(f, name, list(getattr(args, name, None) or []))
    return f
