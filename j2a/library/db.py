"""The library's SQLite file: schema and its migrations, the connection, and a track's row written and read.

Why SQLite (the standard library's sqlite3): one file a user can copy, open with any tool and query with SQL;
WAL mode lets a search read while an index run writes; one transaction per track means a killed run keeps
every track it finished. Embeddings are float32 BLOBs; search is exact (numpy) over all rows, which stays
interactive to a few hundred thousand tracks (bench/library_scale.py, bench/RESULTS.md).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..analysis import Analysis
from ..theory import camelot
from .embed import audio_embedding

SCHEMA_VERSION = 2
# schema version -> the statements that bring a database from the version before to it
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE tracks(
             id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, size INTEGER, mtime REAL, hash TEXT,
             duration_s REAL, is_music INTEGER, bpm REAL, key TEXT, camelot TEXT, meter TEXT,
             analysis BLOB NOT NULL, description TEXT, text_emb BLOB, audio_emb BLOB, indexed_at REAL)""",
        "CREATE INDEX tracks_hash ON tracks(hash)",
        "CREATE TABLE tags(track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE, grp TEXT, label TEXT, score REAL,"
        " PRIMARY KEY(track_id, grp, label))",
        "CREATE INDEX tags_label ON tags(grp, label)",
        "CREATE TABLE errors(path TEXT PRIMARY KEY, size INTEGER, mtime REAL, error TEXT, at REAL)",
    ],
    2: [  # a change counter, so an approximate index beside the file knows when it is stale (j2a.ann)
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER)",
        "INSERT INTO meta VALUES ('generation', 0)",
        *(
            f"CREATE TRIGGER tracks_{op.lower()} AFTER {op} ON tracks BEGIN "
            "UPDATE meta SET value = value + 1 WHERE key = 'generation'; END"
            for op in ("INSERT", "UPDATE", "DELETE")
        ),
    ],
}


class LibraryError(ValueError):
    """A database J2A cannot use (newer schema, not a J2A library): one line for the user."""


def _blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, np.float32).tobytes()


def _vec(b: bytes | None) -> np.ndarray | None:
    return None if b is None else np.frombuffer(b, np.float32)


def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """Open (or create) a library database at the current schema, migrating an older one. A newer schema or a
    file that is not a J2A library is refused with LibraryError (one line)."""
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)  # autocommit; transactions explicit
    con.row_factory = sqlite3.Row
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA foreign_keys=ON")
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as e:
        con.close()
        raise LibraryError(f"{path}: not a J2A library database ({e})") from None
    if version > SCHEMA_VERSION:
        con.close()
        raise LibraryError(f"{path}: library schema {version} is newer than this J2A's ({SCHEMA_VERSION}): upgrade j2a")
    if version == 0 and tables:
        con.close()
        raise LibraryError(f"{path}: an SQLite file that is not a J2A library (tables: {', '.join(sorted(tables))})")
    for v in range(version + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN IMMEDIATE")
        for stmt in MIGRATIONS[v]:
            con.execute(stmt)
        con.execute(f"PRAGMA user_version={v}")
        con.execute("COMMIT")
    return con


@dataclass
class Track:
    """A library track: the facts kept in columns, the full analysis decoded only when asked for."""

    id: int
    path: str
    description: str | None
    bpm: float | None
    key: str | None
    meter: str | None
    duration_s: float
    is_music: bool
    tags: dict[tuple[str, str], float] = field(default_factory=dict)  # (group, label) -> fused score
    blob: bytes | None = field(default=None, repr=False)
    why: list[str] = field(default_factory=list)  # why it matched (search, similar, playlist)
    score: float = 0.0
    match: float = 1.0  # search: the share of the filters it meets (1 = all; less for a near miss)

    @functools.cached_property
    def analysis(self) -> Analysis:
        return Analysis.from_dict(json.loads(zlib.decompress(self.blob)))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "score": round(self.score, 4),
            "match": round(self.match, 3),
            "why": self.why,
            "bpm": round(self.bpm, 1) if self.bpm else None,
            "key": self.key,
            "camelot": camelot(self.key),
            "meter": self.meter,
            "duration_s": self.duration_s,
            "is_music": self.is_music,
            "description": self.description,
        }


COLUMNS = "id, path, description, bpm, key, meter, duration_s, is_music, analysis"


def store(
    con: sqlite3.Connection,
    path: str,
    size: int | None,
    mtime: float | None,
    digest: str | None,
    a: Analysis,
    description: str | None,
    text_emb: np.ndarray | None,
) -> None:
    """One track, in one transaction: a kill before COMMIT leaves the database as it was."""
    key = a.key.label if a.key is not None else None
    row = (
        path,
        size,
        mtime,
        digest,
        a.duration_s,
        int(a.is_music),
        a.tempo.bpm if a.tempo is not None else None,
        key,
        camelot(key),
        a.meter.label if a.meter is not None else None,
        zlib.compress(a.to_json().encode(), 6),
        description,
        _blob(text_emb),
        _blob(audio_embedding(a)),
        time.time(),
    )
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute("DELETE FROM tracks WHERE path = ?", (path,))
        cur = con.execute(
            "INSERT INTO tracks(path, size, mtime, hash, duration_s, is_music, bpm, key, camelot, meter,"
            " analysis, description, text_emb, audio_emb, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            row,
        )
        tid = cur.lastrowid
        if a.tags is not None:
            con.executemany(
                "INSERT OR REPLACE INTO tags(track_id, grp, label, score) VALUES (?,?,?,?)",
                [
                    (tid, g, t.label, t.score)
                    for g in ("genre", "instrument", "vocals", "mood", "sound")
                    for t in getattr(a.tags, g) or []
                ],
            )
        con.execute("DELETE FROM errors WHERE path = ?", (path,))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def record_error(con: sqlite3.Connection, path: str, size, mtime, reason: str) -> None:
    con.execute(
        "INSERT OR REPLACE INTO errors(path, size, mtime, error, at) VALUES (?,?,?,?,?)",
        (path, size, mtime, reason, time.time()),
    )


def read_track(con: sqlite3.Connection, r) -> Track:
    """The Track of a row read with COLUMNS, its tags with it."""
    tags = {
        (t["grp"], t["label"]): t["score"]
        for t in con.execute("SELECT grp, label, score FROM tags WHERE track_id = ?", (r["id"],))
    }
    return Track(
        r["id"],
        r["path"],
        r["description"],
        r["bpm"],
        r["key"],
        r["meter"],
        r["duration_s"],
        bool(r["is_music"]),
        tags,
        r["analysis"],
    )
