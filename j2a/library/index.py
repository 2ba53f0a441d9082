"""`j2a index`: bringing a library in step with the audio files under some folders (new and changed files analysed,
described and embedded; unchanged ones skipped; moved ones recognised by their content hash; `--prune` dropping
the gone), or importing saved analyses (`--from`). Why apart: it is the one writer of tracks, with its own
worker pool, progress bar and per-file error record, and none of it is needed to search.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis import Analysis, analyze
from ..audio import find_audio_files
from .db import record_error, store
from .embed import text_embeddings, track_text

if TYPE_CHECKING:
    from .core import Library


def file_hash(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """BLAKE2b of the file's bytes: the same recording in the same file, wherever it moved."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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


def _safe_analyze(path: str) -> tuple[str, dict | None, str | None]:
    """(path, analysis dict, None) or (path, None, the one-line reason): a bad file never stops an index run."""
    from ..audio import AudioError

    try:
        return path, _analyze_file(path), None
    except AudioError as e:
        return path, None, e.reason
    except Exception as e:  # noqa: BLE001 - recorded per file, the run goes on
        return path, None, f"{type(e).__name__}: {e}"


def _describe(analyses: list[Analysis], llm) -> list[str]:
    """J2A-1.0 descriptions (guarded; batched for the LLM), the not-music statement for the rest."""
    from ..text.describe import captions_from_analyses, not_music_statement

    music = [a for a in analyses if a.is_music]
    captions = iter(c for c, _, _ in captions_from_analyses(music, llm=llm)) if music else iter(())
    return [next(captions) if a.is_music else not_music_statement(a) for a in analyses]


def index(
    lib: Library,
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
    from ..batch import progress

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
        old = lib.con.execute("SELECT size, mtime FROM tracks WHERE path = ?", (f,)).fetchone()
        if old is not None and old["size"] == st.st_size and old["mtime"] == st.st_mtime:
            rep.unchanged += 1
            continue
        err = lib.con.execute("SELECT size, mtime, error FROM errors WHERE path = ?", (f,)).fetchone()
        if err is not None and err["size"] == st.st_size and err["mtime"] == st.st_mtime:
            rep.failed.append({"file": f, "error": err["error"]})
            continue  # the same bad file: its reason is already recorded
        digest = file_hash(f)
        same = lib.con.execute("SELECT path FROM tracks WHERE hash = ? AND path != ?", (digest, f)).fetchall()
        gone = [r["path"] for r in same if not os.path.exists(r["path"])]
        if old is None and gone:  # moved (or renamed): keep its analysis, point it at the new path
            lib.con.execute(
                "UPDATE tracks SET path = ?, size = ?, mtime = ? WHERE path = ?",
                (f, st.st_size, st.st_mtime, gone[0]),
            )
            rep.moved += 1
            continue
        if old is not None and lib.con.execute("SELECT hash FROM tracks WHERE path = ?", (f,)).fetchone()[0] == digest:
            lib.con.execute("UPDATE tracks SET size = ?, mtime = ? WHERE path = ?", (st.st_size, st.st_mtime, f))
            rep.unchanged += 1  # touched, not changed
            continue
        todo.append((f, st.st_size, st.st_mtime, digest))
    updating = {f for f, *_ in todo if lib.con.execute("SELECT 1 FROM tracks WHERE path = ?", (f,)).fetchone()}
    bar = progress(len(todo), "index")
    chunks = [todo[start : start + batch] for start in range(0, len(todo), batch)]
    # one pool for the run (its workers load the models once); the next chunk is analysed while this one
    # is described and stored
    ex = None
    if workers > 1 and len(todo) > 1:
        from concurrent.futures import ProcessPoolExecutor

        ex = ProcessPoolExecutor(workers)
    pending = _submit(chunks[0], ex) if chunks else None
    for n, chunk in enumerate(chunks):
        results = [f.result() for f in pending] if ex else [_safe_analyze(f) for f, *_ in chunk]
        pending = _submit(chunks[n + 1], ex) if n + 1 < len(chunks) else None
        analysed = _collect(lib, chunk, results, rep, log)
        if not analysed:
            bar.update(len(chunk))
            continue
        texts = _describe([a for _, a in analysed], llm) if describe else [None] * len(analysed)
        embs = text_embeddings([track_text(a, d) for (_, a), d in zip(analysed, texts)])
        for ((f, size, mtime, digest), a), d, e in zip(analysed, texts, embs):
            store(lib.con, f, size, mtime, digest, a, d, e)
            if f in updating:
                rep.updated += 1
            else:
                rep.added += 1
        bar.update(len(chunk))
    bar.close()
    if ex is not None:
        ex.shutdown()
    if prune:
        for r in lib.con.execute("SELECT path FROM tracks").fetchall():
            if not os.path.exists(r["path"]):
                lib.con.execute("DELETE FROM tracks WHERE path = ?", (r["path"],))
                rep.pruned += 1
    for column in ("text_emb", "audio_emb"):
        lib.ann_for(column)  # built (or brought in step) here rather than by the next search
    return rep


def _submit(chunk, ex):
    return [ex.submit(_safe_analyze, f) for f, *_ in chunk] if ex is not None else None


def _collect(lib: Library, chunk, results, rep: IndexReport, log) -> list[tuple[tuple, Analysis]]:
    """The analyses of a chunk; its failures recorded with their reasons."""
    out = []
    for item, (path, value, err) in zip(chunk, results):
        if err is not None:
            record_error(lib.con, path, item[1], item[2], err)
            rep.failed.append({"file": path, "error": err})
            log(f"{path}: {err}")
        else:
            out.append((item, Analysis.from_dict(value)))
    return out


def import_jsonl(lib: Library, path: str, log=None) -> IndexReport:
    """Tracks from saved `j2a analyze` / `j2a describe` JSONL, or from the folder of shards an `--engine ray` run
    wrote (no audio decoded): a description row carries its analysis under "analysis" and its caption under
    "caption"."""
    log = log or (lambda m: print(m, file=sys.stderr))
    rep = IndexReport()
    rows = []
    for where, d in saved_rows(path):
        try:
            if isinstance(d, Exception):
                raise d
            a = Analysis.from_dict(d.get("analysis", d))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            rep.failed.append({"file": where, "error": f"not a J2A analysis ({e})"})
            log(f"{where}: not a J2A analysis ({e})")
            continue
        rows.append((a, d.get("caption")))
    added = lib.add(rows)
    rep.added, rep.updated = added.added, added.updated
    if Path(path).is_dir():
        rep.failed += import_run_errors(lib, path)
    return rep


def import_run_errors(lib: Library, run: str) -> list[dict]:
    """The bad files of an `--engine ray` run (its errors.jsonl), recorded as `index` records its own: listed by
    `j2a index --errors`, and the import exits 1 as the run did."""
    from ..cluster import errors_file

    path = errors_file(run)
    failed = [json.loads(line) for line in open(path) if line.strip()] if path.exists() else []
    for e in failed:
        st = os.stat(e["file"]) if "://" not in e["file"] and os.path.exists(e["file"]) else None
        record_error(lib.con, e["file"], st and st.st_size, st and st.st_mtime, e["error"])
    return failed


def saved_rows(path: str):
    """(where, row or the JSON error) for each row of a JSONL file, or of a run folder's shards (one per input)."""
    if Path(path).is_dir():
        from ..cluster import read_run

        yield from read_run(path).items()
        return
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield f"{path}:{n}", json.loads(line)
                except json.JSONDecodeError as e:
                    yield f"{path}:{n}", e


def add(lib: Library, rows: list[tuple[Analysis, str | None]]) -> IndexReport:
    """Tracks whose analysis (and description) is made already, stored under `analysis.file` with their
    embeddings: no audio decoded (`import_jsonl`, and `j2a serve` keeping an upload)."""
    rep = IndexReport()
    embs = text_embeddings([track_text(a, c) for a, c in rows]) if rows else []
    for (a, caption), e in zip(rows, embs):
        f = str(Path(a.file).resolve()) if a.file and "://" not in a.file else a.file  # a URI stays a URI
        st = os.stat(f) if f and os.path.exists(f) else None
        exists = lib.con.execute("SELECT 1 FROM tracks WHERE path = ?", (f,)).fetchone()
        store(
            lib.con,
            f,
            st.st_size if st else None,
            st.st_mtime if st else None,
            file_hash(f) if st else None,
            a,
            caption,
            e,
        )
        rep.updated += bool(exists)
        rep.added += not exists
    return rep
