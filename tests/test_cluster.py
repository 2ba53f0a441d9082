"""`--engine ray` (j2a/cluster.py) on a local Ray: the same rows as the local engine, each input exactly once when a
worker is killed mid-run, bad files reported and not fatal, `--resume` after the driver is stopped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from j2a.cluster import list_inputs, read_run, shard_name, shard_rows, write_shard

SHARED = Path(os.environ.get("J2A_SHARED", Path(__file__).resolve().parents[2] / "shared"))
AUDIO = SHARED / "data" / "audio"
SHORT = ["trumpet_loop_f_90bpm.ogg", "madmom_sample.wav", "sax_tenor_d_minor.wav", "dubstep.wav", "hiphop.mp3"]


def without_timings(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "timings_s"}


def j2a(*args, **kw) -> subprocess.Popen:
    """`j2a ARGS` in its own session, so a test can stop the driver together with the local Ray it started."""
    return subprocess.Popen(
        [sys.executable, "-m", "j2a.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kw,
    )


def wait_for_shard(out: Path, proc: subprocess.Popen, timeout: float = 600) -> None:
    t0 = time.time()
    while not list(out.glob("part-*")):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, "no shard written"
        time.sleep(0.5)


def clips(tmp_path: Path, names=SHORT, copies: int = 1) -> Path:
    """A folder of real clips (symlinks; `copies` > 1 repeats them under other names, for a longer run)."""
    d = tmp_path / "in"
    d.mkdir()
    for c in range(copies):
        for n in names:
            (d / f"{c}_{n}").symlink_to(AUDIO / n)
    return d


# ---------------------------------------------------------------------------- shards (no Ray)
def test_a_shard_is_named_by_its_inputs_and_rewritten_in_place(tmp_path):
    rows = [{"file": "a.wav", "x": 1}, {"file": "b.wav", "x": 2}]
    p1 = write_shard(tmp_path, ["b.wav", "a.wav"], rows, "jsonl")
    p2 = write_shard(tmp_path, ["a.wav", "b.wav"], rows, "jsonl")  # a retried batch
    assert p1 == p2 == tmp_path / shard_name(["a.wav", "b.wav"], "jsonl")
    assert [r["file"] for r in shard_rows(tmp_path)] == ["a.wav", "b.wav"]
    assert write_shard(tmp_path, ["c.wav"], [], "jsonl") is None  # a batch of bad files writes nothing
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left
    write_shard(tmp_path, ["c.wav"], [{"file": "c.wav", "x": [1, 2]}], "parquet")
    assert read_run(tmp_path)["c.wav"] == {"file": "c.wav", "x": [1, 2]}


def test_inputs_from_a_uri_prefix_keep_their_uris(tmp_path):
    d = clips(tmp_path, SHORT[:2])
    (d / "notes.txt").write_text("not listed")
    keys = list_inputs([f"file://{d}"])
    assert keys == [f"file://{d}/0_{n}" for n in sorted(SHORT[:2])]
    assert list_inputs([str(d)]) == [str(d / f"0_{n}") for n in sorted(SHORT[:2])]


# ---------------------------------------------------------------------------- on Ray
@pytest.mark.slow
def test_ray_gives_the_local_engines_rows_and_reports_bad_files(tmp_path):
    """Every shared clip through `j2a analyze` (local) and `--engine ray`: the same JSON, timings aside; a bad file
    and a missing URI are reported with their reasons and the rest finishes (exit 1, as the local engine)."""
    d = tmp_path / "in"
    d.mkdir()
    for f in sorted(AUDIO.iterdir()):
        if f.suffix != ".csv":
            (d / f.name).symlink_to(f)
    (d / "broken.wav").write_bytes(b"RIFF not really a wave file")
    local = subprocess.run(
        [sys.executable, "-m", "j2a.cli", "analyze", str(d), "--out", str(tmp_path / "local.jsonl"), "-j", "2"],
        capture_output=True,
        text=True,
    )
    assert local.returncode == 1, local.stderr
    ray = subprocess.run(
        [sys.executable, "-m", "j2a.cli", "analyze", str(d), f"file://{tmp_path}/missing.wav"]
        + ["--engine", "ray", "--out", str(tmp_path / "ray"), "--actors", "2"],
        capture_output=True,
        text=True,
    )
    assert ray.returncode == 1, ray.stderr
    assert f"{d}/broken.wav: not a readable audio file" in ray.stderr
    assert f"file://{tmp_path}/missing.wav:" in ray.stderr
    errors = [json.loads(line) for line in open(tmp_path / "ray" / "errors.jsonl")]
    assert sorted(e["file"] for e in errors) == [str(d / "broken.wav"), f"file://{tmp_path}/missing.wav"]

    want = {r["file"]: without_timings(r) for r in map(json.loads, open(tmp_path / "local.jsonl"))}
    got = read_run(tmp_path / "ray")
    assert len(want) == sum(1 for p in AUDIO.iterdir() if p.suffix != ".csv")  # every clip but the broken one
    assert sorted(got) == sorted(want)
    for f, row in want.items():
        assert without_timings(got[f]) == row, f


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_repeats_nothing(tmp_path):
    import psutil

    d = clips(tmp_path, copies=2)
    out = tmp_path / "run"
    proc = j2a("analyze", str(d), "--engine", "ray", "--out", str(out), "--batch-size", "1", "--actors", "2")
    wait_for_shard(out, proc)
    workers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if any("MapWorker" in part or "AnalyzeStage" in part for part in p.info["cmdline"] or [])
    ]
    assert workers, "no Ray analysis worker found"
    os.kill(workers[0].pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    counts = Counter(r["file"] for r in shard_rows(out))
    assert counts == Counter(str(p) for p in sorted(d.iterdir())), counts  # every input, exactly once


@pytest.mark.slow
def test_resume_after_the_driver_is_stopped(tmp_path):
    d = clips(tmp_path, copies=2)
    out = tmp_path / "run"
    args = ["analyze", str(d), "--engine", "ray", "--out", str(out), "--batch-size", "1", "--actors", "1"]
    proc = j2a(*args)
    wait_for_shard(out, proc)
    import psutil

    ray_procs = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, and with it the local Ray it started
    for p in ray_procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(ray_procs, timeout=30)
    proc.wait()
    finished = set(read_run(out))
    assert 0 < len(finished) < 2 * len(SHORT)

    again = j2a(*args)  # without --resume a second run refuses to mix with the first
    _, err = again.communicate(timeout=120)
    assert again.returncode == 2 and "add --resume" in err, err

    resumed = j2a(*args, "--resume")
    _, err = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err
    assert f"({len(finished)} already there)" in err
    counts = Counter(r["file"] for r in shard_rows(out))
    assert counts == Counter(str(p) for p in sorted(d.iterdir())), counts


@pytest.mark.slow
def test_index_on_ray_fills_the_library_and_its_run_imports_again(tmp_path):
    from j2a import Library

    def all_tracks(lib):
        return lib.tracks(r[0] for r in lib.con.execute("SELECT id FROM tracks ORDER BY id"))

    d = clips(tmp_path, SHORT[:2] + ["cat_purr.wav"])
    (d / "broken.wav").write_bytes(b"RIFF not really a wave file")
    run, db = tmp_path / "run", tmp_path / "music.db"
    args = [sys.executable, "-m", "j2a.cli", "index", str(d), "--engine", "ray", "--out", str(run), "--db", str(db)]
    done = subprocess.run(args + ["--llm", "none", "--actors", "1"], capture_output=True, text=True)
    assert done.returncode == 1 and f"{d}/broken.wav: not a readable audio file" in done.stderr, done.stderr
    again = subprocess.run(  # a rerun continues its run folder: nothing analysed twice, nothing stored twice
        args + ["--llm", "none"], capture_output=True, text=True
    )
    assert again.returncode == 1 and "0 done (3 already there), 1 failed" in again.stderr, again.stderr
    listed = subprocess.run(args[:4] + ["--errors", "--db", str(db)], capture_output=True, text=True)
    assert listed.stdout.startswith(f"{d}/broken.wav: ") and "not a readable audio file" in listed.stdout, listed.stdout
    with Library(str(db)) as lib:
        tracks = {Path(t.path).name: t for t in all_tracks(lib)}
        assert sorted(tracks) == sorted(SHORT[:2] + ["cat_purr.wav"])  # stored resolved, as the local index does
        assert "does not appear to be music" in tracks["cat_purr.wav"].description
        assert all(t.description for t in tracks.values())
    imported = tmp_path / "imported.db"
    done = subprocess.run(
        [sys.executable, "-m", "j2a.cli", "index", "--from", str(run), "--db", str(imported)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "1 failed" in done.stderr, done.stderr  # the run's bad file, as in the run
    with Library(str(db)) as a, Library(str(imported)) as b:
        assert {t.path: t.description for t in all_tracks(a)} == {t.path: t.description for t in all_tracks(b)}


@pytest.mark.slow
def test_describe_on_ray_gives_j2a_describes_captions(tmp_path):
    """The LLM stage in its own actor pool: the same descriptions (shipped J2A-LLM, guard and all) as `j2a
    describe`, timings aside. Two clips J2A-LLM describes without falling back to the template (the guard cuts all
    three tries on hiphop.mp3, whose genres need a sure tagger, and on the solo trumpet and tenor sax, whose "brass
    section" and "saxophone harmony" need notes sounding together: the template speaks there)."""
    d = clips(tmp_path, ["techno_loop.mp3", "cuidado_falla_cancion.flac"])
    describe = [sys.executable, "-m", "j2a.cli", "describe", str(d)]
    local = subprocess.run(describe + ["--out", str(tmp_path / "local.jsonl")], capture_output=True, text=True)
    assert local.returncode == 0, local.stderr
    ray = subprocess.run(
        describe + ["--engine", "ray", "--actors", "1", "--out", str(tmp_path / "ray")], capture_output=True, text=True
    )
    assert ray.returncode == 0, ray.stderr

    def comparable(row):
        return dict(row, analysis=without_timings(row["analysis"]))

    want = {r["file"]: comparable(r) for r in map(json.loads, open(tmp_path / "local.jsonl"))}
    got = {f: comparable(r) for f, r in read_run(tmp_path / "ray").items()}
    assert got == want
    assert all(r["caption"] and r["model"].startswith("j2a-llm") for r in got.values())


@pytest.mark.slow
def test_a_batch_that_keeps_killing_its_worker_is_reported_lost_and_the_rest_finishes(tmp_path, monkeypatch):
    import ray

    from j2a import cluster

    class Crashing(cluster.AnalyzeStage):  # a local class: Ray ships it by value to the workers
        def __call__(self, batch):
            if any("poison" in str(k) for k in batch["key"]):
                os._exit(1)  # as a decoder crash would: the worker process dies, no exception to catch
            return super().__call__(batch)

    d = clips(tmp_path, SHORT[:2])
    (d / "poison.wav").symlink_to(AUDIO / SHORT[2])
    monkeypatch.setattr(cluster, "AnalyzeStage", Crashing)
    cfg = cluster.ClusterConfig(actors=1, batch_size=1, max_retries=1)
    try:
        rep = cluster.run("analyze", [str(d)], str(tmp_path / "run"), cfg, log=lambda m: None)
    finally:
        ray.shutdown()
    assert rep.exit_code == 1 and [f["file"] for f in rep.failed] == [str(d / "poison.wav")]
    assert "lost: its worker died 2 times" in rep.failed[0]["error"]
    assert sorted(read_run(tmp_path / "run")) == [str(d / f"0_{n}") for n in sorted(SHORT[:2])]
    assert [json.loads(line)["file"] for line in open(tmp_path / "run" / "errors.jsonl")] == [str(d / "poison.wav")]
