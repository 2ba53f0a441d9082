"""Ranking a library's tracks: `search` (a query's filters, then meaning; near misses after the full matches, each
`why` saying what it meets and misses) and `similar` (by the audio embedding, `mixable` keeping keys and tempi
that mix). Why apart: ranking is the Library's largest job; written as functions of a Library (bound as its
methods in core.py), over the vectors and nearest-neighbour lookup the Library owns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..theory import camelot, camelot_mixes
from .db import Track
from .embed import audio_embedding, text_embeddings
from .query import Filters, match_filters, parse_query, tag_filters, tag_strength, where_clause, why

if TYPE_CHECKING:
    from .core import Library


def tempo_mixes(a: float | None, b: float | None, tol: float = 0.06) -> bool:
    """Within ±6% of each other, or of double / half the other (a 70 and a 140 BPM track mix)."""
    if not a or not b:
        return False
    return any(abs(a * f / b - 1) <= tol for f in (1.0, 2.0, 0.5))


def search(
    lib: Library, query: str = "", filters: Filters | None = None, limit: int = 10, strict: bool = False
) -> tuple[list[Track], Filters]:
    """Tracks for a query in words: its numbers and vocabulary become filters (merged over `filters`, the
    command's flags), the whole query then ranks what passes by text-embedding similarity.

    Where fewer than `limit` tracks meet every filter, near misses follow (unless `strict`): the tracks
    nearest the query in meaning, ranked by how much of the filters they meet (`match_filters`), each `why`
    naming what it misses. Why: the facts a filter reads are measured, and measuring fails in ways a person
    would forgive (a tempo heard at double time, a key heard as its relative minor, 2/2 heard as 4/4); a
    hard filter turns each such error into a lost track (attribute recall@10 on rendered scores went from
    0.32 to the figure in bench/RESULTS.md "Search quality")."""
    f, rest = parse_query(query)
    if filters is not None:
        for name, value in vars(filters).items():
            if value not in (None, [], True) or (name == "is_music" and value is False):
                setattr(f, name, value)
    where, args = where_clause(f)
    q = text_embeddings([query])[0] if query.strip() else None
    pool = max(200, 20 * limit) if tag_filters(f) else limit  # ranked by tag strength below: rank many
    ids, sims = _candidates(lib, q, pool, where, tuple(args))
    hits = lib.tracks(ids)
    for t, sim in zip(hits, sims):
        t.score, t.match = float(sim), 1.0
        t.why = why(t, f) + ([f"text similarity {sim:.2f}"] if q is not None else [])
    hits = sorted(hits, key=lambda t: -(t.score + tag_strength(t, f)))[:limit]
    if not strict and len(hits) < limit and f.active():
        hits += _near_misses(lib, q, f, limit - len(hits), {t.id for t in hits})
    return hits, f


def _candidates(lib: Library, q, k: int, where: str = "", args: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """(ids, similarities) of k tracks passing `where`: the nearest to the query embedding q, or with no query
    words (flags only) the first in id order, similarity 0."""
    if q is not None:
        return lib.nearest("text_emb", q, k, where, args)
    rows = lib.con.execute(f"SELECT id FROM tracks {where} ORDER BY id LIMIT ?", (*args, k))
    ids = np.array([r[0] for r in rows], np.int64)
    return ids, np.zeros(len(ids))


def _near_misses(lib: Library, q, f: Filters, n: int, taken: set[int]) -> list[Track]:
    """The n best tracks that miss some filter: among the query's nearest in meaning (or the first by id),
    those meeting most of the filters, then the nearest. `is_music` stays a hard filter."""
    pool = max(200, 20 * n)
    music = "" if f.is_music is None else f"WHERE is_music = {int(f.is_music)}"
    ids, sims = _candidates(lib, q, pool + len(taken), music)
    keep = [(int(i), float(sim)) for i, sim in zip(ids, sims) if int(i) not in taken]
    scored = []
    for t, (_, sim) in zip(lib.tracks([i for i, _ in keep]), keep):
        t.match, met, missed = match_filters(t, f)
        if t.match > 0:
            t.score = float(sim)
            t.why = (
                met + ["near miss: " + ", ".join(missed)] + ([f"text similarity {sim:.2f}"] if q is not None else [])
            )
            scored.append(t)
    scored.sort(key=lambda t: (-t.match, -(t.score + tag_strength(t, f))))
    return scored[:n]


def similar(lib: Library, ref: int | str, limit: int = 10, mixable: bool = False) -> list[Track]:
    """Nearest tracks by audio embedding; `mixable` keeps keys that mix (Camelot +-1, relative major/minor)
    within 6% of the tempo (or at double / half)."""
    me = lib.track(ref)
    depth = min(len(lib), 5000) if mixable else limit  # --mixable filters after ranking: rank many
    ids, sims = lib.nearest("audio_emb", audio_embedding(me.analysis), depth, "WHERE id != ?", (me.id,))
    out = []
    my_key, my_bpm = camelot(me.key), me.bpm
    for i in range(len(ids)):
        t = lib.tracks([ids[i]])[0]
        key, bpm = camelot(t.key), t.bpm
        if mixable and not (camelot_mixes(my_key, key) and tempo_mixes(my_bpm, bpm)):
            continue
        t.score = float(sims[i])
        t.why = [
            f"audio similarity {sims[i]:.2f}",
            f"key {key or '?'} vs {my_key or '?'}",
            f"{bpm or 0:.0f} vs {my_bpm or 0:.0f} BPM",
        ]
        out.append(t)
        if len(out) >= limit:
            break
    return out
