"""Real-time factor and peak memory of `j2a.analyze` vs. madmom's raw processors, 30 s to 60 min.

Why this design:
* Inputs are real music: the shared clips decoded and concatenated (cycling) to 30 s, 3, 10 and
  60 min, written as 16-bit WAV to a temp dir, so both tools read the same file.
* Every run is a fresh child process, so its peak RSS (from wait4's ru_maxrss, plus psutil polling
  to enforce a cap) is that run's alone. A run that exceeds --mem-cap-gb or --timeout (CPU seconds) is killed and
  recorded as such: the bench survives what the peer's whole-file processing does at 60 min.
* Per-stage times are CPU seconds (process_time, all threads), for both tools.
* The child first processes a 5 s warm-up clip (model loading is reported separately as `load_s`),
  then the real input: RTF = audio seconds / processing wall seconds. CPU seconds are reported too,
  because on a shared machine wall time also measures the neighbours.
* The peer is madmom used as its docs show: RNNBeatProcessor + DBNBeatTrackingProcessor,
  RNNDownBeatProcessor + DBNDownBeatTrackingProcessor, CNNKeyRecognitionProcessor,
  CNNChordFeatureProcessor + CRFChordRecognitionProcessor, each on the whole file. It covers
  rhythm + key + chords only (no tags, notes, loudness, is_music), which favours the peer.

    nice -n 10 .venv/bin/python bench/analyze_speed.py --durations 30,180,600,3600 --runs 3,3,1,1 --peer-runs 1
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

import numpy as np
from _common import AUDIO as SHARED  # noqa: E402  (and this checkout first on sys.path)
from _common import MUSIC_CLIPS, REPO, looped_clips  # noqa: E402

CLIPS = MUSIC_CLIPS
SR = 44100
RUN_ALL_ARGS = [
    "--durations",
    "30,180,600,3600",
    "--runs",
    "3,3,1,1",
    "--peer-runs",
    "1",
    "--peer-timeout",
    "1800",
    "--mem-cap-gb",
    "8",
]


# --------------------------------------------------------------------------------------- inputs
def build_track(seconds: float, out: Path) -> Path:
    """Concatenate the shared music clips (cycling) to `seconds` of mono 44.1 kHz 16-bit WAV, streamed to disk."""
    import soundfile as sf

    with sf.SoundFile(out, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        for y in looped_clips(CLIPS, seconds, SR):
            f.write(np.clip(y, -1, 1))
    return out


# ---------------------------------------------------------------------------------- child side
def _warmup_clip(tmp: Path) -> Path:
    import soundfile as sf

    from j2a.audio import open_audio

    p = tmp / "warmup.wav"
    if not p.exists():
        sf.write(p, open_audio(str(SHARED / "hiphop.mp3")).load(SR)[: 5 * SR], SR, subtype="PCM_16")
    return p


def child_j2a(path: str, warm: str) -> dict:
    import types

    import j2a
    import j2a.analysis

    # Analysis.timings_s then holds each stage's CPU seconds (all threads): on a shared machine
    # wall time per stage mostly measures the neighbours. Total wall time is measured here.
    pipeline = getattr(j2a.analysis, "pipeline", j2a.analysis)  # j2a.analysis.pipeline since the layout change
    pipeline.time = types.SimpleNamespace(perf_counter=time.process_time)
    t = time.perf_counter()
    j2a.analyze(warm)
    load = time.perf_counter() - t
    c0, t0 = time.process_time(), time.perf_counter()
    a = j2a.analyze(path)
    return {
        "load_s": load,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "stages": dict(a.timings_s),
        "is_music": a.is_music,
        "bpm": a.tempo.bpm if a.tempo else None,
    }


def child_madmom(path: str, warm: str) -> dict:
    from j2a.features.madmom_compat import madmom  # the import fix, before any madmom module  # isort: skip

    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.chords import CNNChordFeatureProcessor, CRFChordRecognitionProcessor
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor
    from madmom.features.key import CNNKeyRecognitionProcessor

    t = time.perf_counter()
    procs = {
        "beats": (RNNBeatProcessor(), DBNBeatTrackingProcessor(fps=100)),
        "downbeats": (RNNDownBeatProcessor(), DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)),
        "key": (CNNKeyRecognitionProcessor(), None),
        "chords": (CNNChordFeatureProcessor(), CRFChordRecognitionProcessor()),
    }

    def run(f):
        times = {}
        for name, (first, second) in procs.items():
            s = time.process_time()
            x = first(f)
            if second is not None:
                x = second(x)
            times[name] = round(time.process_time() - s, 3)
        return times

    run(warm)
    load = time.perf_counter() - t
    c0, t0 = time.process_time(), time.perf_counter()
    stages = run(path)
    assert madmom is not None
    return {"load_s": load, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "stages": stages}


# --------------------------------------------------------------------------------- parent side
def ref_tree(ref: str) -> Path:
    """The j2a package as it was at git `ref`, unpacked once into a temp dir (for "j2a@REF" runs: today's
    code and an earlier one side by side in one bench run, on the same inputs and machine)."""
    out = Path(tempfile.gettempdir()) / f"j2a-ref-{ref}"
    if not (out / "j2a").is_dir():
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "j2a"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def run_child(tool: str, path: Path, warm: Path, mem_cap_gb: float, timeout_s: float) -> dict:
    """Run one measurement in a fresh process; enforce the memory cap and the timeout."""
    import psutil

    env = dict(os.environ)
    if tool.startswith("j2a@"):
        env["PYTHONPATH"] = str(ref_tree(tool[4:]))
        tool = "j2a"
    cmd = [sys.executable, __file__, "--child", tool, str(path), str(warm)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out_box: dict = {}
    reader = threading.Thread(target=lambda: out_box.update(zip(("out", "err"), p.communicate())), daemon=True)
    reader.start()
    proc = psutil.Process(p.pid)
    killed, polled_peak, cpu = None, 0, 0.0
    while p.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            polled_peak = max(polled_peak, sum(q.memory_info().rss for q in procs))
            cpu = sum(q.cpu_times().user + q.cpu_times().system for q in procs)
        except psutil.Error:
            pass
        if polled_peak > mem_cap_gb * 2**30:
            killed = f"killed: memory > {mem_cap_gb:g} GiB after {cpu:.0f} CPU s"
        elif cpu > timeout_s:  # CPU seconds, not wall: on a shared machine wall time measures the neighbours
            killed = f"killed: > {timeout_s:.0f} CPU s"
        elif time.perf_counter() - t0 > 10 * timeout_s:
            killed = f"killed: > {10 * timeout_s:.0f} wall s"
        if killed:
            p.kill()
            break
        time.sleep(0.1)
    reader.join()
    peak = polled_peak  # the child reports its exact ru_maxrss when it finishes
    if killed:
        return {"error": killed, "peak_gb": peak / 2**30}
    if p.returncode != 0:
        return {
            "error": f"exit {p.returncode}: {(out_box.get('err') or '').strip().splitlines()[-1:]}",
            "peak_gb": peak / 2**30,
        }
    res = json.loads(out_box["out"].strip().splitlines()[-1])
    res["peak_gb"] = max(peak, res.pop("maxrss", 0)) / 2**30
    return res


def fmt_stages(stages: list[dict]) -> str:
    keys = list(stages[0])
    return " ".join(f"{k}={statistics.median(s[k] for s in stages):.1f}" for k in keys)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--durations", default="30,180,600,3600", help="input lengths in seconds")
    ap.add_argument("--runs", default="3,3,1,1", help="runs per duration (median reported)")
    ap.add_argument("--tools", default="j2a,madmom", help="j2a, madmom, or j2a@REF (the package at a git commit)")
    ap.add_argument("--mem-cap-gb", type=float, default=8.0, help="kill a run above this RSS (GiB)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="kill a run after this many CPU seconds")
    ap.add_argument("--peer-runs", default=None, help="runs per duration for madmom (default: --runs)")
    ap.add_argument(
        "--peer-timeout", type=float, default=None, help="CPU-seconds limit for madmom runs (default: --timeout)"
    )
    ap.add_argument("--tmp", default=None, help="folder for the generated inputs (default: a temp dir)")
    ap.add_argument("--no-heading", action="store_true", help="print the table only")
    ap.add_argument("--child", nargs=3, metavar=("TOOL", "PATH", "WARM"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        tool, path, warm = args.child
        res = (child_j2a if tool == "j2a" else child_madmom)(path, warm)
        import resource

        res["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps(res))
        return 0

    durations = [float(x) for x in args.durations.split(",")]
    runs = [int(x) for x in args.runs.split(",")]
    runs += [runs[-1]] * (len(durations) - len(runs))
    peer_runs = [int(x) for x in (args.peer_runs or args.runs).split(",")]
    peer_runs += [peer_runs[-1]] * (len(durations) - len(peer_runs))
    tools = args.tools.split(",")
    tmp = Path(args.tmp or tempfile.mkdtemp(prefix="j2a-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    warm = _warmup_clip(tmp)
    rows = []
    if not args.no_heading:
        print("## Analysis speed and memory\n")
        print(
            "RTF = audio seconds / processing seconds (after a warm-up that loads the models); CPU s = all threads; "
            "peak = max RSS of the run's process; madmom = raw processors (beats, downbeats, key, chords) on the whole file.\n"
        )
    header = (
        "| input | tool | runs | RTF wall (x real time) | RTF CPU | wall s | CPU s | wall s per audio min | peak GiB | load s "
        "| stages, CPU s (median) |"
    )
    print(header)
    print("|" + "---|" * 11)
    for dur, n_j2a, n_peer in zip(durations, runs, peer_runs):
        path = tmp / f"track_{int(dur)}s.wav"
        if not path.exists():
            build_track(dur, path)
        for tool in tools:
            results = []
            n = n_j2a if tool.startswith("j2a") else n_peer
            timeout = args.timeout if tool.startswith("j2a") else (args.peer_timeout or args.timeout)
            if n == 0:
                continue
            for _ in range(n):
                r = run_child(tool, path, warm, args.mem_cap_gb, timeout)
                results.append(r)
                if "error" in r:
                    break  # a killed run is not repeated
            ok = [r for r in results if "error" not in r]
            label = f"{dur / 60:g} min" if dur >= 60 else f"{dur:g} s"
            if not ok:
                row = f"| {label} | {tool} | {len(results)} | {results[-1]['error']} | | | | | {results[-1]['peak_gb']:.2f} | | |"
            else:
                wall = statistics.median(r["wall_s"] for r in ok)
                cpu = statistics.median(r["cpu_s"] for r in ok)
                row = (
                    f"| {label} | {tool} | {len(ok)} | {dur / wall:.1f} | {dur / cpu:.1f} | {wall:.1f} | {cpu:.1f} | {wall / (dur / 60):.2f} | "
                    f"{max(r['peak_gb'] for r in ok):.2f} | {statistics.median(r['load_s'] for r in ok):.1f} | "
                    f"{fmt_stages([r['stages'] for r in ok])} |"
                )
            print(row, flush=True)
            rows.append(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
