"""Speed of j2a's musicnn tagging (PyTorch port, both models) vs the original TensorFlow musicnn.

    nice -n 10 .venv/bin/python bench/tags_speed.py [--runs 3] [--tf-python /tmp/tfvenv/bin/python]

Inputs: real shared clips concatenated to 30 s and 3 min (16 kHz WAV in a temp folder). j2a column:
`analyze_tags(open_audio(wav))` with models already loaded (decode + front-end + MTT_musicnn +
MSD_musicnn + grouping). Peer (only with --tf-python, a venv holding tensorflow, librosa, musicnn,
see scripts/make_musicnn_fixture.py): `musicnn.extractor.extractor(wav, model)` for both models, as a
user calls it, i.e. including TF graph building and checkpoint restore on every call, which is what
that API costs. Median of --runs runs; the 1-min load average is printed because the machine is shared,
and so is j2a's process CPU time (CPU s / cores approximates the wall time on an idle machine).
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
from _common import looped_clips  # noqa: E402  (and this checkout first on sys.path)

CLIPS = [
    "pistachio_ragtime.ogg",
    "brahms_hungarian_dance_5.ogg",
    "techno_loop.mp3",
    "vocadito_1.wav",
    "hainsworth_001.flac",
    "sweet_waltz.ogg",
]

TF_SNIPPET = """
import sys, time, warnings
warnings.filterwarnings("ignore")
from musicnn import extractor
t = time.perf_counter()
for m in ("MTT_musicnn", "MSD_musicnn"):
    extractor.extractor(sys.argv[1], model=m, extract_features=False)
print("ELAPSED", time.perf_counter() - t)
"""


def make_input(seconds: float, folder: Path) -> Path:
    import soundfile as sf

    path = folder / f"mix_{int(seconds)}s.wav"
    sf.write(path, np.concatenate(list(looped_clips(CLIPS, seconds, 16000))), 16000, subtype="FLOAT")
    return path


def time_j2a(path: Path, runs: int) -> tuple[float, float]:
    """(median wall s, median process CPU s). CPU seconds / 2 cores bounds the wall time on an idle
    2-core machine from below, which matters here because the machine is shared."""
    from j2a.audio import open_audio
    from j2a.features.tags import analyze_tags

    ts, cs = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        analyze_tags(open_audio(path))
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    return statistics.median(ts), statistics.median(cs)


def time_tf(python: str, path: Path, runs: int) -> float:
    ts = []
    for _ in range(runs):
        out = subprocess.run(
            [python, "-c", TF_SNIPPET, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        ts.append(float(out.stdout.split("ELAPSED")[-1]))
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    default_tf = os.environ.get("J2A_TF_PYTHON") or (
        "/tmp/tfvenv/bin/python" if Path("/tmp/tfvenv/bin/python").exists() else None
    )
    ap.add_argument(
        "--tf-python",
        default=default_tf,
        help="python of a venv with tensorflow + librosa + musicnn, the peer "
        "(default: $J2A_TF_PYTHON, else /tmp/tfvenv/bin/python if it exists)",
    )
    ap.add_argument("--durations", default="30,180")
    args = ap.parse_args()

    import torch

    from j2a.features import musicnn_net as mn

    if not args.tf_python:
        print("TF musicnn peer left out: give --tf-python or set J2A_TF_PYTHON", file=sys.stderr)
    t = time.perf_counter()
    mn.load_musicnn("MTT_musicnn"), mn.load_musicnn("MSD_musicnn")
    load_s = time.perf_counter() - t
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in (float(x) for x in args.durations.split(",")):
            print(f"{d:.0f} s input ...", file=sys.stderr)
            path = make_input(d, Path(tmp))
            ours, cpu = time_j2a(path, args.runs)
            peer = time_tf(args.tf_python, path, args.runs) if args.tf_python else float("nan")
            rows.append(
                f"| {d:.0f} s | {ours:.2f} | {d / ours:.1f} | {cpu:.2f} | {peer:.2f} | {d / peer:.1f} | "
                f"{os.getloadavg()[0]:.1f} |"
            )
    print("## Tags: musicnn port vs TensorFlow musicnn\n")
    if args.tf_python:
        tfv = subprocess.run(
            [args.tf_python, "-c", "import tensorflow as t, librosa as l; print(t.__version__, l.__version__)"],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout.split()
        print(
            f"TF peer: `{args.tf_python}` (TensorFlow {tfv[0]}, librosa {tfv[1]}, musicnn 0.1.0; made as in "
            "scripts/make_musicnn_fixture.py).\n"
        )
    print(
        f"Both models (MTT_musicnn + MSD_musicnn), median of {args.runs} runs, torch threads "
        f"{torch.get_num_threads()}; loading both checkpoints without TF: {load_s:.2f} s. TF column: "
        "musicnn.extractor per model as a user calls it (graph build + restore included).\n"
    )
    print("| input | j2a wall s | j2a x realtime | j2a CPU s | TF musicnn wall s | TF x realtime | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        "\nThe machine is shared (see load avg): j2a CPU s / 2 cores approximates j2a's wall time on an idle "
        "2-core machine. The TF peer's wall time includes TF start-up, which a long-running user would pay once."
    )


if __name__ == "__main__":
    main()
