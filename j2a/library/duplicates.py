"""`j2a duplicates`: groups of the same recording in a library (another format or bitrate, trimmed or padded),
each track with the evidence that joined it. Why apart: it compares every track with every other (blockwise,
union-find) rather than ranking for a query: it shares with search only the Library's vectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .db import Track
from .embed import timbre_size

if TYPE_CHECKING:
    from .core import Library


def duplicates(lib: Library, min_similarity: float = 0.98, tempo_tol: float = 0.02) -> list[list[Track]]:
    """Groups of the same recording (another format or bitrate, trimmed or padded): the timbre block of the
    audio embedding this close, the same key and the tempo within 2%. Why not the whole embedding: a lossy
    codec moves a short clip's chord boundaries, and with them the harmony block (dubstep.aac: 0.87 whole,
    0.996 timbre; the closest two different recordings of the shared clips: 0.905). Each track's `why` says
    what matched."""
    ids, mat = lib.matrix("audio_emb")
    if len(ids) < 2:
        return []
    mat = mat[:, : timbre_size()]
    mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-9)
    meta = {r["id"]: r for r in lib.con.execute("SELECT id, bpm, camelot, duration_s FROM tracks")}
    parent = {int(i): int(i) for i in ids}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    evidence: dict[int, list[str]] = {}
    for start in range(0, len(ids), 1024):  # blockwise: memory stays flat on big libraries
        sims = mat[start : start + 1024] @ mat.T
        for r, c in zip(*np.nonzero(sims >= min_similarity)):
            a, b = int(ids[start + r]), int(ids[c])
            if a >= b:
                continue
            ma, mb = meta[a], meta[b]
            if ma["camelot"] != mb["camelot"]:
                continue
            if (ma["bpm"] is None) != (mb["bpm"] is None) or (ma["bpm"] and abs(ma["bpm"] / mb["bpm"] - 1) > tempo_tol):
                continue
            parent[root(a)] = root(b)
            evidence.setdefault(a, []).append(
                f"#{b}: audio {sims[r, c]:.3f}, key {ma['camelot'] or '-'}, "
                f"{ma['bpm'] or 0:.1f}/{mb['bpm'] or 0:.1f} BPM, "
                f"{ma['duration_s']:.1f}/{mb['duration_s']:.1f} s"
            )
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) > 1:
            tracks = lib.tracks(sorted(members))
            for t in tracks:
                t.why = evidence.get(t.id, [])
            out.append(tracks)
    return sorted(out, key=lambda g: g[0].path)
