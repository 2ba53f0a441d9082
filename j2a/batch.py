"""Batch runner shared by `analyze`, `describe` and friends: nothing finished is ever lost.

Why a journal: every finished file is appended to a JSONL journal and flushed at once, so a killed
run keeps all its results, and `--resume` skips the files already there. JSON / CSV outputs are
written from the journal at the end (the journal is the output itself for JSONL).
Bad files are reported on stderr (one line: 'PATH: reason'), recorded in `<out>.errors.jsonl`,
and skipped; the batch goes on.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .audio import AudioError, find_audio_files


@dataclass
class BatchResult:
    done: list[dict] = field(default_factory=list)  # results of this run and resumed ones, in input order
    failed: list[dict] = field(default_factory=list)  # {"file", "error"}
    skipped: int = 0  # already in the output (resume)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut by a kill: that file is simply redone
    return rows


def _journal_path(out: Path, fmt: str) -> Path:
    return out if fmt == "jsonl" else out.with_name(out.name + ".partial.jsonl")


def safe_call(fn: Callable[[str], dict], path: str):
    """(path, result, None) or (path, None, "one-line reason"): a bad file never stops a batch."""
    try:
        return path, fn(path), None
    except AudioError as e:
        return path, None, str(e)
    except Exception as e:  # keep the batch alive; report the file and the reason on one line
        from .extras import install_hint

        if isinstance(e, ModuleNotFoundError) and install_hint(e):
            raise  # an optional part of J2A is not installed: every file would fail; j2a.cli.main says which
        msg = str(e).splitlines()[0] if str(e) else ""
        return path, None, f"{path}: {type(e).__name__}: {msg}"


LOG_EVERY_S = 60.0  # in a pipe or log file: one progress line at most this often


def progress(total: int, desc: str):
    """A tqdm bar on a terminal; in a pipe or log file, where a bar's carriage returns would be noise, a plain
    line at most every LOG_EVERY_S seconds (`LogProgress`): an hour's `index` run under nohup shows it is alive."""
    if not sys.stderr.isatty():
        return LogProgress(total, desc)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", leave=False)


class LogProgress:
    """Progress as whole lines on stderr: 'index: 40/200 files (20%), 9.1 min, about 36 min left'."""

    def __init__(self, total: int, desc: str, every_s: float | None = None):
        self.total, self.desc, self.n = total, desc, 0
        self.every_s = LOG_EVERY_S if every_s is None else every_s
        self.t0 = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every_s and self.n < self.total:
            self.last = now
            el = (now - self.t0) / 60
            left = el / self.n * (self.total - self.n)
            pct = 100 * self.n / max(self.total, 1)
            msg = f"{self.desc}: {self.n}/{self.total} files ({pct:.0f}%), {el:.1f} min, about {left:.0f} min left"
            print(msg, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def run_batch(
    inputs: Iterable[str],
    process: Callable[[str], dict],
    out: str | None = None,
    fmt: str = "jsonl",
    resume: bool = False,
    workers: int = 1,
    desc: str = "j2a",
    flatten: Callable[[dict], dict] | None = None,
    initializer: Callable[[], None] | None = None,
    render: Callable[[dict], str] | None = None,
) -> BatchResult:
    """Run `process(path) -> dict` over every audio file in `inputs`, journaling each result.

    `process` must be picklable (a module-level function) when workers > 1. With `out=None`
    results go to stdout as JSONL (or one pretty JSON document for --format json); --format text
    (for commands that pass `render`) prints `render(result)` for people, each as it finishes.
    """
    files = find_audio_files(list(inputs))
    res = BatchResult()
    journal = None
    prior: dict[str, dict] = {}
    if out:
        outp = Path(out)
        outp.parent.mkdir(parents=True, exist_ok=True)
        jpath = _journal_path(outp, fmt)
        if resume:
            for row in _read_jsonl(jpath):
                prior[row.get("file")] = row
        elif jpath.exists():
            jpath.unlink()
        if resume and fmt != "jsonl" and not jpath.exists() and outp.exists():
            prior.update({r.get("file"): r for r in _load_finished(outp, fmt)})
            for r in prior.values():  # re-journal so a later kill still has them
                append_jsonl(jpath, r)
        # rewrite the journal cleanly (drops a half-written last line, even when no row is complete)
        if resume and jpath.exists():
            with open(jpath, "w") as f:
                for r in prior.values():
                    f.write(json.dumps(r) + "\n")
        journal = open(jpath, "a", buffering=1)
        errpath = errors_path(outp)
        if errpath.exists():  # failed files are retried on --resume, so it describes this run only
            errpath.unlink()
    todo = [f for f in files if f not in prior]
    res.skipped = len(files) - len(todo)
    results: dict[str, dict] = {}

    def record(path, value, err):
        if err is not None:
            print(err, file=sys.stderr, flush=True)
            res.failed.append({"file": path, "error": err})
            if out:
                append_jsonl(errpath, {"file": path, "error": err})
            return
        results[path] = value
        line = json.dumps(value)
        if journal is not None:
            journal.write(line + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        elif fmt == "jsonl":
            print(line, flush=True)
        elif fmt == "text":
            print(render(value), flush=True)

    bar = progress(len(todo), desc)
    try:
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=workers, initializer=initializer) as ex:
                futs = [ex.submit(safe_call, process, f) for f in todo]
                for fut in as_completed(futs):
                    record(*fut.result())
                    bar.update(1)
        else:
            if initializer:
                initializer()
            for f in todo:
                record(*safe_call(process, f))
                bar.update(1)
    finally:
        bar.close()
        if journal is not None:
            journal.close()

    res.done = [prior.get(f) or results[f] for f in files if f in prior or f in results]
    if out and fmt != "jsonl":
        _write_final(Path(out), fmt, res.done, flatten, render)
        jp = _journal_path(Path(out), fmt)
        if jp.exists():
            jp.unlink()
    elif not out and fmt == "json":
        print(json.dumps(res.done[0] if len(res.done) == 1 and len(files) == 1 else res.done, indent=2))
    elif not out and fmt == "csv":
        _write_csv(sys.stdout, res.done, flatten)
    return res


def errors_path(out: str | Path) -> Path:
    """Where a batch writing `out` records its bad files: `<out>.errors.jsonl`."""
    return Path(out).with_name(Path(out).name + ".errors.jsonl")


def append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _load_finished(path: Path, fmt: str) -> list[dict]:
    if fmt == "json":
        data = json.loads(path.read_text() or "[]")
        return data if isinstance(data, list) else [data]
    return []  # CSV is lossy (flattened): those files are redone


def _write_final(path: Path, fmt: str, rows: list[dict], flatten, render=None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        if fmt == "json":
            json.dump(rows, f, indent=2)
        elif fmt == "text":
            f.write("\n".join(render(r) for r in rows))
        else:
            _write_csv(f, rows, flatten)
    tmp.replace(path)


def _write_csv(f, rows: list[dict], flatten) -> None:
    flat = [flatten(r) if flatten else r for r in rows]
    cols: list[str] = []
    for r in flat:
        cols.extend(k for k in r if k not in cols)
    w = csv.DictWriter(f, fieldnames=cols)
    w.writeheader()
    for r in flat:
        w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
