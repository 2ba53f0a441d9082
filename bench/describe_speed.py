"""How long `j2a describe` takes on a 3-minute track once the model is cached, and the LLM's tokens/s.

Why these numbers: the issue's targets are <= 20 s per 3-minute track and <= 5 s model load on
2 CPU cores. The track is built by concatenating the shared music clips (real recordings), so the
analysis sees varied material. Model load is timed in fresh processes (what a user waits for on
every `j2a describe` call); describe is timed in-process after a warm-up, split into analysis and
caption (LLM + guard), median of several runs, with the template backend ('none') side by side.

    nice -n 10 .venv/bin/python bench/describe_speed.py --runs 3 --threads 2 --append
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
from _common import AUDIO as SHARED  # noqa: E402  (and this checkout first on sys.path)
from _common import MUSIC_CLIPS, REPO, RESULTS, looped_clips  # noqa: E402

CLIPS = MUSIC_CLIPS[:8]


def build_track(seconds: float, out: Path, sr: int = 44100) -> Path:
    import soundfile as sf

    sf.write(out, np.concatenate(list(looped_clips(CLIPS, seconds, sr))), sr)
    return out


def load_seconds(spec: str, threads: int, adapter: str | None = None) -> float:
    code = (
        f"import torch; torch.set_num_threads({threads}); from j2a.llm.backends import timed_load; "
        f"_, t = timed_load({spec!r}, adapter={adapter!r}); print(t)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return float(r.stdout.strip().splitlines()[-1])


def tokens_per_s(llm, prompt: str, runs: int, **gen) -> tuple[float, int]:
    """New tokens per second of the caption one prompt gets (the backend's decoding, `gen` overrides)."""
    rates, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        text = llm.generate([prompt], max_new_tokens=160, **gen)[0]
        dt = time.perf_counter() - t
        n = len(llm.tokenizer(text, add_special_tokens=False)["input_ids"])
        rates.append(n / dt)
    return statistics.median(rates), n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the target is stated for 2 cores)")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--llm", default="local")
    ap.add_argument("--adapter", default=None, help="LoRA adapter folder (default: the shipped J2A-LLM)")
    ap.add_argument("--append", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from j2a import analyze
    from j2a.llm import load_llm
    from j2a.text.aspects import aspects_from_analysis
    from j2a.text.describe import DescribeConfig, caption_from_analysis, describe
    from j2a.text.prompts import format_prompt

    tmp = Path(tempfile.mkdtemp())
    track = build_track(args.seconds, tmp / "track.wav")
    load_seconds(args.llm, args.threads, args.adapter)  # first load builds the cached merged model: not timed
    loads = [load_seconds(args.llm, args.threads, args.adapter) for _ in range(args.runs)]
    llm = load_llm(args.llm, adapter=args.adapter)
    describe(str(SHARED / "hiphop.mp3"), llm=llm)  # warm-up on a short clip: every model loaded and cached (not timed)

    backends = {"none": (load_llm("none"), None), args.llm: (llm, None)}
    fp32 = None
    if hasattr(llm, "gen"):
        backends[f"{args.llm}, greedy (--beams 1)"] = (llm, DescribeConfig(num_beams=1))
    if (
        getattr(getattr(llm, "model", None), "decode_precision", "fp32") != "fp32"
    ):  # j2a.llm.gemma with int8 / bf16 steps
        fp32 = load_llm(args.llm, adapter=args.adapter, decode="fp32")
        backends[f"{args.llm}, fp32 decode steps"] = (fp32, None)
    ana, cap, tries = [], {n: [] for n in backends}, {n: [] for n in backends}
    for _ in range(args.runs):  # one analysis per run, shared by the backends (it is identical work)
        t0 = time.perf_counter()
        a = analyze(str(track))
        ana.append(time.perf_counter() - t0)
        for n, (backend, cfg) in backends.items():
            t1 = time.perf_counter()
            caption, model, fz = caption_from_analysis(a, llm=backend, config=cfg)
            cap[n].append(time.perf_counter() - t1)
            tries[n].append(fz.tries)
    rows = []
    for n in backends:
        totals = [x + y for x, y in zip(ana, cap[n])]
        rows.append((n, statistics.median(totals), statistics.median(ana), statistics.median(cap[n]), max(tries[n])))
    aspects, facts = aspects_from_analysis(a)
    rates = {}
    if hasattr(llm, "tokenizer"):
        prec = getattr(llm.model, "decode_precision", "")
        p = format_prompt(aspects, facts)
        rates = {
            f"{llm.gen.num_beams} beams, {prec} decode": tokens_per_s(llm, p, args.runs),
            f"greedy, {prec} decode": tokens_per_s(llm, p, args.runs, num_beams=1),
        }
        if fp32 is not None:
            rates[f"{llm.gen.num_beams} beams, fp32 decode"] = tokens_per_s(fp32, p, args.runs)
            rates["greedy, fp32 decode"] = tokens_per_s(fp32, p, args.runs, num_beams=1)

    lines = [
        f"Track of {args.seconds:.0f} s ({len(CLIPS)} shared clips concatenated), torch threads = {args.threads}, "
        f"median of {args.runs} runs; 1-min load average at the end {os.getloadavg()[0]:.1f}.",
        "",
        "| backend | describe total (s) | analysis (s) | caption: LLM + guard (s) | max tries |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {t:.2f} | {an:.2f} | {c:.2f} | {tr} |" for n, t, an, c, tr in rows]
    lines += [
        "",
        f"- model load ({args.llm}, fresh process, cached weights): median {statistics.median(loads):.2f} s "
        f"(runs: {', '.join(f'{x:.2f}' for x in loads)})",
        f"- LLM decoding ({getattr(llm, 'name', args.llm)}): "
        + "; ".join(f"{k}: {tps:.1f} new tokens/s ({ntok} tokens in the caption)" for k, (tps, ntok) in rates.items()),
        "- targets: describe <= 20 s per 3-min track, model load <= 5 s",
    ]
    table = "\n".join(lines)
    print(table)
    print("\nlast caption:", caption)
    if args.append:
        cmd = ".venv/bin/python bench/describe_speed.py " + " ".join(sys.argv[1:])
        with open(RESULTS, "a") as f:
            f.write(f"\n## Describe speed\n\nCommand: `{cmd}`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
