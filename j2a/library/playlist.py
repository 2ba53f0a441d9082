"""`j2a playlist`: a set of matching tracks ordered so each step mixes (key on the Camelot wheel, tempo), its
description in facts and in the J2A-LLM's guarded words, and its M3U file. Why apart: building and describing a
set is its own job on top of search (it takes search's full matches as its pool).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import Analysis
from ..theory import camelot, camelot_mixes
from .db import Track
from .embed import same_recording
from .query import Filters

if TYPE_CHECKING:
    from .core import Library


def _transition(a: Track, b: Track) -> float:
    """How hard the step a -> b is to mix: key distance round the Camelot wheel plus tempo distance
    (octave-folded, in twelfths of an octave)."""
    ka, kb = camelot(a.key), camelot(b.key)
    key = (
        0.0
        if camelot_mixes(ka, kb)
        else (
            1.0 + min((int(ka[:-1]) - int(kb[:-1])) % 12, (int(kb[:-1]) - int(ka[:-1])) % 12) / 6 if ka and kb else 1.5
        )
    )
    ba, bb = a.bpm, b.bpm
    tempo = 1.0 if not (ba and bb) else min(abs(math.log2(ba * f / bb)) for f in (1, 2, 0.5)) * 12
    return key + tempo


def playlist(lib: Library, query: str, minutes: float = 45.0, filters: Filters | None = None) -> list[Track]:
    """Matching tracks, ordered so each step mixes: the next track is the closest in key (Camelot) and tempo
    among the best matches, until the set is `minutes` long."""
    pool, _ = lib.search(query, filters, limit=500, strict=True)  # a set holds what was asked for
    if not pool:
        return []
    out, left, total = [pool[0]], pool[1:], pool[0].duration_s
    while left and total < minutes * 60:
        prev = out[-1]
        nxt = min(left, key=lambda t: _transition(prev, t) - 0.5 * t.score)
        left.remove(nxt)
        if any(same_recording(nxt.analysis, t.analysis) for t in out):
            continue  # the same recording twice (another format) is no set
        out.append(nxt)
        total += nxt.duration_s
    return out


def set_description(tracks: list[Track]) -> str:
    """What a set is, in facts: length, genres and instruments, tempo and key arc, each sentence built from the
    tracks' analyses alone (a template: it can claim nothing they do not hold)."""
    if not tracks:
        return "An empty set."
    minutes = sum(t.duration_s for t in tracks) / 60
    from ..features.fusion import stated_labels

    count: dict[tuple[str, str], int] = {}
    for t in tracks:
        for g in ("genre", "instrument"):  # only what a description of the track itself could state
            labels = stated_labels(t.analysis.tags, g) if t.analysis.tags else set()
            stated = [tag for tag in getattr(t.analysis.tags, g, None) or [] if not tag.sources or tag.label in labels]
            for tag in stated[:2]:
                count[(g, tag.label)] = count.get((g, tag.label), 0) + 1

    def top(g):
        return [lab for (gg, lab), n in sorted(count.items(), key=lambda kv: -kv[1]) if gg == g][:3]

    bpms = [t.bpm for t in tracks if t.bpm]
    parts = [f"A {len(tracks)}-track set of about {max(1, round(minutes))} minute{'s' if round(minutes) > 1 else ''}."]
    if top("genre"):
        parts.append(f"Mostly {', '.join(top('genre'))}.")
    if top("instrument"):
        parts.append(f"Instruments heard most: {', '.join(top('instrument'))}.")
    if len(bpms) >= 2:
        arc = "rises" if bpms[-1] > bpms[0] * 1.04 else "falls" if bpms[-1] < bpms[0] * 0.96 else "holds steady"
        parts.append(f"The tempo {arc} from about {bpms[0]:.0f} to {bpms[-1]:.0f} BPM.")
    keys = [camelot(t.key) for t in tracks if t.key]
    if keys:
        parts.append(f"Keys (Camelot): {' → '.join(keys)}.")
    return " ".join(parts)


def pooled_analysis(tracks: list[Track]) -> Analysis:
    """The evidence a description of the whole set may use: each tag group keeps the labels listed on at least
    half of the music tracks, with the median of every score over all of them (absent = 0), so a label one
    track carries cannot be said of the set. Tempo, key, meter, chords and notes are left out: they change from
    track to track, and the set's arc is stated from the tracks themselves (`set_description`)."""
    from ..analysis.schema import MusicDetection, Tag, Tags

    music = [t.analysis for t in tracks if t.is_music and t.analysis.tags is not None]

    def median(values: list[float]) -> float:
        return float(np.median(values + [0.0] * (len(music) - len(values)))) if values else 0.0

    def pool(group: str) -> list[Tag]:
        by_label: dict[str, list[Tag]] = {}
        for a in music:
            for tag in getattr(a.tags, group) or []:
                by_label.setdefault(tag.label, []).append(tag)
        out = []
        for label, tags in by_label.items():
            if 2 * len(tags) >= len(music):
                sources = {src for t in tags for src in t.sources}
                out.append(
                    Tag(
                        label,
                        median([t.score for t in tags]),
                        {src: median([t.sources[src] for t in tags if src in t.sources]) for src in sources},
                    )
                )
        return sorted(out, key=lambda t: -t.score)

    def pool_scores(name: str) -> dict[str, float]:
        keys = {k for a in music for k in getattr(a.tags, name)}
        return {k: median([getattr(a.tags, name)[k] for a in music if k in getattr(a.tags, name)]) for k in keys}

    tags = Tags(**{g: pool(g) for g in ("genre", "instrument", "mood", "vocals")})
    tags.scores, tags.audioset = pool_scores("scores"), pool_scores("audioset")
    duration = sum(t.duration_s for t in tracks)
    return Analysis("a set", duration, bool(music), MusicDetection(bool(music), 1.0, "music"), tags=tags)


def set_caption(tracks: list[Track], llm="local") -> str:
    """The J2A-LLM's words for the set's shared sound, written from and guarded against `pooled_analysis`
    (the same faithfulness guard as a track's description); "" when nothing is shared or the set is not music."""
    from ..text.describe import captions_from_analyses

    pooled = pooled_analysis(tracks)
    if not pooled.is_music or not any(getattr(pooled.tags, g) for g in ("genre", "instrument")):
        return ""
    ((caption, _, fz),) = captions_from_analyses([pooled], llm=llm)
    if fz.fallback:  # the guard kept no try: the template's words for the pool ("This is a set of music.") add nothing
        return ""
    # the model was trained on single tracks: its "song" is the set here (its facts go without the length: describe's
    # `fact_sentences(..., duration=False)`, and set_description says it)
    return re.sub(r"\b(?:song|track|piece|tune|recording)\b", "set", caption)


def write_m3u(tracks: list[Track], out: str | os.PathLike) -> None:
    """An extended M3U playlist (UTF-8 when the name ends in .m3u8), the format every player reads."""
    lines = ["#EXTM3U"] + [f"#EXTINF:{round(t.duration_s)},{Path(t.path).stem}\n{t.path}" for t in tracks]
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
