"""The local process pool against `--engine ray` on the same real clips: throughput, Ray's overhead, peak memory,
identical results; then the cost model for a catalogue of a million tracks, from the stage costs measured here.

    python bench/engine_scale.py --runs 3 --labelled 35 --batch-size 2

Each run is `j2a analyze` in a fresh process over every clip in ../shared/data/audio (24 real recordings, music,
speech and nature) and the first --labelled clips of ../shared/data/labelled. Three engines:
- local: `--workers N` (j2a.batch's process pool);
- ray (cold): `--engine ray --actors N`, the driver starting a local Ray itself (what one command on a laptop pays);
- ray (cluster up): the same against a Ray already running (`ray start --head`), as on a real cluster, where the
  cluster outlives the job.
Memory: the peak of the summed RSS of the driver's process tree and every Ray process (sampled every 0.2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from _common import AUDIO, REPO, SHARED

RUN_ALL_ARGS = ["--runs", "3", "--labelled", "35", "--batch-size", "2"]
RAY_NAMES = ("raylet", "gcs_server", "ray::", "default_worker", "dashboard", "log_monitor", "plasma", "runtime_env")


def clip_folder(tmp: Path, labelled: int) -> tuple[Path, float]:
    """Symlinks to the clips, and their total duration in seconds."""
    from j2a.audio import open_audio

    d = tmp / "clips"
    d.mkdir()
    files = [f for f in sorted(AUDIO.iterdir()) if f.suffix != ".csv"]
    lab = SHARED / "data" / "labelled"
    files += [f for f in sorted(lab.iterdir()) if f.suffix in (".wav", ".mp3", ".ogg", ".flac")][:labelled]
    total = 0.0
    for f in files:
        (d / f.name).symlink_to(f)
        total += open_audio(str(f)).duration_s
    return d, total


def ray_pids() -> set[int]:
    out = set()
    for p in psutil.process_iter(["cmdline", "name"]):
        text = " ".join(p.info["cmdline"] or []) + " " + (p.info["name"] or "")
        if any(n in text for n in RAY_NAMES):
            out.add(p.pid)
    return out


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak GiB (driver tree + Ray processes) and stderr of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            pids = ray_pids()
            try:
                pids |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)} | {proc.pid}
            except psutil.NoSuchProcess:
                pass
            rss = 0
            for pid in pids:
                try:
                    rss += psutil.Process(pid).memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak = max(peak, rss)
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"engine_scale: {' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, peak / 2**30, err


def rows(path: Path) -> dict[str, dict]:
    from j2a.cluster import read_run

    if path.is_dir():
        got = read_run(path)
    else:
        got = {r["file"]: r for r in map(json.loads, open(path))}
    return {f: {k: v for k, v in r.items() if k != "timings_s"} for f, r in got.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="local pool workers = Ray analysis actors")
    ap.add_argument("--labelled", type=int, default=0, help="also the first N clips of data/labelled")
    ap.add_argument("--batch-size", type=int, default=4, help="Ray: inputs per task and shard")
    ap.add_argument(
        "--llm-core-s",
        type=float,
        default=5.0,
        help="CPU core-seconds of the LLM stage per track (bench/describe_speed.py: 2.5 s on 2 threads)",
    )
    ap.add_argument(
        "--gpu-captions-per-s",
        type=float,
        default=20.0,
        help="ASSUMED captions per second of one GPU LLM actor (not measured here: no GPU on this machine)",
    )
    args = ap.parse_args()
    j2a = [sys.executable, "-m", "j2a.cli", "analyze"]
    tmp = Path(tempfile.mkdtemp(prefix="j2a-engine-"))
    clips, audio_s = clip_folder(tmp, args.labelled)
    n = len(list(clips.iterdir()))
    env = dict(os.environ, PYTHONPATH=str(REPO))

    results: dict[str, list[tuple[float, float]]] = {"local": [], "ray (cold)": [], "ray (cluster up)": []}
    outs: dict[str, Path] = {}
    for r in range(args.runs):
        out = tmp / f"local-{r}.jsonl"
        results["local"].append(timed(j2a + [str(clips), "--out", str(out), "-j", str(args.workers)], env)[:2])
        outs["local"] = out
        out = tmp / f"ray-{r}"
        ray_args = ["--engine", "ray", "--actors", str(args.workers), "--batch-size", str(args.batch_size)]
        cmd = j2a + [str(clips), *ray_args, "--out", str(out)]
        results["ray (cold)"].append(timed(cmd, env)[:2])
        outs["ray (cold)"] = out
    ray = str(Path(sys.executable).parent / "ray")
    subprocess.run(
        [
            ray,
            "start",
            "--head",
            f"--num-cpus={psutil.cpu_count()}",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        for r in range(args.runs):
            out = tmp / f"ray-up-{r}"
            cmd = j2a + [str(clips), *ray_args, "--address", "auto", "--out", str(out)]
            results["ray (cluster up)"].append(timed(cmd, env)[:2])
            outs["ray (cluster up)"] = out
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env=env)

    want = rows(outs["local"])
    same = {name: rows(path) == want for name, path in outs.items()}
    local_s = statistics.median(w for w, _ in results["local"])
    print(
        f"{n} real clips ({audio_s / 60:.1f} min of audio), {args.workers} workers / actors, Ray batches of "
        f"{args.batch_size}, "
        f"{psutil.cpu_count()} cores, median of {args.runs} runs\n"
    )
    print(
        "| engine | wall s (median) | runs | clips/min | audio min per wall min | overhead vs local | peak GiB | same rows |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in results.items():
        walls = [w for w, _ in rs]
        wall = statistics.median(walls)
        print(
            f"| {name} | {wall:.1f} | {', '.join(f'{w:.1f}' for w in walls)} | {n / wall * 60:.1f} | "
            f"{audio_s / wall:.1f} | {wall / local_s - 1:+.0%} | {max(m for _, m in rs):.2f} | {same[name]} |"
        )

    # the cost model: analysis core-seconds per audio second from the local runs (all cores busy)
    core_s_per_audio_s = local_s * args.workers / audio_s
    track_s = 210.0  # a 3.5-minute track
    analysis = core_s_per_audio_s * track_s
    cpu_only = analysis + args.llm_core_s
    tracks = 1_000_000
    print(
        f"\ncost model ({tracks:,} tracks of {track_s / 60:.1f} min): analysis {analysis:.1f} core-s per track "
        f"(measured: {core_s_per_audio_s:.3f} core-s per audio s), LLM stage {args.llm_core_s:.1f} core-s "
        f"(--llm-core-s) -> analysis bounds the job\n"
    )
    print("| setting | tracks per core-hour | core-hours | wall h on 10 x 32 cores | nodes of 32 cores for 24 h |")
    print("|---|---|---|---|---|")
    for name, per in (("CPU only", cpu_only), ("LLM stage on GPUs", analysis)):
        ch = tracks * per / 3600
        print(f"| {name} | {3600 / per:.0f} | {ch:,.0f} | {ch / 320:.1f} | {ch / 24 / 32:.1f} |")
    gpu_h = tracks / args.gpu_captions_per_s / 3600
    print(f"\nLLM stage on GPUs: {gpu_h:.1f} GPU-hours at an assumed {args.gpu_captions_per_s:g} captions/s per GPU")


if __name__ == "__main__":
    main()
