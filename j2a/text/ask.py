"""`j2a ask FILE "question"`: answers about a recording, factual ones straight from the analysis.

Why two paths: a question about tempo, key, meter, chords, instruments, genre, mood, vocals,
duration or loudness has an answer in the Analysis, so it is read from there (right by construction,
and saying "I can't detect a clear key" when the analysis has none). Anything else goes to the
LLM with the analysis as context, and its answer passes the same faithfulness guard as captions,
so it can never contradict what was measured.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis import Analysis, as_analysis
from .aspects import aspects_from_analysis, chord_progression, tempo_word
from .claims import extract_claims
from .concepts import IMPRESSION_TAGS, find_concept, support_tags
from .evidence import (
    CFG,
    check_claims,
    compound,
    key_fits,
    key_runners_up,
    norm_tag,
    present_tags,
    stated_bpm,
    stated_chords,
    stated_meter,
    tag_scores,
)


@dataclass
class Answer:
    question: str
    answer: str
    source: str  # "analysis" | "llm" | "model" (a J2A-2.x checkpoint)
    intent: str  # tempo, tempo_change, key, meter, chords, instruments, presence, when, genre, mood, vocals, duration, loudness,
    # is_music, suits, structure, unknowable, compound (evidence["parts"] holds each part's Answer), other
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_YESNO = re.compile(r"^\s*(?:is|are|was|were|does|do|did|has|have|can|could|would|will|any)\b", re.I)
_INTENTS = [  # first match wins; order puts the specific before the general
    (
        "unknowable",
        r"\b(?:who (?:composed|wrote|sings|sang|performs|performed|plays|played|made|produced|is (?:the |this )?"
        r"(?:singer|artist|band|composer|performer|rapper))|composer|artist|band name|title|called|"
        r"name of (?:the|this) (?:song|track|piece)|what (?:song|piece|track|work) is (?:this|it)|lyrics|"
        r"what (?:are|is) (?:they|he|she) (?:singing|saying)|words|(?:what|which) language|language|"
        r"what year|when was (?:it|this)|release date|released|which album|album|record label)\b",
    ),
    (
        "when",
        r"\b(?:when|at what (?:time|point)|what time|where in the (?:song|track|piece|recording)|how long into)\b",
    ),
    (
        "describe",
        r"\b(?:describe|description|tell me about|what does (?:it|this|the (?:song|track|music)) sound like|summari[sz]e)\b",
    ),
    (
        "is_music",
        r"\b(?:is (?:this|it) (?:music|a song|a piece of music|speech|noise)|music or|speech or|what kind of (?:sound|recording|audio))\b",
    ),
    (
        "tempo_change",  # read from the beat times: does the pulse hold, or move?
        r"\b(?:speed(?:s|ing)? up|slow(?:s|ing)? down|get(?:s|ting)? (?:faster|slower)|accelerat\w*|decelerat\w*|"
        r"ritardando|rallentando|accelerando|rubato|steady|tempo (?:change|changes|drift)|"
        r"change(?:s)? (?:of |in )?tempo|keep(?:s)? (?:a |the )?(?:steady )?(?:tempo|time|beat)|in strict time|drift)\b",
    ),
    ("tempo", r"\b(?:bpm|tempo|beats per minute|how fast|how slow|speed|pace)\b"),
    ("meter", r"\b(?:time signature|meter|metre|beats (?:per|in a|in each) bar|bar length|\d+/\d+ time)\b"),
    ("key", r"\b(?:key|tonality|tonal center|tonic|major or minor|minor or major)\b"),
    ("chords", r"\b(?:chords?|progression|harmon(?:y|ies|ic))\b"),
    ("duration", r"\b(?:how long|duration|length|how many (?:minutes|seconds))\b"),
    ("loudness", r"\b(?:loud|loudness|lufs|volume|dynamics?|dynamic range|how quiet|peak)\b"),
    ("vocals", r"\b(?:vocals?|sing(?:s|ing|er|ers)?|voices?|lyrics|instrumental|rap(?:ping|per)?|choir|vocalists?)\b"),
    ("instruments", r"\b(?:instruments?|instrumentation|what(?:'s| is) playing|who is playing)\b"),
    ("genre", r"\b(?:genre|style|what (?:kind|type|sort) of music|category)\b"),
    ("mood", r"\b(?:mood|feel(?:ing)?|emotion(?:s|al)?|vibe|atmosphere|happy|sad)\b"),
    (
        "suits",  # what it is good for: an occasion is a judgement J2A does not make; it says what bears on it
        r"\b(?:danc(?:e|es|eable|ing)|suit(?:s|ed|able)?|good for|fit(?:s)? (?:for|in)|use (?:it|this) (?:for|in|at)|"
        r"(?:party|wedding|film|movie|workout|work out|study(?:ing)?|sleep(?:ing)?|relax(?:ing)?|background music))\b",
    ),
    (
        "structure",  # read from the sections: what changes where
        r"\b(?:how does (?:it|this|the (?:song|track|piece|music)) (?:start|begin|open|end|finish|close|develop|"
        r"change|build|unfold|go)|structure|sections?|form|what happens|intro|outro|ending|beginning|build(?:s|ing)? up|"
        r"change(?:s)? over time|(?:loudest|quietest|softest) (?:part|section|moment|bit|point))\b",
    ),
]
# what a recording that is not music has none of: every intent from tempo on but its duration and loudness
_MUSICAL = {"presence", *(name for name, _ in _INTENTS[4:] if name not in ("duration", "loudness"))}


def classify(question: str) -> str:
    q = question.lower()
    if re.search(_INTENTS[0][1], q):  # "who sang this?" is not a vocals question
        return "unknowable"
    if re.search(_INTENTS[1][1], q) and any(
        c.category in ("instrument", "vocals") for c in extract_claims(question, closed=False)
    ):
        return "when"
    if re.search(r"\b(?:dance to|danceable|dancing|good for|suit(?:s|ed|able)?)\b", q):  # not "is it dance music?"
        return "suits"
    if _YESNO.match(q) and any(
        c.category in ("instrument", "vocals", "genre", "tempo", "key", "meter")
        for c in extract_claims(question, closed=False)
    ):
        return "presence"
    for name, pat in _INTENTS[2:]:
        if re.search(pat, q):
            return name
    return "other"


_CLAUSES = re.compile(r"\?|;|,|\band\b|\balso\b|\bplus\b", re.I)


def split_question(question: str) -> list[tuple[str, str]]:
    """(clause, intent) for each part of a compound question that has an intent of its own ("what key is it
    in and how fast?" -> key, tempo); one part (the whole question) otherwise."""
    parts = [(c.strip(), classify(c)) for c in _CLAUSES.split(question) if c.strip()]
    seen, out = set(), []
    for clause, intent in parts:
        if intent not in ("other", "describe") and intent not in seen:
            seen.add(intent)
            out.append((clause, intent))
    return out if len(out) > 1 else [(question, classify(question))]


CANT = "I can't answer that from what J2A measured."
UNKNOWABLE = (
    "J2A does not identify works, artists, lyrics, languages or release dates: it describes what the "
    "recording sounds like (tempo, key, chords, instruments, genre, mood, vocals)."
)


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:04.1f}"


def _tags_of(a: Analysis, group: str) -> list[tuple[str, float]]:
    present = present_tags(a)
    out = []
    for t in (getattr(a.tags, group) or []) if a.tags else []:
        k = norm_tag(t.label)
        if k in present and k not in (x for x, _ in out):
            out.append((k, float(t.score)))
    return sorted(out, key=lambda kv: -kv[1])


def _fmt_tags(tags) -> str:
    return ", ".join(f"{k} ({s:.2f})" for k, s in tags)


# ------------------------------------------------------------------------------- factual answers
def _tempo(a):
    t = a.tempo
    if t is None or not t.bpm:
        return "I can't detect a steady tempo in this recording.", {"bpm": None}
    if stated_bpm(a) is None:  # too few notes to show a pulse (a held note): the tracker's number is a guess
        n = a.notes.count
        text = f"Perhaps about {t.bpm:.0f} BPM, but J2A heard only {n} note{'s' * (n != 1)} and no drums: too few to show a tempo, so treat it as a guess."
        return text, {"bpm": t.bpm, "confidence": t.confidence}
    # 6/8, 9/8: the beat is a dotted quarter; say where its eighths run
    unit = f" in dotted quarters, its eighths at {3 * t.bpm:.0f}" if compound(a) else ""
    text = f"About {t.bpm:.0f} BPM{unit} (confidence {t.confidence:.2f})."
    alt = [c for c in t.candidates or [] if abs(c.bpm - t.bpm) > 0.1 * t.bpm and c.weight >= 0.2]
    if alt:
        text += " It could also be felt at " + " or ".join(f"{c.bpm:.0f} BPM" for c in alt[:2]) + "."
    if t.confidence < 0.3:
        text += " The pulse is not very clear, so treat this as a rough estimate."
    return text, {"bpm": t.bpm, "confidence": t.confidence}


_ASKS_UP = re.compile(r"\b(?:speed(?:s|ing)? up|faster|accelerat\w*)\b", re.I)
_ASKS_DOWN = re.compile(r"\b(?:slow(?:s|ing)? down|slower|decelerat\w*|ritardando|rallentando)\b", re.I)
_ASKS_STEADY = re.compile(
    r"\b(?:steady|strict time|in time|keep(?:s)? (?:a |the )?(?:steady )?(?:tempo|time|beat))\b", re.I
)


def _tempo_change(a, question: str = "", min_beats: int = 16, steady: float = 0.04):
    """Does the pulse hold, speed up or slow down? Read from the beat times: the median tempo of the first and the
    last quarter of the beats, and the range of 8-beat windows. Why the quarters and medians: one misplaced beat
    moves a single interval by a third; a quarter's median does not move. Within `steady` (4%) is a steady pulse,
    the tracker's own jitter on a metronomic render being about 1%. The answer's yes or no follows what was asked
    ("does it speed up?" / "is the tempo steady?")."""
    import numpy as np

    beats = np.asarray(a.beats or [], float)
    if len(beats) < min_beats or stated_bpm(a) is None:
        return "I can't tell: J2A found no steady pulse long enough to follow.", {"beats": len(beats)}
    ibi = np.diff(beats)
    q = max(len(ibi) // 4, 4)
    start, end = 60 / float(np.median(ibi[:q])), 60 / float(np.median(ibi[-q:]))
    windows = [60 / float(np.median(ibi[i : i + 8])) for i in range(0, len(ibi) - 7, 4)] or [start, end]
    lo, hi = min(windows), max(windows)
    ev = {"start_bpm": round(start, 1), "end_bpm": round(end, 1), "min_bpm": round(lo, 1), "max_bpm": round(hi, 1)}
    span = f"{_clock(beats[0])}-{_clock(beats[-1])}"
    asked = next(
        (d for d, pat in (("up", _ASKS_UP), ("down", _ASKS_DOWN), ("steady", _ASKS_STEADY)) if pat.search(question)),
        None,
    )
    if asked is None and _YESNO.match(question):
        asked = "change"  # "does the tempo change?"
    if end > start * (1 + steady) or end < start * (1 - steady):
        went = "up" if end > start else "down"
        lead = "" if asked is None else "Yes: " if asked in (went, "change") else "No: "
        verb = "speeds up" if went == "up" else "slows down"
        text, ev["change"] = (
            f"it {verb}, from about {start:.0f} BPM at the start to about {end:.0f} at the end ({span}).",
            went,
        )
    elif hi > lo * (1 + 2 * steady):
        lead = {None: "", "change": "Yes: ", "steady": "Not quite: "}.get(asked, "Not overall: ")
        text, ev["change"] = (
            f"it starts and ends at about {start:.0f} BPM, but moves between {lo:.0f} and {hi:.0f} on the way ({span}).",
            "varies",
        )
    else:
        lead = "" if asked is None else "Yes: " if asked == "steady" else "No: "
        within = f"; 8-beat spans within {lo:.0f}-{hi:.0f}" if round(lo) != round(hi) else ""
        text, ev["change"] = f"it keeps a steady pulse, about {start:.0f} BPM throughout ({span}{within}).", "steady"
    return (lead + text) if lead else text[0].upper() + text[1:], ev


def _key(a):
    k = a.key
    if k is None or not k.label:
        return "I can't detect a clear key.", {"key": None}
    text = f"{k.label} (confidence {k.confidence:.2f})."
    if k.confidence < 0.3:
        text = f"Probably {k.label}, but the key is not clear (confidence {k.confidence:.2f})."
    alt = key_runners_up(a)
    if alt:
        text += " It could also be heard in " + " or ".join(f"{c['label']} ({c['score']:.2f})" for c in alt) + "."
    return text, {"key": k.label, "confidence": k.confidence, "alternatives": [c["label"] for c in alt]}


def _meter(a):
    m = a.meter
    if m is None or not m.label:
        return "I can't determine the meter (time signature).", {"meter": None}
    beats = f"{m.beats_per_bar} beats per bar" + (", each divided in three" if compound(a) else "")
    text = f"{m.label}, {beats} (confidence {m.confidence:.2f})."
    if stated_meter(a) is None:
        text = f"Perhaps {m.label}, but the meter is not clear (confidence {m.confidence:.2f}): treat it as a guess."
    return text, {"meter": m.label, "confidence": m.confidence}


def _chords(a):
    chords = [c for c in a.chords or [] if c.label not in ("N", "X")]
    if not chords:
        return "I couldn't detect any chords.", {"chords": []}
    prog = chord_progression(chords, key=a.key.label if a.key is not None else None)
    distinct = sorted({c.label for c in chords})
    if not stated_chords(a):  # one line at a time: no chord sounds, the line only implies one
        return (
            f"J2A heard mostly one note at a time ({a.notes.voices:.1f} at once on average), so no chord sounds; "
            f"the line implies {prog}.",
            {"progression": prog, "n_chords": len(chords), "implied": True},
        )
    return (
        f"The main progression is {prog}; {len(chords)} chord segments using {len(distinct)} distinct chords.",
        {"progression": prog, "n_chords": len(chords)},
    )


def _instruments(a):
    inst = _tags_of(a, "instrument")
    if not inst:
        faint = [(norm_tag(t.label), float(t.score)) for t in (a.tags.instrument or [] if a.tags else [])][:4]
        if faint:  # listed by the taggers but below what a description may claim: say so, with the scores
            return (
                f"No instrument is clear enough to name for sure; the taggers hear a little of {_fmt_tags(faint)}.",
                {"instrument_tags": [], "faint_instrument_tags": faint},
            )
        return "No instrument stands out clearly in the tags.", {"instrument_tags": []}
    return f"Detected instruments: {_fmt_tags(inst)}.", {"instrument_tags": inst}


def _genre(a):
    g = _tags_of(a, "genre")
    if not g:
        return "I can't detect a clear genre.", {"genre_tags": []}
    return f"It sounds like {g[0][0]}" + (
        f" (also tagged {_fmt_tags(g[1:4])})" if len(g) > 1 else ""
    ) + f"; top score {g[0][1]:.2f}.", {"genre_tags": g}


def _moods(a: Analysis) -> list[tuple[str, float]]:
    """The mood tags a description may state, without musicnn's tempo and loudness impressions (measured)."""
    return [(k, sc) for k, sc in _tags_of(a, "mood") if k not in IMPRESSION_TAGS]


def _mood(a):
    m = _moods(a)
    if not m:
        return "No clear mood stands out in the tags.", {"mood_tags": []}
    return f"The mood tags are {_fmt_tags(m[:4])}.", {"mood_tags": m}


def _evidence_for(a, words: str) -> str | None:
    """What backs `words` ("vocals", "no drums") in the analysis, as the guard reads it, or None."""
    supported = check_claims(extract_claims(words, closed=False), a)[0]
    return supported[0][1] if supported else None


def _vocals(a):
    sung = _evidence_for(a, "vocals")
    voc = _tags_of(a, "vocals")
    if sung:
        pos = [(k, s) for k, s in voc if not k.startswith("no ") and k != "instrumental"]
        return f"Yes, there are vocals: {_fmt_tags(pos) or sung}.", {"vocal_tags": voc, "vocals": True}
    neg = [(k, s) for k, s in voc if k.startswith("no ") or k == "instrumental"]
    if neg:
        return f"No, it sounds instrumental ({_fmt_tags(neg)}).", {"vocal_tags": voc, "vocals": False}
    return "No vocals were detected.", {"vocal_tags": voc, "vocals": False}


def _duration(a):
    return f"{_clock(a.duration_s)} ({a.duration_s:.1f} seconds).", {"duration_s": a.duration_s}


def _loudness(a):
    L = a.loudness
    if L is None or L.integrated_lufs is None:
        return "I can't measure its loudness (too short or silent).", {"integrated_lufs": None}
    word = "loud" if L.integrated_lufs >= -12 else "quiet" if L.integrated_lufs <= -28 else "moderately loud"
    text = f"It is {word}: integrated loudness {L.integrated_lufs:.1f} LUFS, peak {L.peak_dbfs:.1f} dBFS"
    text += f", loudness range {L.loudness_range_lu:.1f} LU." if L.loudness_range_lu is not None else "."
    return text, {
        "integrated_lufs": L.integrated_lufs,
        "loudness_range_lu": L.loudness_range_lu,
        "peak_dbfs": L.peak_dbfs,
    }


def _is_music(a):
    from .describe import not_music_statement

    if a.is_music:
        return f"Yes, it is music (confidence {a.music.confidence:.2f}).", {"is_music": True}
    return "No. " + not_music_statement(a), {"is_music": False, "reason": a.music.reason}


def _presence(a, question):
    """Yes/no questions about things the vocabulary knows ("is there a guitar?", "is it in C major?")."""
    claims = [
        c
        for c in extract_claims(question, closed=False)
        if c.category in ("instrument", "vocals", "genre", "tempo", "key", "meter")
    ]
    if _EITHER_VOICE.search(question):  # "is the singer male or female?": which, not yes
        return _which_voice(a)
    supported, unsupported = check_claims(claims, a)
    raw = tag_scores(a)
    parts, ev = [], {}
    for c, e in supported:
        own = tempo_word(stated_bpm(a)) if c.category == "tempo" else None
        if own and c.concept in ("slow", "medium", "fast") and own != c.concept:
            # the guard's band allows the word, J2A's own description uses another
            lo, hi = CFG.word_bands
            called = "a medium tempo" if own == "medium" else own
            parts.append(
                f"Fairly {c.concept}: about {a.tempo.bpm:.0f} BPM, which J2A's descriptions call {called} "
                f"({lo:.0f}-{hi:.0f} BPM)."
            )
            ev[c.phrase] = {"answer": "maybe", "evidence": e}
            continue
        parts.append(f"Yes: {c.phrase} ({e}).")
        ev[c.phrase] = {"answer": "yes", "evidence": e}
    for c in unsupported:
        concept = find_concept(c.concept)
        answer = "no"
        if concept is not None and not concept.support and not concept.negative:
            text, answer = f"I can't tell: J2A's tagger cannot detect {c.phrase}.", "unknown"
        elif c.category == "key":
            k = a.key.label if a.key and a.key.label else None
            text = f"No: the key is {k}." if k else "I can't detect a clear key."
            answer = "no" if k else "unknown"
            alt = [x for x in key_runners_up(a) if key_fits(c.value, x["label"])]
            if alt:  # the asked key is a close runner-up: not a plain no
                text = f"Probably not: J2A hears {k} ({a.key.confidence:.2f}), though {alt[0]['label']} also fits ({alt[0]['score']:.2f})."
                answer = "maybe"
        elif c.category == "meter":
            if stated_meter(a):
                text = f"No: the meter is {a.meter.label}."
            else:  # none measured, or only a guess: neither yes nor no
                text = _meter(a)[0] if a.meter and a.meter.label else "I can't determine the meter."
                answer = "unknown"
        elif c.category == "tempo":
            if stated_bpm(a):
                text = f"No: the tempo is about {a.tempo.bpm:.0f} BPM."
            else:  # none measured, or only a guess: neither yes nor no
                text = _tempo(a)[0] if a.tempo and a.tempo.bpm else "I can't detect a steady tempo."
                answer = "unknown"
        elif concept is not None and (concept.negative or c.negated):
            pos = concept.positive_of if concept.negative else concept.key
            found = _evidence_for(a, pos)
            text = f"No: {pos} detected ({found})." if found else f"No: {pos} detected."
        elif concept is not None and (weak := _weak_tag(a, concept)) is not None:
            srcs = ", ".join(f"{m} {v:.2f}" for m, v in weak.sources.items())
            text = (
                f"Possibly: J2A hears a weak sign of {c.phrase} ('{weak.label}' {weak.score:.2f}; {srcs}), "
                "below the score at which it states an instrument as fact."
            )
            answer = "maybe"
        elif concept is not None:
            tags = sorted(support_tags(concept))
            best = max(((t, raw[t]) for t in tags if t in raw), key=lambda kv: kv[1], default=None)
            detail = f" (highest supporting tag '{best[0]}' scores {best[1]:.2f})" if best else ""
            text = (
                f"No, it is not tagged as {c.phrase}{detail}."
                if c.category == "genre"
                else f"No {c.phrase} detected{detail}."
            )
        else:
            text = "No: the analysis does not support that."
        parts.append(text)
        ev[c.phrase] = {"answer": answer, "evidence": text}
    return " ".join(parts), ev


_EITHER_VOICE = re.compile(r"\b(?:fe)?male or (?:a )?(?:fe)?male\b|\ban? (?:wo)?man or an? (?:wo)?man\b", re.I)


def _which_voice(a):
    """A male or a female voice, from the vocal tags a description may state; a voice of neither, said so."""
    sung = _evidence_for(a, "vocals")
    if not sung:
        return "No singer detected.", {"voice": None}
    found = {w: ev for w in ("female", "male") if (ev := _evidence_for(a, f"{w} vocals"))}
    if len(found) == 1:
        ((w, ev),) = found.items()
        return f"{w.capitalize()}: {ev}.", {"voice": w}
    if found:
        return f"Both a female and a male voice: {found['female']}; {found['male']}.", {"voice": "both"}
    return f"J2A hears a voice ({sung}) but cannot tell whether it is male or female.", {"voice": "unknown"}


def _when(a, question):
    """When an instrument or voice plays, from the tag timeline (both taggers per 3-s segment; a span
    opens at the listing score and closes only below two thirds of it, so a hovering score does not
    flicker)."""
    from ..features.fusion import LISTED

    tl = a.tags.timeline if a.tags is not None else None
    if tl is None or not tl.fused:
        return (
            "This analysis has no tag timeline (saved before J2A kept one): analyse the recording again "
            "to ask when something plays.",
            {"timeline": None},
        )
    parts, ev = [], {}
    for c in extract_claims(question, closed=False):
        concept = find_concept(c.concept)
        if concept is None or c.category not in ("instrument", "vocals"):
            continue
        names = support_tags(concept)
        keys = [k for k in tl.fused if k.split(":", 1)[0] in ("instrument", "vocals") and k.split(":", 1)[1] in names]
        spans = sorted(s for k in keys for s in tl.spans(k, on=LISTED, off=LISTED * 2 / 3))
        merged: list[list[float]] = []
        for s0, s1 in spans:
            if merged and s0 <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], s1)
            else:
                merged.append([s0, min(s1, a.duration_s)])
        if not concept.support:
            text = f"I can't tell: neither of J2A's taggers can detect {c.phrase}."
        elif not merged:
            text = f"J2A does not hear {c.phrase} at any point."
        else:
            when = ", ".join(f"{_clock(s0)}-{_clock(s1)}" for s0, s1 in merged)
            first = "from the start" if merged[0][0] < tl.hop_s else f"first at {_clock(merged[0][0])}"
            text = f"J2A hears {c.phrase} {first} ({when}; tags per {tl.hop_s:.0f}-s segment: {', '.join(keys)})."
        parts.append(text)
        ev[c.phrase] = {"spans": merged, "tags": keys}
    return (" ".join(parts) or "Ask about an instrument or the voice, e.g. 'when does the piano come in?'"), ev


def _structure(a, question, path):
    """How it starts, ends or unfolds: the sections J2A hears (`sections.describe_sections`: changes of harmony,
    notes and level, parts entering and leaving), the first or last for a question about either end."""
    from .sections import _clock as clock
    from .sections import describe_sections

    audio = str(path) if path is not None and Path(path).suffix.lower() not in (".json", ".jsonl") else None
    secs = describe_sections(a, audio)
    ev = {"sections": [{k: x[k] for k in ("start", "end", "caption")} for x in secs]}
    if len(secs) == 1:
        span = f"{clock(0)}-{clock(a.duration_s)}"
        return f"J2A hears it as one section ({span}): no clear change of harmony, notes or level.", ev
    q = question.lower()
    if m := re.search(r"\b(loudest|quietest|softest)\b", q):
        levels = [x.get("level_db") for x in secs]
        if None in levels:
            return "J2A compares levels over time from the audio itself, and was asked with a saved analysis only.", ev
        pick = max if m[1] == "loudest" else min
        sec = pick(secs, key=lambda x: x["level_db"])
        spread = max(levels) - min(levels)
        head = f"The {m[1]} part is {sec['caption'].split(': ')[0]}, {spread:.0f} dB from the {'quietest' if m[1] == 'loudest' else 'loudest'}"
        return f"{head} (J2A hears {len(secs)} sections). {sec['caption']}", ev
    if re.search(r"\b(?:end|finish|close|ending|outro)\b", q):
        pick = secs[-1:]
    elif re.search(r"\b(?:start|begin|open|beginning|intro)\b", q):
        pick = secs[:1]
    else:
        pick = secs
    head = f"J2A hears {len(secs)} sections. " if len(pick) > 1 else ""
    return head + " ".join(x["caption"] for x in pick), ev


def _weak_tag(a, concept):
    """A listed tag that would support `concept` but is below the claim score (fusion.Calibration.claim)."""
    if a.tags is None:
        return None
    names = support_tags(concept)
    listed = [t for g in ("instrument", "vocals", "genre") for t in getattr(a.tags, g) or [] if t.label in names]
    return max(listed, key=lambda t: t.score, default=None)


def _suits(a):
    """What bears on an occasion ("is it good for dancing?", "would it suit a film?"): the mood and style the
    taggers hear, the pulse, the drums. Said where the LLM's guarded answer does not speak to the occasion: a
    usage claim needs mood or style evidence, and without it the model answered beside the question ("There was
    no percussion in this clip." to the first, on a flamenco song)."""
    moods, genres = _moods(a)[:3], _tags_of(a, "genre")[:3]
    bpm = stated_bpm(a)
    heard = [f"mood {_fmt_tags(moods)}" if moods else "no clear mood"]
    heard.append(f"style {_fmt_tags(genres)}" if genres else "no clear style")
    heard.append(f"a pulse at about {bpm:.0f} BPM" if bpm else "no steady pulse")
    drums, no_drums = _evidence_for(a, "drums"), _evidence_for(a, "no drums")
    if drums:
        heard.append(f"drums ({drums})")
    elif no_drums:
        heard.append("no drums or percussion")
    text = "What J2A heard that bears on that: " + "; ".join(heard) + "."
    return text, {
        "mood_tags": moods,
        "genre_tags": genres,
        "bpm": bpm,
        "drums": bool(drums) if drums or no_drums else None,
    }


_FACTUAL = {
    "tempo": _tempo,
    "key": _key,
    "meter": _meter,
    "chords": _chords,
    "instruments": _instruments,
    "genre": _genre,
    "mood": _mood,
    "vocals": _vocals,
    "duration": _duration,
    "loudness": _loudness,
    "is_music": _is_music,
}


def ask(path_or_analysis, question: str, llm="local", adapter=None, model: str | None = None) -> Answer:
    """Answer `question` about a recording (a path, an Analysis or its dict).

    `model`: a trained J2A-2.x checkpoint that answers open questions and "describe it" from the
    audio itself (needs a path). Factual questions are still answered from the analysis, and the
    checkpoint's answers pass the same guard, so it can add words but never contradict a fact."""
    if not question or not question.strip():
        raise ValueError("empty question")
    if model:
        from .describe import load_checkpoint

        load_checkpoint(model)  # a bad checkpoint fails before the analysis is paid for
    a = as_analysis(path_or_analysis)
    parts = split_question(question)
    if len(parts) > 1:  # a compound question: each part answered from the analysis, in order
        answers = [ask(a, clause, llm=llm, adapter=adapter) for clause, _ in parts]
        return Answer(
            question,
            " ".join(x.answer for x in answers),
            "analysis",
            "compound",
            {"parts": [x.to_dict() for x in answers]},
        )
    intent = parts[0][1]
    if intent == "unknowable":
        return Answer(question, UNKNOWABLE, "analysis", intent, {})
    if not a.is_music and intent in _MUSICAL | {"when"}:
        from .describe import not_music_statement

        return Answer(
            question,
            not_music_statement(a)
            + " So it has no musical "
            + {"presence": "features to ask about", "suits": "features to judge that by"}.get(intent, intent)
            + ".",
            "analysis",
            intent,
            {"is_music": False, "reason": a.music.reason},
        )
    if intent == "presence":
        text, ev = _presence(a, question)
        return Answer(question, text, "analysis", intent, ev)
    if intent == "tempo_change":
        text, ev = _tempo_change(a, question)
        return Answer(question, text, "analysis", intent, ev)
    if intent == "when":
        text, ev = _when(a, question)
        return Answer(question, text, "analysis", intent, ev)
    if intent == "structure":
        text, ev = _structure(a, question, path_or_analysis if isinstance(path_or_analysis, (str, Path)) else None)
        return Answer(question, text, "analysis", intent, ev)
    if intent == "describe":  # the guarded whole-track caption
        from .describe import caption_from_analysis, not_music_statement

        if not a.is_music:
            return Answer(question, not_music_statement(a), "analysis", intent, {"is_music": False})
        if model:
            return _ask_checkpoint(path_or_analysis, a, question, model, intent)
        caption, name, fz = caption_from_analysis(a, llm, adapter=adapter)
        return Answer(
            question,
            caption,
            "analysis" if name == "template" else "llm",
            intent,
            {"model": name, "checked": fz.checked, "dropped": fz.dropped},
        )
    if intent in _FACTUAL:
        text, ev = _FACTUAL[intent](a)
        return Answer(question, text, "analysis", intent, ev)
    if model:
        return _ask_checkpoint(path_or_analysis, a, question, model, intent)
    ans = _ask_llm(a, question, llm, adapter)
    kept = ans.answer if ans.source == "llm" and not ans.answer.startswith(CANT) else ""  # the model's own words
    if intent == "suits" and not any(c.category in ("usage", "mood") for c in extract_claims(kept)):
        # the model's answer, once guarded, does not speak to the occasion: what bears on it, from the analysis
        text, ev = _suits(a)
        return Answer(question, text, "analysis", intent, {**ev, "llm_answer": ans.answer})
    return Answer(ans.question, ans.answer, ans.source, intent if ans.source == "llm" else ans.intent, ans.evidence)


def _ask_checkpoint(source, a: Analysis, question: str, model: str, intent: str) -> Answer:
    """A J2A-2.x checkpoint answers from the audio; unsupported claims are removed by the guard."""
    from .describe import checkpoint_and_audio
    from .guard import guard

    m, path = checkpoint_and_audio(model, source, a)
    raw = m.describe(path) if intent == "describe" else m.ask(path, question.strip())
    kept, checked, dropped = guard(raw, a)
    if not kept:
        kept = CANT
    return Answer(
        question, kept, "model", intent, {"model": f"j2a2:{Path(model).name}", "checked": checked, "dropped": dropped}
    )


def _ask_llm(a: Analysis, question: str, llm, adapter) -> Answer:
    """Open questions: the LLM answers from the analysis; the guard removes anything unsupported."""
    from . import prompts
    from .describe import drop_empty_sentences, get_llm, not_music_statement
    from .guard import guard

    aspects, facts = aspects_from_analysis(a)
    backend = get_llm(llm, adapter)
    context = prompts.template_caption(aspects, facts) if a.is_music else not_music_statement(a)
    name = getattr(backend, "name", str(llm))
    if name == "none":
        return Answer(
            question,
            "Without a language model I can only answer factual questions (tempo, key, meter, "
            f"chords, instruments, genre, mood, vocals, duration, loudness). What J2A measured: {context}",
            "analysis",
            "other",
            {"context": context},
        )
    prompt = f"Facts about the recording: {context}\nQuestion: {question.strip()}\nAnswer:"
    raw = backend.generate([prompt], max_new_tokens=80)[0]
    raw = raw.split("\nQuestion:")[0].strip()
    kept, checked, dropped = guard(raw, a)
    kept, empty = drop_empty_sentences(kept)  # "It is a recording." answers nothing
    dropped += empty
    if not kept:
        kept = f"{CANT} What it found: {context}"
    return Answer(
        question, kept, "llm", "other", {"model": name, "checked": checked, "dropped": dropped, "context": context}
    )


# -------------------------------------------------------------------------------------------- CLI
def cmd_ask(args) -> int:
    ans = ask(args.file, args.question, llm=args.llm, adapter=args.adapter, model=args.model)
    print(json.dumps(ans.to_dict(), indent=2) if args.json else ans.answer)
    return 0


def add_cli(subparsers) -> None:
    from ..cli import sub

    p = sub(
        subparsers,
        "ask",
        "answer a question about a recording (facts come straight from the analysis)",
        'j2a ask song.mp3 "What is the tempo?"\n'
        'j2a ask song.mp3 "Is there a guitar?" --json\n'
        'j2a ask song.mp3 "What key is it in and how fast is it?"\n'
        'j2a ask song.mp3 "When does the piano come in?"\n'
        'j2a ask song.mp3 "How does it end?"         # from the sections: what changes where\n'
        'j2a ask song.mp3 "Does it speed up?"        # from the beat times: steady, faster or slower\n'
        'j2a ask song.json "What key is it in?"      # song.json: j2a analyze song.mp3 --format json --out song.json\n'
        'j2a ask song.mp3 "What would this suit in a film?"   # the LLM, guarded; else the mood, style, pulse\n'
        'j2a ask song.mp3 "What is the instrument?" --model runs/j2a2',
    )
    p.add_argument(
        "file", metavar="FILE", help="audio file, or its saved analysis (.json from `j2a analyze`: no re-analysis)"
    )
    p.add_argument("question", help="the question, in quotes")
    p.add_argument(
        "--llm",
        default="local",
        metavar="SPEC",
        help="for open questions: local (J2A-LLM, default) | none | hf:MODEL | openai:MODEL@BASE_URL",
    )
    p.add_argument("--adapter", metavar="PATH", help="LoRA adapter folder for the LLM")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="a trained J2A-2.x checkpoint: answers open questions from the audio "
        "(factual ones still come from the analysis)",
    )
    p.add_argument("--json", action="store_true", help="print the answer with its source and evidence as JSON")
    p.set_defaults(func=cmd_ask)
