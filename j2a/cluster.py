"""Catalogue scale: `j2a analyze | describe | index ... --engine ray` runs the same per-file work on a Ray cluster.

Why Ray Data: a catalogue (10^5-10^7 tracks) needs many machines, and users who have outgrown one already run a
cluster engine; Ray Data gives actor pools (each actor loads the models once, like a local pool worker), a
streaming executor (memory stays bounded however long the input list), placement on GPUs for the LLM stage, and
retries when a worker dies. J2A adds what a catalogue job needs on top:

- **Each input lands exactly once.** The last stage writes each batch's rows itself, to a shard whose name is a
  hash of the batch's inputs, through a temporary file and an atomic rename. A task Ray retries after its worker
  died runs on the same batch and rewrites the same shard, so an input never appears twice, and a half-written
  shard is never visible.
- **Nothing finished is lost.** `--resume` reads the inputs already in the shards and skips them; bad files are
  reported (one line each) and kept in `DIR/errors.jsonl`, then retried by the next `--resume`, as in
  `j2a.batch` for the local engine.
- **The same results as the local engine.** The stages call the very functions the local engine calls, so a
  shard row is the JSON line `j2a analyze` / `j2a describe` writes (test: tests/test_cluster.py).

Inputs are local paths or pyarrow filesystem URIs (`s3://bucket/prefix`, `gs://...`, `file:///...`): a URI is
copied to a local temporary file for decoding (the decoders want a path), and the row keeps the URI.
Measured throughput and the cost model for a million tracks: bench/engine_scale.py, bench/RESULTS.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .audio import AUDIO_EXTENSIONS, find_audio_files

JOBS = ("analyze", "describe")
SHARD_FORMATS = ("jsonl", "parquet")


@dataclass
class ClusterConfig:
    """How a run is spread over the cluster (the `--engine ray` flags)."""

    address: str | None = None  # a running cluster (`ray start --head` / KubeRay); None: RAY_ADDRESS, else a local Ray
    actors: int | None = None  # analysis actors; None: one per CPU the cluster has left after the LLM actors
    llm_actors: int = 1  # describe actors (each holds one J2A-LLM)
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0  # for the LLM actors
    batch_size: int = 4  # inputs per task, and per shard
    shard_format: str = "jsonl"  # jsonl | parquet
    resume: bool = False
    max_retries: int = 3  # re-runs of a task whose worker died, before its inputs are reported as lost


# ------------------------------------------------------------------------------------------- inputs
def is_uri(x: str) -> bool:
    return "://" in x


def list_inputs(inputs: list[str]) -> list[str]:
    """Every input's key, in a stable order: local files and folders as `j2a.audio.find_audio_files` lists them
    (so rows match the local engine's), URIs of files, and the audio files under URI prefixes (recursively)."""
    keys: list[str] = []
    for x in inputs:
        if not is_uri(x):
            keys += find_audio_files([x])
            continue
        from pyarrow import fs as pafs

        fsys, root = pafs.FileSystem.from_uri(x)
        scheme = x.split("://", 1)[0] + "://"
        info = fsys.get_file_info(root)
        if info.type != pafs.FileType.Directory:
            keys.append(x)  # a file, or a missing one: reported with its reason when it is processed
            continue
        found = fsys.get_file_info(pafs.FileSelector(root, recursive=True))
        keys += sorted(
            scheme + f.path for f in found if f.type == pafs.FileType.File and Path(f.path).suffix in AUDIO_EXTENSIONS
        )
    return list(dict.fromkeys(keys))


@contextmanager
def local_copy(key: str) -> Iterator[str]:
    """A local path for `key`: the path itself, or a URI's bytes copied to a temporary file (same suffix, so the
    decoder picks the same reader), removed afterwards."""
    if not is_uri(key):
        yield key
        return
    from pyarrow import fs as pafs

    fsys, path = pafs.FileSystem.from_uri(key)
    fd, tmp = tempfile.mkstemp(suffix=Path(path).suffix, prefix="j2a-")
    try:
        with os.fdopen(fd, "wb") as dst, fsys.open_input_stream(path) as src:
            while chunk := src.read(1 << 22):
                dst.write(chunk)
        yield tmp
    finally:
        os.unlink(tmp)


# ------------------------------------------------------------------------------------------- shards
def shard_name(keys: list[str], fmt: str) -> str:
    """A batch's shard: named by its inputs, so a retried batch overwrites its own shard and nothing else."""
    digest = hashlib.sha1("\n".join(sorted(keys)).encode()).hexdigest()[:20]
    return f"part-{digest}.{fmt}"


def write_shard(out: Path, keys: list[str], rows: list[dict], fmt: str, flatten=None) -> Path | None:
    """Write `rows` (each with its input under "file") atomically; None when the batch has no finished row."""
    if not rows:
        return None
    path = out / shard_name(keys, fmt)
    tmp = out / f".{path.name}.{uuid.uuid4().hex}.tmp"
    if fmt == "jsonl":
        with open(tmp, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())
    else:  # Parquet: the flat columns people query (as in the CSV output), and the whole row as JSON
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = [dict(flatten(r) if flatten else {"file": r.get("file")}, json=json.dumps(r)) for r in rows]
        cols = list(dict.fromkeys(k for r in flat for k in r))
        table = pa.table(
            {c: [_cell(r.get(c)) for r in flat] for c in cols},
        )
        pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def _cell(v):
    return json.dumps(v) if isinstance(v, (list, dict)) else v


def shard_rows(out: str | Path) -> Iterator[dict]:
    """Every row in a run's shards, in shard order (not deduplicated: `read_run` is)."""
    for path in sorted(Path(out).glob("part-*")):
        if path.suffix == ".jsonl":
            with open(path) as f:
                yield from (json.loads(line) for line in f if line.strip())
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq

            yield from (json.loads(s) for s in pq.read_table(path, columns=["json"]).column("json").to_pylist())


def read_run(out: str | Path) -> dict[str, dict]:
    """The rows of a run directory by input (what `--resume` skips and `j2a index --from DIR` imports)."""
    return {r["file"]: r for r in shard_rows(out)}


# ------------------------------------------------------------------------------------------- stages
def _analyze_row(key: str) -> dict:
    """What the local engine writes for `key` (j2a.cli's analyze), decoded from a local copy for a URI."""
    from .analysis import analyze
    from .audio import AudioError

    with local_copy(key) as path:
        try:
            a = analyze(path)
        except AudioError as e:  # name the input, not its temporary copy
            raise AudioError(key, e.reason) from None
    a.file = key
    return a.to_dict()


def _each(keys: list[str], fn) -> tuple[dict, dict]:
    """`fn(key)` for each key through `j2a.batch.safe_call`: (rows by key, one-line errors by key)."""
    from .batch import safe_call

    rows, errors = {}, {}
    for key in keys:
        _, value, err = safe_call(fn, key)
        if err is not None:
            errors[key] = err
        else:
            rows[key] = value
    return rows, errors


def _batch_out(keys, rows: dict[str, str], errors: dict[str, str]) -> dict:
    import numpy as np

    return {
        "key": np.array(keys, dtype=object),
        "row": np.array([rows.get(k, "") for k in keys], dtype=object),
        "error": np.array([errors.get(k, "") for k in keys], dtype=object),
    }


class AnalyzeStage:
    """An actor of the analysis pool: models load on its first file and stay for the rest of the run. As the last
    stage (`j2a analyze`) it writes its batches' shards; before the LLM stage it hands the analyses on."""

    out: str | None = None  # the run folder when this stage writes the shards
    fmt: str = "jsonl"

    def __call__(self, batch: dict) -> dict:
        keys = [str(k) for k in batch["key"]]
        rows, errors = _each(keys, _analyze_row)
        if self.out is not None:
            from .cli import flatten_analysis

            write_shard(Path(self.out), keys, [rows[k] for k in keys if k in rows], self.fmt, flatten_analysis)
            return _batch_out(keys, {}, errors)
        return _batch_out(keys, {k: json.dumps(v) for k, v in rows.items()}, errors)


class DescribeStage:
    """An actor of the LLM pool (one J2A-LLM each, on a GPU when given): describes the analyses the analysis pool
    made, exactly as `j2a describe` does, and writes the shards."""

    out: str = ""
    fmt: str = "jsonl"
    llm: str = "local"
    beams: int | None = None
    adapter: str | None = None

    def __call__(self, batch: dict) -> dict:
        from .analysis import Analysis
        from .text.describe import DescribeConfig, describe, flatten_description

        cfg = DescribeConfig(num_beams=self.beams) if self.beams else None
        keys = [str(k) for k in batch["key"]]
        errors = {k: str(e) for k, e in zip(keys, batch["error"]) if e}
        analyses = {k: r for k, r, e in zip(keys, batch["row"], batch["error"]) if not e}

        def one(key: str) -> dict:
            a = Analysis.from_dict(json.loads(analyses[key]))
            return describe(a, llm=self.llm, adapter=self.adapter, config=cfg).to_dict()

        rows, more = _each(list(analyses), one)
        errors.update(more)
        write_shard(Path(self.out), keys, [rows[k] for k in keys if k in rows], self.fmt, flatten_description)
        return _batch_out(keys, {}, errors)


# ------------------------------------------------------------------------------------------- driver
@dataclass
class RunReport:
    done: int = 0  # inputs finished by this run
    skipped: int = 0  # already in DIR (resume)
    failed: list[dict] = field(default_factory=list)  # {"file", "error"}

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def errors_file(out: str | Path) -> Path:
    return Path(out) / "errors.jsonl"


def start_ray(cfg: ClusterConfig) -> None:
    """Connect to `cfg.address` (or RAY_ADDRESS), else start a local Ray on this machine's cores.

    Ray's quirks, in one place: its INFO logs and Ray Data's progress lines would bury J2A's one line per bad
    file, so both are turned down; per-call remote arguments (`max_task_retries`) still work in Ray 2.60 but warn
    that they will become named parameters (pyproject pins ray below 2.64, where they go)."""
    import logging
    import warnings

    import ray
    import ray.data

    warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated", category=DeprecationWarning)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # J2A's own bar counts files; Ray's counts blocks
    ctx.max_errored_blocks = -1  # a batch that keeps killing its worker is reported as lost, not fatal to the run
    if not ray.is_initialized():
        ray.init(address=cfg.address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)


def bound(stage: type, **kwargs) -> type:
    """`stage` with its settings as class attributes: Ray ships the class, so actors need no constructor
    arguments in the object store (which an actor restarted after its worker died could not get back)."""
    return type(stage.__name__, (stage,), kwargs)


def run(
    job: str, inputs: list[str], out: str, cfg: ClusterConfig, llm="local", beams=None, adapter=None, log=None
) -> RunReport:
    """Run `job` ("analyze" or "describe") over `inputs` on Ray, writing shards and errors.jsonl into `out`."""
    import ray
    import ray.data

    from .batch import append_jsonl, progress

    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    if job not in JOBS:
        raise ValueError(f"--engine ray runs {', '.join(JOBS)}, not {job}")
    if cfg.shard_format not in SHARD_FORMATS:
        raise ValueError(f"--format {cfg.shard_format}: --engine ray writes {' or '.join(SHARD_FORMATS)} shards")
    outp = Path(out)
    if outp.exists() and not outp.is_dir():
        raise ValueError(f"{out}: --engine ray writes a folder of shards; this is a file")
    done = read_run(outp) if outp.is_dir() else {}
    if done and not cfg.resume:
        raise ValueError(f"{out}: already holds a run ({len(done)} inputs); add --resume to continue it")
    outp.mkdir(parents=True, exist_ok=True)
    keys = list_inputs(inputs)
    todo = [k for k in keys if k not in done]
    rep = RunReport(skipped=len(keys) - len(todo))
    errors_file(outp).unlink(missing_ok=True)  # failed inputs are retried: the file describes this run
    if not todo:
        return rep

    start_ray(cfg)
    retry = {"max_restarts": -1, "max_task_retries": cfg.max_retries}
    cpus = int(ray.cluster_resources().get("CPU", 1))
    describe = job == "describe"
    actors = cfg.actors or max(
        1, int((cpus - (cfg.llm_actors * cfg.cpus_per_actor if describe else 0)) // cfg.cpus_per_actor)
    )
    n_blocks = max(1, -(-len(todo) // cfg.batch_size))
    ds = ray.data.from_items([{"key": k} for k in todo], override_num_blocks=n_blocks)
    ds = ds.map_batches(
        bound(AnalyzeStage, out=None if describe else str(outp.resolve()), fmt=cfg.shard_format),
        batch_size=cfg.batch_size,
        compute=ray.data.ActorPoolStrategy(size=min(actors, n_blocks)),
        num_cpus=cfg.cpus_per_actor,
        **retry,
    )
    if describe:
        ds = ds.map_batches(
            bound(DescribeStage, out=str(outp.resolve()), fmt=cfg.shard_format, llm=llm, beams=beams, adapter=adapter),
            batch_size=cfg.batch_size,
            compute=ray.data.ActorPoolStrategy(size=cfg.llm_actors),
            num_cpus=cfg.cpus_per_actor,
            num_gpus=cfg.gpus_per_actor or None,
            **retry,
        )
    seen: set[str] = set()
    bar = progress(len(todo), job)
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for key, err in zip(batch["key"], batch["error"]):
                seen.add(str(key))
                if err:
                    log(str(err))
                    rep.failed.append({"file": str(key), "error": str(err)})
                    append_jsonl(errors_file(outp), rep.failed[-1])
            bar.update(len(batch["key"]))
    finally:
        bar.close()
    for key in todo:
        if key not in seen:  # its batch failed max_retries times: say so, and let --resume try again
            err = f"{key}: lost: its worker died {cfg.max_retries + 1} times on this batch"
            log(err)
            rep.failed.append({"file": key, "error": err})
            append_jsonl(errors_file(outp), rep.failed[-1])
    rep.done = len(seen) - sum(1 for f in rep.failed if f["file"] in seen)
    return rep


def config_from(args) -> ClusterConfig:
    fmt = getattr(args, "format", "jsonl")
    return ClusterConfig(
        address=args.address,
        actors=args.actors,
        llm_actors=getattr(args, "llm_actors", 1),
        gpus_per_actor=args.gpus_per_actor,
        batch_size=args.batch_size,
        shard_format=fmt,
        resume=args.resume,
    )


def cmd_run(job: str, args) -> int:
    """The `--engine ray` branch of `j2a analyze` / `j2a describe`: one summary line, exit 1 if a file failed."""
    if not args.out:
        print(f"{job} --engine ray: --out DIR is required (the folder of shards)", file=sys.stderr)
        return 2
    try:
        rep = run(
            job,
            args.inputs,
            args.out,
            config_from(args),
            llm=getattr(args, "llm", "local"),
            beams=getattr(args, "beams", None),
            adapter=getattr(args, "adapter", None),
        )
    except ValueError as e:
        print(f"{job}: {e}", file=sys.stderr)
        return 2
    print(
        f"{job}: {rep.done} done ({rep.skipped} already there), {len(rep.failed)} failed -> {args.out}",
        file=sys.stderr,
    )
    return rep.exit_code
