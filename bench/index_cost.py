"""What a library costs over describing: `j2a index` against `j2a describe` on the same real files.

Why: `j2a index` runs the same analysis and description as `j2a describe` and adds a content hash, MiniLM
text embeddings, the audio embedding (from the analysis, no second decode) and SQLite writes; the issue's
target is that this adds at most 10%. Both commands run in fresh processes (model loading included, as a
user sees it) on the shared clips, alternating, median of --runs; CPU seconds are the steadier figure on a
shared machine.

    python bench/index_cost.py --runs 2
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import AUDIO  # noqa: E402  (this checkout first on sys.path)


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--dir", default=str(AUDIO), help="the audio files (default: ../shared/data/audio)")
    args = ap.parse_args()
    j2a = [sys.executable, "-m", "j2a.cli"]
    times: dict[str, list[tuple[float, float]]] = {"describe": [], "index": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            times["describe"].append(run([*j2a, "describe", args.dir, "--out", f"{tmp}/d{i}.jsonl"]))
            times["index"].append(run([*j2a, "index", args.dir, "--db", f"{tmp}/l{i}.db"]))
    n = len([p for p in Path(args.dir).iterdir() if p.suffix.lower() not in (".csv", ".md", ".txt")])
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(f"{n} files in {args.dir}, median of {args.runs} runs each, {os.cpu_count()} cores\n")
    print("| command | wall s | CPU s |")
    print("|---|---|---|")
    for k, (w, c) in med.items():
        print(f"| j2a {k} | {w:.1f} | {c:.1f} |")
    print(
        f"\nindex / describe: wall {med['index'][0] / med['describe'][0]:.3f}, CPU {med['index'][1] / med['describe'][1]:.3f}"
    )


if __name__ == "__main__":
    main()
