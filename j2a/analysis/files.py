"""Analyses saved in files (`j2a analyze --out X.json|X.jsonl`, `j2a describe` output), and `as_analysis`.

Why: analysing a 3-minute track costs seconds; describing a library analysed before, or asking a second
question about a song, should not pay it again.
"""

from __future__ import annotations

import json

from .schema import Analysis

SAVED_SUFFIXES = (".json", ".jsonl")


def is_saved_analysis(path) -> bool:
    """A file name that `j2a analyze --format json|jsonl` (or `j2a describe`) writes, not audio."""
    return str(path).lower().endswith(SAVED_SUFFIXES)


def iter_analyses(path):
    """(offset, Analysis) for each analysis saved in a file: `j2a analyze --format json` (one object or a
    list; offset None) or `jsonl` (one per line; offset = the line's byte position, for read_analysis_at),
    or `j2a describe` output (each row carries its analysis). Errors name the file.

    Why: analysing a 3-minute track costs about 8 s on 2 cores; describing a library analysed before,
    or asking a second question about a song, should not pay it again. Lines are read one at a time, so
    a library's worth of analyses (note events and all) need not fit in memory."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror.lower() if e.strerror else e}") from None
    i = 0
    with f:
        doc = None
        if not str(path).lower().endswith(".jsonl"):
            try:  # a JSON document; else JSON lines after all
                doc = json.loads(f.read())
            except json.JSONDecodeError:
                f.seek(0)
        if doc is not None:
            for i, r in enumerate(doc if isinstance(doc, list) else [doc], 1):
                yield None, _saved_row(path, i, r)
        else:
            offset = 0
            for line in f:
                if line.strip():
                    i += 1
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}: line {i} is not JSON ({e.msg})") from None
                    yield offset, _saved_row(path, i, r)
                offset += len(line)
    if not i:
        raise ValueError(f"{path}: no analyses in it")


def read_analysis_at(path, offset: int) -> Analysis:
    """The analysis on the JSON line that starts at byte `offset` of `path` (from iter_analyses)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return _saved_row(path, offset, json.loads(f.readline()))


def _saved_row(path, i, r) -> Analysis:
    r = r.get("analysis", r) if isinstance(r, dict) else r
    if not isinstance(r, dict) or "duration_s" not in r or "is_music" not in r:
        raise ValueError(f"{path}: entry {i} is not a J2A analysis (no duration_s / is_music)")
    return Analysis.from_dict(r)


def read_analyses(path) -> list[Analysis]:
    """Every analysis saved in a file (iter_analyses)."""
    return [a for _, a in iter_analyses(path)]


def as_analysis(x) -> Analysis:
    """An Analysis from an Analysis, its dict, a saved analysis file holding one (read_analyses), or an
    audio path (analysed now)."""
    if isinstance(x, Analysis):
        return x
    if isinstance(x, dict):
        return Analysis.from_dict(x)
    if is_saved_analysis(x):
        rows = read_analyses(x)
        if len(rows) > 1:
            raise ValueError(
                f"{x}: holds {len(rows)} analyses, not one: give the recording itself or a file with its analysis alone"
            )
        return rows[0]
    from .pipeline import analyze

    return analyze(x)
