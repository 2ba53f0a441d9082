"""Caption quality, tag -> caption (the task LP-MusicCaps reports), on MusicCaps dev rows.

Each system writes a caption from a dev row's human aspect_list; every system is scored with the same
scorer (j2a.eval.captions.score_captions: coco-caption BLEU/METEOR/ROUGE-L/CIDEr + SBERT) on the same rows:
the dev rows LP-MusicCaps' outputs cover (498), or the first --limit of them.

    python bench/caption_quality.py --limit 498            # all systems, all rows
    python bench/caption_quality.py --limit 100 --base-limit 40 --write-results

Systems: J2A-LLM (shipped adapter) on the human aspects; J2A-LLM on aspects reduced to the analysis
tag vocabulary (what `describe` has); LP-MusicCaps GPT-3.5 "writing" and "summary"; base Gemma 3 270M
prompted with three training examples (few-shot); the deterministic template. Generated captions are
journaled in --work, so a killed run resumes where it stopped. Dev rows are never used for training
or model selection (j2a train-llm holds out part of the train split for that).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from _common import CAPTIONS as CAPS  # noqa: E402  (and this checkout first on sys.path)
from _common import REPO, RESULTS  # noqa: E402

from j2a.eval.captions import load_refs, score_captions  # noqa: E402
from j2a.text import prompts  # noqa: E402
from j2a.training import llm as lt  # noqa: E402
from j2a.training.llm_data import read_captions_csv  # noqa: E402

METRICS = ["bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider", "sbert"]


def dev_rows() -> list[dict]:
    """Dev CSV rows that LP-MusicCaps' outputs cover, in CSV order."""
    lp = {(d["ytid"], int(d["start_s"])) for d in json.loads((CAPS / "lp-musiccaps-writing-dev.json").read_text())}
    return [r for r in read_captions_csv(CAPS / "musiccaps-dev.csv") if (r["ytid"], r["start_s"]) in lp]


def few_shot_prefix(k: int = 3, seed: int = 0) -> str:
    """k training rows (never dev) in the J2A prompt format, each followed by its caption."""
    rows = [r for r in read_captions_csv(CAPS / "musiccaps-train.csv") if 25 <= len(r["caption"].split()) <= 60]
    pick = random.Random(seed).sample(rows, k)
    return "".join(prompts.format_prompt(r["aspects"]) + " " + r["caption"] + "\n\n" for r in pick)


def lp_preds(name: str) -> dict[str, str]:
    return {
        f"{d['ytid']}_{int(d['start_s'])}": d["prediction"]
        for d in json.loads((CAPS / f"lp-musiccaps-{name}-dev.json").read_text())
    }


def journal_preds(path: Path) -> dict[str, str]:
    preds = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            preds[f"{d['ytid']}_{int(d['start_s'])}"] = d["prediction"]
    return preds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=498, help="first N of the 498 LP-covered dev rows (default: all)")
    ap.add_argument(
        "--base-limit", type=int, default=0, help="rows for base-Gemma few-shot (default: --limit; -1 = skip)"
    )
    ap.add_argument("--work", default=str(REPO / "runs" / "caption_quality"), help="journals of generated captions")
    ap.add_argument("--systems", default="j2a,j2a_reduced,base_fewshot,template", help="generated systems to run")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--minutes", type=float, default=0, help="stop generating after this budget; score the rows done")
    ap.add_argument("--no-sbert", action="store_true")
    ap.add_argument(
        "--score-only", action="store_true", help="generate nothing with an LLM: score the journals in --work"
    )
    ap.add_argument("--write-results", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()

    rows = dev_rows()[: args.limit]
    keys = [f"{r['ytid']}_{r['start_s']}" for r in rows]
    refs_all = load_refs(CAPS / "musiccaps-dev.csv")
    refs = {k: refs_all[k] for k in keys}
    work = Path(args.work)
    systems = args.systems.split(",")
    table: list[tuple[str, int, dict, str]] = []

    jobs: list[tuple[str, dict]] = []

    def score(name, preds, note=""):
        preds = {k: v for k, v in preds.items() if k in refs}
        if preds:
            jobs.append((name, preds))

    gen = {
        "j2a": ("J2A-LLM (aspects)", "local", False, "", len(rows)),
        "j2a_reduced": ("J2A-LLM (reduced to analysis tags)", "local", True, "", len(rows)),
        "base_fewshot": (
            "Gemma 3 270M base, 3-shot",
            "gemma-base",
            False,
            few_shot_prefix(),
            args.base_limit or len(rows),
        ),
        "template": ("Template (no LLM)", "none", False, "", len(rows)),
    }
    # Rounds of --batch rows, every system per round, so a time budget leaves all systems on the same rows.
    from j2a.llm import load_llm

    deadline = time.time() + args.minutes * 60 if args.minutes else float("inf")
    if args.score_only:  # score what the journals hold; the template (free) covers the same rows
        have = set(journal_preds(work / "j2a.jsonl"))
        rows = [r for r in rows if f"{r['ytid']}_{r['start_s']}" in have]
        lt.caption_journal(rows, work / "template.jsonl", load_llm("none"), progress=False)
        deadline = 0
    secs = {k: 0.0 for k in systems}
    for s0 in range(0, len(rows), args.batch):
        if time.time() > deadline:
            print(f"time budget reached after {s0} rows", flush=True)
            break
        for key in systems:
            name, spec, reduced, prefix, n = gen[key]
            if s0 >= n:
                continue
            t = time.time()
            lt.caption_journal(
                rows[s0 : min(s0 + args.batch, n)],
                work / f"{key}.jsonl",
                load_llm(spec, decode="fp32"),
                reduced=reduced,
                batch=args.batch,
                prefix=prefix,
                max_new_tokens=110,
                progress=False,
            )
            secs[key] += time.time() - t
        print(
            f"[caption_quality] rows {s0 + args.batch}: " + ", ".join(f"{k} {v:.0f}s" for k, v in secs.items()),
            flush=True,
        )
    done = {k: journal_preds(work / f"{k}.jsonl") for k in systems}
    common = set(keys)
    for key in systems:
        if key != "base_fewshot":
            common &= set(done[key])
    for key in systems:
        preds = done[key] if key == "base_fewshot" else {k: v for k, v in done[key].items() if k in common}
        score(gen[key][0], preds)
    for lp, name in (("writing", "LP-MusicCaps writing (GPT-3.5)"), ("summary", "LP-MusicCaps summary (GPT-3.5)")):
        score(name, {k: v for k, v in lp_preds(lp).items() if k in common})
    if "base_fewshot" in systems and done["base_fewshot"] and len(done["base_fewshot"]) < len(common):
        score(
            "J2A-LLM (aspects) on the base-few-shot rows",
            {k: v for k, v in done["j2a"].items() if k in done["base_fewshot"]},
        )
    # One system after another: scoring them side by side in threads (Java METEOR / PTB tokenizer and the
    # SBERT model shared between threads) twice ended the script with exit code 0 and no table.
    for name, preds in jobs:
        s = score_captions({k: refs[k] for k in preds}, preds, sbert=not args.no_sbert)
        table.append((name, s["n"], s, ""))
        print(
            f"{name:40s} n={s['n']:3d} "
            + " ".join(f"{m}={s[m]:.1f}" if s.get(m) is not None else f"{m}=-" for m in METRICS),
            flush=True,
        )

    head = "| system | rows | " + " | ".join(["B1", "B2", "B3", "B4", "METEOR", "ROUGE-L", "CIDEr", "SBERT"]) + " |"
    lines = [head, "|" + "---|" * 10]
    for name, n, s, _ in table:
        lines.append(
            f"| {name} | {n} | " + " | ".join("-" if s.get(m) is None else f"{s[m]:.1f}" for m in METRICS) + " |"
        )
    md = "\n".join(lines)
    print("\n" + md)
    if args.write_results:
        cmd = "python bench/caption_quality.py " + " ".join(sys.argv[1:])
        with open(RESULTS, "a") as f:
            f.write(f"\n## Caption quality (tag → caption)\n\n`{cmd}`\n\n{md}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
