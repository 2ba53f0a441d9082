"""The `Library` object: one open database and what every job reads through it (tracks by id or path, the
embedding matrices kept until the database changes, the nearest-neighbour lookup, exact or approximate).
Why apart: the jobs (index.py, search.py, duplicates.py, playlist.py) are functions of a Library, bound here as
its methods, so `Library("music.db").search(...)` stays the one public API while each job lives in its module.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .db import COLUMNS, LibraryError, Track, connect, read_track
from .duplicates import duplicates as duplicates_function
from .index import add as add_function
from .index import import_jsonl as import_jsonl_function
from .index import index as index_function
from .playlist import playlist as playlist_function
from .search import search as search_function
from .search import similar as similar_function


class Library:
    """`j2a.Library("music.db")`: .index() .search() .similar() .duplicates() .playlist()."""

    def __init__(self, path: str | os.PathLike = "j2a-library.db", ann: bool | str = "auto"):
        """`ann`: "auto" uses an approximate index (j2a.ann, faiss) from ANN_MIN_TRACKS tracks on, True always,
        False never (exact search)."""
        self.path = str(path)
        self.con = connect(self.path)
        self.ann = ann
        self._cache: dict[str, tuple] = {}  # column -> (stamp, ids, vectors): see matrix
        self._anns: dict[str, object] = {}  # column -> j2a.ann.AnnIndex

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]

    def errors(self) -> list[dict]:
        return [dict(r) for r in self.con.execute("SELECT path, error, at FROM errors ORDER BY path")]

    def track(self, ref: int | str) -> Track:
        """A track by id, or by path (as indexed, or resolved)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            r = self.con.execute(f"SELECT {COLUMNS} FROM tracks WHERE id = ?", (int(ref),)).fetchone()
        else:
            r = self.con.execute(
                f"SELECT {COLUMNS} FROM tracks WHERE path IN (?, ?)", (ref, str(Path(ref).resolve()))
            ).fetchone()
        if r is None:
            raise LibraryError(f"{ref}: no such track in {self.path}")
        return read_track(self.con, r)

    def tracks(self, ids) -> list[Track]:
        out = []
        for i in ids:
            r = self.con.execute(f"SELECT {COLUMNS} FROM tracks WHERE id = ?", (int(i),)).fetchone()
            out.append(read_track(self.con, r))
        return out

    def matrix(self, column: str, where: str = "", args: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
        """(ids, embeddings) of the tracks passing `where`. All rows' vectors are read once and kept until the
        database changes (PRAGMA data_version: another connection committed; total_changes: this one did), so a
        search reads only the ids of the filter, not every BLOB."""
        stamp = (self.con.execute("PRAGMA data_version").fetchone()[0], self.con.total_changes)
        cached = self._cache.get(column)
        if cached is None or cached[0] != stamp:
            rows = self.con.execute(
                f"SELECT id, {column} FROM tracks WHERE {column} IS NOT NULL ORDER BY id"
            ).fetchall()
            ids = np.array([r[0] for r in rows], np.int64)
            mat = np.stack([np.frombuffer(r[1], np.float32) for r in rows]) if rows else np.zeros((0, 1), np.float32)
            cached = self._cache[column] = (stamp, ids, mat)
        _, ids, mat = cached
        if not where:
            return ids, mat
        keep = np.array([r[0] for r in self.con.execute(f"SELECT id FROM tracks {where}", args)], np.int64)
        mask = np.isin(ids, keep)
        return ids[mask], mat[mask]

    def ann_for(self, column: str):
        """The approximate index of a column, loaded or built and brought in step with the database; None where
        exact search applies (ann=False, faiss missing, or fewer than ANN_MIN_TRACKS tracks in "auto")."""
        if self.ann is False:
            return None
        try:
            from ..ann import ANN_MIN_TRACKS, AnnIndex
        except ImportError:
            return None
        index = self._anns.get(column)
        if index is None:
            try:
                index = AnnIndex.load(self.path, column)
            except ImportError:  # faiss not installed: exact search
                return None
            if index is None:
                stamp = self.con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
                if self._anns.get(f"{column}:small") == stamp:  # counted already, nothing changed since
                    return None
                if not (self.ann is True or len(self) >= ANN_MIN_TRACKS) or not len(self):
                    self._anns[f"{column}:small"] = stamp
                    return None
                index = AnnIndex.build(self.con, column)
                index.save(self.path, column)
            self._anns[column] = index
        if index.sync(self.con, column):
            index.save(self.path, column)
        return index

    def nearest(self, column: str, q: np.ndarray, k: int, where: str = "", args: tuple = ()):
        """(ids, similarities) of the k tracks passing `where` nearest to q, best first: exact, or through the
        approximate index when there is one (over-fetching, then exact over the filtered rows if too few pass)."""
        index = self.ann_for(column)
        if index is not None:
            if not where:
                return index.search(q, k)
            # the nearest 20 x k first, checked against the filter in SQL (never a million ids read to filter);
            # a narrow filter that few of them pass is searched exactly over its rows below
            ids, sims = index.search(q, min(20 * k, 30_000))  # SQLite takes up to 32,766 bound values
            if len(ids):
                marks = ",".join("?" * len(ids))
                sql = f"SELECT id FROM tracks {where} AND id IN ({marks})"
                passing = {r[0] for r in self.con.execute(sql, (*args, *(int(i) for i in ids)))}
                ok = np.array([int(i) in passing for i in ids], bool)
                if ok.sum() >= k:
                    return ids[ok][:k], sims[ok][:k]
            rows = self.con.execute(f"SELECT id, {column} FROM tracks {where} AND {column} IS NOT NULL", args)
            rows = rows.fetchall()
            if not rows:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            ids, mat = (
                np.array([r[0] for r in rows], np.int64),
                np.stack([np.frombuffer(r[1], np.float32) for r in rows]),
            )
        else:
            ids, mat = self.matrix(column, where, args)
            if not len(ids):
                return ids, np.zeros(0, np.float32)
        sims = mat @ q
        order = np.argsort(-sims, kind="stable")[:k]
        return ids[order], sims[order]

    # the jobs, each in its module
    index = index_function
    import_jsonl = import_jsonl_function
    add = add_function
    search = search_function
    similar = similar_function
    duplicates = duplicates_function
    playlist = playlist_function
