"""Speed and memory of j2a's rhythm (beats, downbeats, meter, tempo) vs madmom's raw processors.

    nice -n 10 .venv/bin/python bench/rhythm_speed.py [--durations 30,180] [--runs 3] [--memory-minutes 20]

j2a column: `j2a.features.rhythm.analyze_rhythm(open_audio(array, sr=44100))` (the same downbeat
BLSTM weights, vectorised and chunked; madmom's beat DBN on 60 s segments; beat-level bar HMM;
tempo histogram). Peer: madmom as its docs show for the same outputs,
`DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)(RNNDownBeatProcessor()(signal))`.
Both get the same decoded 44.1 kHz mono signal (real shared clips concatenated) in the same process,
models loaded beforehand. Median of --runs runs. The machine is shared, so process CPU seconds are
given beside wall seconds, with the 1-min load average. --memory-minutes writes a WAV of that length
and runs rhythm on it in a fresh process (the file is longer than the decoder's cache, so it is
streamed): peak RSS of that process (VmHWM: getrusage's ru_maxrss would carry over the forking
parent's size across exec), and its RSS after imports and after decoding. It runs first, so the
child is forked from a small parent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import REPO, looped_clips  # noqa: E402  (and this checkout first on sys.path)

CLIPS = ["hainsworth_001.flac", "sweet_waltz.ogg", "pistachio_ragtime.ogg", "techno_loop.mp3", "choice_drum_bass.ogg"]
SR = 44100

MEMORY_CHILD = """
import sys, time, warnings
warnings.filterwarnings("ignore")
rss = lambda key="VmRSS": int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) / 1024
from j2a.audio import open_audio
from j2a.features import rhythm
rhythm._ensemble(); rhythm._filterbanks(); rhythm._beat_dbn(55.0, 215.0)
import torch
after_imports = rss()
a = open_audio(sys.argv[1])
after_decode = rss()
c = time.process_time()
r = rhythm.analyze_rhythm(a)
print("RESULT", after_imports, after_decode, rss("VmHWM"),
      time.process_time() - c, r.tempo.bpm, r.meter.label, len(r.beats))
"""


def mix(seconds: float) -> np.ndarray:
    return np.concatenate(list(looped_clips(CLIPS, seconds, SR)))


def timed(fn, runs: int) -> tuple[float, float, object]:
    walls, cpus, out = [], [], None
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def memory(minutes: float) -> str:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mix_{minutes:g}min.wav"
        y = mix(min(minutes * 60, 300))
        with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as f:
            left = int(minutes * 60 * SR)
            while left > 0:
                f.write(y[:left])
                left -= len(y[:left])
        print(f"memory: {minutes:g} min in a fresh process ...", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None:
        return f"memory run failed: {out.stderr[-500:]}"
    imp, dec, peak, cpu, bpm, meter, nb = line.split()[1:]
    return (
        f"| {minutes:g} min (streamed WAV) | {float(imp):.0f} | {float(dec):.0f} | **{float(peak):.0f}** | "
        f"{float(cpu):.1f} | {bpm} / {meter} / {nb} beats |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--durations", default="30,180", help="seconds, comma separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory-minutes", type=float, default=20.0, help="0 to skip")
    args = ap.parse_args()

    import warnings

    warnings.filterwarnings("ignore")
    from j2a.features.madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    from j2a.audio import open_audio
    from j2a.features import rhythm

    rnn, dbn = RNNDownBeatProcessor(), DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)
    rhythm.analyze_rhythm(open_audio(mix(5), sr=SR))  # load models and imports (torch, scipy.signal)
    dbn(rnn(mix(5)))

    mem = memory(args.memory_minutes) if args.memory_minutes > 0 else None
    rows = []
    for d in [float(x) for x in args.durations.split(",")]:
        y = mix(d)
        print(f"{d:g} s: j2a ...", file=sys.stderr)
        jw, jc, r = timed(lambda y=y: rhythm.analyze_rhythm(open_audio(y, sr=SR)), args.runs)
        print(f"{d:g} s: madmom ...", file=sys.stderr)
        mw, mc, m = timed(lambda y=y: dbn(rnn(y)), args.runs)
        m_bpb = int(m[:, 1].max()) if len(m) else None
        m_bpm = 60 / np.median(np.diff(m[:, 0])) if len(m) > 2 else float("nan")
        rows.append(
            f"| {d:g} s | j2a rhythm | {jw:.2f} | {jc:.2f} | {d / jw:.1f}x | {d / jc:.1f}x | "
            f"{r.tempo.bpm} / {r.meter.label} / {len(r.beats)} |"
        )
        rows.append(
            f"| {d:g} s | madmom raw (RNNDownBeat + DBNDownBeat [3,4]) | {mw:.2f} | {mc:.2f} | {d / mw:.1f}x | "
            f"{d / mc:.1f}x | {m_bpm:.2f} / {m_bpb}/4 / {len(m)} |"
        )
        print(f"  load average {os.getloadavg()[0]:.1f}", file=sys.stderr)

    print("## Rhythm speed and memory (bench/rhythm_speed.py)\n")
    print(
        f"Median of {args.runs} runs, same process, same decoded signal; 1-min load average at the end: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: CPU seconds are the steadier figure).\n"
    )
    print("| input | system | wall s | CPU s | x real time (wall) | x real time (CPU) | tempo / meter / beats |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if mem is not None:
        print(
            "\n| input | RSS after imports+models MB | RSS after decode MB | peak RSS MB | rhythm CPU s | tempo / meter / beats |"
        )
        print("|---|---|---|---|---|---|")
        print(mem)


if __name__ == "__main__":
    main()
