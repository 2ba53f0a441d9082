"""An approximate nearest-neighbour index over one embedding column of a library, in a file beside the database.

Why: exact search reads every vector for every query, which is fine to a few hundred thousand tracks and too
slow at a catalogue's million (bench/library_scale.py, bench/RESULTS.md). faiss's IVF-Flat index keeps the
vectors exactly but only compares the query with the clusters nearest to it; it is built from the same SQLite
file and kept in step with it: the database counts its changes (a `generation` bumped by triggers, schema 2),
and a stale index adds the rows indexed since it was built and drops the rows that are gone, before it
answers. Optional (`pip install 'j2a[ann]'`); the library uses it from `ANN_MIN_TRACKS` tracks on.
"""

from __future__ import annotations

import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANN_MIN_TRACKS = 200_000


@dataclass
class AnnConfig:
    nprobe: int = 384  # clusters searched per query: recall@10 0.978 in 24 ms at 1M tracks (bench/RESULTS.md)
    train_size: int = 100_000  # vectors the cluster centres are fitted on
    nlist: int | None = None  # clusters; default 4 * sqrt(n), at least 16


def generation(con: sqlite3.Connection) -> int:
    """How many times the tracks table has changed (inserts, updates, deletes): the index's staleness test."""
    return con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]


def _vectors(con: sqlite3.Connection, column: str, since: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    sql = f"SELECT id, {column}, indexed_at FROM tracks WHERE {column} IS NOT NULL"
    rows = con.execute(
        sql + (" AND indexed_at > ?" if since is not None else ""), (since,) if since is not None else ()
    )
    rows = rows.fetchall()
    ids = np.array([r[0] for r in rows], np.int64)
    mat = np.stack([np.frombuffer(r[1], np.float32) for r in rows]) if rows else np.zeros((0, 0), np.float32)
    return ids, mat, max((r[2] or 0.0 for r in rows), default=since or 0.0)


class AnnIndex:
    """faiss IVF-Flat (inner product: J2A's embeddings are unit length) over tracks.<column>, with the track ids
    it holds, the newest indexed_at it has seen and the database generation it matches."""

    def __init__(self, index, ids: np.ndarray, seen: float, gen: int, cfg: AnnConfig):
        self.index, self.ids, self.seen, self.gen, self.cfg = index, ids, seen, gen, cfg
        self.index.nprobe = cfg.nprobe

    @staticmethod
    def paths(db: str | os.PathLike, column: str) -> tuple[Path, Path]:
        return Path(f"{db}.{column}.faiss"), Path(f"{db}.{column}.ann.npz")

    @classmethod
    def build(cls, con: sqlite3.Connection, column: str, cfg: AnnConfig | None = None) -> AnnIndex:
        import faiss

        cfg = cfg or AnnConfig()
        gen = generation(con)
        ids, mat, seen = _vectors(con, column)
        if not len(ids):
            raise ValueError(f"no {column} vectors to index")
        nlist = cfg.nlist or max(16, int(4 * math.sqrt(len(ids))))
        nlist = min(nlist, len(ids))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(mat.shape[1]), mat.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = mat[rng.choice(len(mat), min(len(mat), max(cfg.train_size, 40 * nlist)), replace=False)]
        index.train(sample)
        index.add_with_ids(mat, ids)
        return cls(index, ids, seen, gen, cfg)

    def save(self, db: str | os.PathLike, column: str) -> None:
        import faiss

        index_path, meta_path = self.paths(db, column)
        faiss.write_index(self.index, f"{index_path}.tmp")
        np.savez(f"{meta_path}.tmp.npz", ids=self.ids, seen=self.seen, gen=self.gen)
        os.replace(f"{index_path}.tmp", index_path)  # each file replaced whole: a reader never sees half of one
        os.replace(f"{meta_path}.tmp.npz", meta_path)

    @classmethod
    def load(cls, db: str | os.PathLike, column: str, cfg: AnnConfig | None = None) -> AnnIndex | None:
        import faiss

        index_path, meta_path = cls.paths(db, column)
        if not (index_path.exists() and meta_path.exists()):
            return None
        meta = np.load(meta_path)
        return cls(
            faiss.read_index(str(index_path)), meta["ids"], float(meta["seen"]), int(meta["gen"]), cfg or AnnConfig()
        )

    def sync(self, con: sqlite3.Connection, column: str) -> bool:
        """Bring the index in step with the database: rows indexed since `seen` (new, re-indexed, or a reused id)
        are (re)added, ids no longer in the table removed. Returns whether anything changed."""
        gen = generation(con)
        if gen == self.gen:
            return False
        live = np.array([r[0] for r in con.execute(f"SELECT id FROM tracks WHERE {column} IS NOT NULL")], np.int64)
        new_ids, mat, seen = _vectors(con, column, since=self.seen)
        drop = np.union1d(np.setdiff1d(self.ids, live), np.intersect1d(self.ids, new_ids))
        if len(drop):
            self.index.remove_ids(drop)
        if len(new_ids):
            self.index.add_with_ids(mat, new_ids)
        self.ids = np.union1d(np.setdiff1d(self.ids, drop), new_ids)
        self.seen, self.gen = max(self.seen, seen), gen
        return True

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, similarities) of the k nearest, best first."""
        sims, ids = self.index.search(np.asarray(q, np.float32).reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], sims[0][keep]
