"""J2A-2.x end to end on this machine: render music with known instrument family and tempo, train
J2A-2.1 (musicnn encoder + Gemma 3 270M, projector only) on it, and check whether the captions it
writes for held-out pieces name the right instrument family and tempo class; J2A-1.0 on the same
pieces for comparison.

Stages (each resumable; outputs under --work):
    render    scores from music21's Bach corpus -> GM instrument family + tempo per rendition
              (j2a.data.render's score loading and MIDI writing; FluidR3_GM.sf2 only, the
              compressed .sf3 costs ~10x more per render). Training scores get --renditions
              renditions each (one per tempo class, random families); test scores are other
              scores, cycling through the tempo classes, so the classes are balanced.
    train     j2a.training.j2a2.train (features cached; --train-minutes wall-clock budget)
    eval      greedy captions for the test pieces; family / tempo-class accuracy vs chance
    baseline  J2A-1.0 (j2a.describe) on the same test pieces

    python bench/j2a2_e2e.py --stage all --work /tmp/j2a2-e2e
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _common  # noqa: E402,F401  (this checkout first on sys.path)

SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TEMPO_WORD = {"slow": "slow", "medium": "moderate", "fast": "fast"}
TEMPO_CLASSES = ["slow", "medium", "fast"]
TEMPO_RANGES = {"slow": (56, 75), "medium": (76, 120), "fast": (121, 144)}  # BPM, j2a.data.render.tempo_class
# caption words -> family; order matters (string orchestra before strings)
FAMILY_WORDS = [
    ("string_pad", r"string orchestra|orchestra"),
    ("strings", r"string ensemble|string quartet|strings|violin|viola|cello"),
    ("organ", r"organ"),
    ("piano", r"piano|keyboard"),
    ("choir", r"choir|choral|voices|vocal"),
    ("brass", r"brass|trumpet|horn|trombone|tuba"),
    ("woodwinds", r"woodwind|flute|oboe|clarinet|bassoon"),
]


def target_caption(family_desc: str, tclass: str) -> str:
    return f"A {TEMPO_WORD[tclass]} piece played by {family_desc}."


def family_of(text: str) -> str | None:
    t = text.lower()
    hits = [(m.start(), fam) for fam, pat in FAMILY_WORDS for m in [re.search(pat, t)] if m]
    return min(hits)[1] if hits else None


def tempo_of(text: str) -> str | None:
    from j2a.data.render import tempo_class

    t = text.lower()
    m = re.search(r"(\d+(?:\.\d+)?)\s*bpm", t)
    words = [
        (m2.start(), c)
        for c, pat in [
            ("slow", r"\bslow"),
            ("medium", r"\bmoderate|\bmedium|\bmid-tempo"),
            ("fast", r"\bfast|\bquick|\bbrisk|\bupbeat|\blively"),
        ]
        for m2 in [re.search(pat, t)]
        if m2
    ]
    if words:
        return min(words)[1]
    return tempo_class(float(m.group(1))) if m else None


# ------------------------------------------------------------------------------------------ render
def _render_score(job):
    from j2a.data import render as R

    source, renditions, out_dir, split = job
    try:
        score, _, _ = R._load_score(source, 12)
    except Exception as e:
        return [], f"{source}: {type(e).__name__}: {e}"
    rows = []
    for k, (family, bpm) in enumerate(renditions):
        stem = f"{Path(source).stem}_{k}"
        wav = out_dir / f"{stem}.wav"
        if not wav.exists():
            mid = out_dir / f"{stem}.mid"
            try:
                R._write_midi(score, str(mid), 60.0 / bpm, R.FAMILIES[family][1])
                tmp = out_dir / f"{stem}.tmp.wav"
                R._fluidsynth(str(mid), str(tmp), SF2, 0.5)
                tmp.rename(wav)
            except Exception as e:
                return rows, f"{source}: {type(e).__name__}: {e}"
        tclass = R.tempo_class(bpm)
        rows.append(
            {
                "audio": str(wav),
                "text": target_caption(R.FAMILIES[family][0], tclass),
                "split": split,
                "truth": {
                    "family": family,
                    "instrument": R.FAMILIES[family][0],
                    "bpm": bpm,
                    "tempo_class": tclass,
                    "source": source,
                },
            }
        )
    return rows, None


def render(work: Path, n_train: int, renditions: int, n_test: int, seed: int, workers: int) -> None:
    from j2a.data import render as R

    out = work / "audio"
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = R.candidate_scores("bach")
    scores = rng.sample(pool, min(len(pool), n_train + n_test + 20))
    fams = sorted(R.FAMILIES)

    def draw(tclass: str) -> tuple[str, int]:
        lo, hi = TEMPO_RANGES[tclass]
        bpm = rng.randint(lo, hi)
        assert R.tempo_class(bpm) == tclass
        return rng.choice(fams), bpm

    def classes(i: int) -> list[str]:
        # Balanced tempo classes: a training score's renditions take slow / medium / fast in a random
        # order (the same notes at three tempi, so only the tempo can tell them apart); test pieces
        # cycle through the classes. Majority-class guessing is then worth 1/3, like uniform chance.
        if i >= n_train:
            return [TEMPO_CLASSES[(i - n_train) % 3]]
        order = rng.sample(TEMPO_CLASSES, 3)
        return [order[k % 3] for k in range(renditions)]

    jobs = [(s, [draw(c) for c in classes(i)], out, "train" if i < n_train else "test") for i, s in enumerate(scores)]
    train_jobs, test_jobs = jobs[:n_train], jobs[n_train:]
    spare_test = test_jobs[n_test:]
    rows = {"train": [], "test": []}
    t0 = time.time()
    with ProcessPoolExecutor(workers) as ex:
        for split, todo, _want in [("train", train_jobs, n_train * renditions), ("test", test_jobs[:n_test], n_test)]:
            for r, err in ex.map(_render_score, todo):
                if err:
                    print("skipped", err, file=sys.stderr)
                rows[split] += r
            print(f"render: {split} {len(rows[split])} renditions ({time.time() - t0:.0f} s)", file=sys.stderr)
            if split == "test" and len(rows["test"]) < n_test:
                for r, _err in ex.map(_render_score, spare_test[: n_test - len(rows["test"])]):
                    rows["test"] += r
    (work / "render_s.txt").write_text(f"{time.time() - t0:.1f}\n")
    for split in rows:
        (work / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[split]))
    print(
        f"render: {len(rows['train'])} train renditions of {n_train} scores, {len(rows['test'])} test pieces "
        f"in {time.time() - t0:.0f} s",
        file=sys.stderr,
    )


# ------------------------------------------------------------------------------------------- train
def train_stage(work: Path, args) -> None:
    from j2a.training.j2a2 import J2A2TrainConfig, train

    cfg = J2A2TrainConfig(
        data=str(work / "train.jsonl"),
        out=str(work / args.run),
        preset="j2a-2.1",
        encoder=args.encoder,
        llm=args.llm,
        clip_s=10.0,
        stride=2,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=5,
        weight_decay=args.weight_decay,
        max_steps=args.max_steps,
        max_time_s=args.train_minutes * 60,
        save_every=50,
        val_every=10**9,
        max_target_tokens=24,
        seed=0,
        resume=True,
        progress=False,
        bf16=_bf16(args.bf16),
    )
    t0 = time.time()
    train(cfg)
    _out(work, args, "train_s.txt").write_text(f"{time.time() - t0:.1f}\n")


def _out(work: Path, args, name: str) -> Path:
    """Per-run result files: the default run keeps the historical names, --run NAME prefixes them."""
    return work / (name if args.run == "model" else f"{args.run}_{name}")


def _bf16(choice: str) -> bool:
    """--bf16 auto: autocast only where bf16 is native (emulated bf16 is ~20x slower on AVX2 CPUs)."""
    from j2a.llm.loading import fast_bf16

    return fast_bf16() if choice == "auto" else choice == "on"


# -------------------------------------------------------------------------------------------- eval
def _score(rows, preds) -> dict:
    fam = sum(family_of(p) == r["truth"]["family"] for r, p in zip(rows, preds)) / len(rows)
    tem = sum(tempo_of(p) == r["truth"]["tempo_class"] for r, p in zip(rows, preds)) / len(rows)
    return {"family_acc": fam, "tempo_acc": tem}


def chance(train_rows, test_rows) -> dict:
    """Uniform chance and the majority-class rate (majority taken from the training set)."""
    from j2a.data.render import FAMILIES

    out = {"family_uniform": 1 / len(FAMILIES), "tempo_uniform": 1 / 3}
    for key, name in [("family", "family"), ("tempo_class", "tempo")]:
        maj = Counter(r["truth"][key] for r in train_rows).most_common(1)[0][0]
        out[f"{name}_majority"] = sum(r["truth"][key] == maj for r in test_rows) / len(test_rows)
    return out


def eval_stage(work: Path, args) -> None:
    import torch

    from j2a.models import load_j2a2

    rows = [json.loads(x) for x in (work / "test.jsonl").read_text().splitlines()]
    m = load_j2a2(work / args.run)
    t0 = time.time()
    preds = []
    for i in range(0, len(rows), 8):
        b = rows[i : i + 8]
        feats = torch.cat([m.features_for(r["audio"]) for r in b])
        preds += m.generate(feats, [m.cfg.caption_prompt] * len(b), max_new_tokens=24)
    res = {
        "n": len(rows),
        **_score(rows, preds),
        "seconds": round(time.time() - t0, 1),
        "examples": [{"truth": r["text"], "pred": p} for r, p in zip(rows, preds)],
    }
    _out(work, args, "eval_j2a21.json").write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v for k, v in res.items() if k != "examples"}), file=sys.stderr)


def baseline_stage(work: Path, args) -> None:
    from j2a.text.describe import describe

    rows = [json.loads(x) for x in (work / "test.jsonl").read_text().splitlines()]
    out = work / f"eval_j2a10_{args.baseline_llm}.jsonl"
    done = {json.loads(x)["audio"]: json.loads(x)["pred"] for x in out.read_text().splitlines()} if out.exists() else {}
    with open(out, "a") as f:
        for r in rows:
            if r["audio"] in done:
                continue
            try:
                done[r["audio"]] = describe(r["audio"], llm=args.baseline_llm).caption
            except Exception as e:  # report, count as wrong
                done[r["audio"]] = f"ERROR {type(e).__name__}: {e}"
            f.write(json.dumps({"audio": r["audio"], "pred": done[r["audio"]]}) + "\n")
            f.flush()
    preds = [done[r["audio"]] for r in rows]
    print(json.dumps({"n": len(rows), **_score(rows, preds)}), file=sys.stderr)


def report(work: Path, args) -> None:
    train_rows = [json.loads(x) for x in (work / "train.jsonl").read_text().splitlines()]
    rows = [json.loads(x) for x in (work / "test.jsonl").read_text().splitlines()]
    ch = chance(train_rows, rows)
    log = [json.loads(x) for x in (work / args.run / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    j21 = json.loads(_out(work, args, "eval_j2a21.json").read_text())
    lines = [
        "| system | instrument family acc | tempo class acc |",
        "|---|---|---|",
        f"| J2A-2.1 (musicnn + Gemma 3 270M, projector trained) | {j21['family_acc']:.2f} | {j21['tempo_acc']:.2f} |",
    ]
    for llm in ("none", "local"):
        f = work / f"eval_j2a10_{llm}.jsonl"
        if f.exists():
            done = {json.loads(x)["audio"]: json.loads(x)["pred"] for x in f.read_text().splitlines()}
            if all(r["audio"] in done for r in rows):
                s = _score(rows, [done[r["audio"]] for r in rows])
                lines.append(f"| J2A-1.0 (describe, llm={llm}) | {s['family_acc']:.2f} | {s['tempo_acc']:.2f} |")
    lines += [
        f"| chance: uniform | {ch['family_uniform']:.2f} | {ch['tempo_uniform']:.2f} |",
        f"| chance: majority class of the training set | {ch['family_majority']:.2f} | {ch['tempo_majority']:.2f} |",
    ]
    # "clearly above chance": one-sided binomial test of J2A-2.1's hits against the better chance rate
    from scipy.stats import binomtest

    n = len(rows)
    pv = {
        k: binomtest(
            round(j21[f"{k}_acc"] * n), n, max(ch[f"{k}_uniform"], ch[f"{k}_majority"]), alternative="greater"
        ).pvalue
        for k in ("family", "tempo")
    }
    lines.append(
        f"| p-value, J2A-2.1 vs the better chance rate (one-sided binomial, n={n}) | {pv['family']:.1e} | {pv['tempo']:.1e} |"
    )
    conf = Counter((r["truth"]["tempo_class"], tempo_of(e["pred"])) for r, e in zip(rows, j21["examples"]))
    classes = ["slow", "medium", "fast"]
    lines += [
        "",
        "J2A-2.1 tempo classes (rows: truth, columns: caption):",
        "",
        "| truth \\ caption | " + " | ".join(classes) + " | none |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {t} | " + " | ".join(str(conf[(t, c)]) for c in classes + [None]) + " |" for t in classes]
    info = (
        f"{len(train_rows)} training renditions ({len({r['truth']['source'] for r in train_rows})} scores), "
        f"{len(rows)} held-out pieces (other scores); {len(losses)} optimizer steps, loss {losses[0]:.3f} -> "
        f"{sum(losses[-5:]) / len(losses[-5:]):.3f} (mean of last 5); train wall time "
        f"{_out(work, args, 'train_s.txt').read_text().strip()} s"
    )
    print("## J2A-2.x end to end\n")
    print(
        f"Command: `python bench/j2a2_e2e.py --stage all --work {work}` (stages render, train, eval, baseline, report). "
        f"J2A-2.1 = `{args.encoder}` features (MTT musicnn, 3-s windows, {args.encoder.split(':')[-1]}-s hop, middle 10 s of each piece) "
        "-> linear -> LayerNorm -> avg-pool stride 2 -> frozen Gemma 3 270M; only the projector trains. A caption counts as "
        "right when its first instrument-family word / tempo word (or its BPM's class) matches the truth.\n"
    )
    print("\n".join(lines) + "\n\n" + info)
    print("\nexamples:\n" + "\n".join(f"  truth: {e['truth']}\n  pred:  {e['pred']}" for e in j21["examples"][:6]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["render", "train", "eval", "baseline", "report", "all"])
    ap.add_argument("--work", default="/tmp/j2a2-e2e")
    ap.add_argument("--n-train-scores", type=int, default=100)
    ap.add_argument("--renditions", type=int, default=3)
    ap.add_argument("--n-test", type=int, default=42)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--encoder", default="musicnn:MTT_musicnn:penultimate+rhythm:1")
    ap.add_argument(
        "--run", default="model", help="name of the model folder under --work (several runs can share one render)"
    )
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--llm", default="gemma3-270m")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--max-steps", type=int, default=450)
    ap.add_argument(
        "--train-minutes",
        type=float,
        default=30.0,
        help="wall-clock budget for the train stage (feature extraction + model loading + steps)",
    )
    ap.add_argument(
        "--bf16",
        choices=["auto", "on", "off"],
        default="auto",
        help="bf16 autocast (default auto: only on GPUs / CPUs with native bf16)",
    )
    ap.add_argument("--baseline-llm", default="none", help="J2A-1.0 LLM: none (template) or local (J2A-LLM)")
    a = ap.parse_args()
    work = Path(a.work).resolve()  # manifest paths are read relative to the manifest: write absolute ones
    work.mkdir(parents=True, exist_ok=True)
    if a.stage in ("render", "all"):
        render(work, a.n_train_scores, a.renditions, a.n_test, a.seed, a.workers)
    if a.stage in ("train", "all"):
        train_stage(work, a)
    if a.stage in ("eval", "all"):
        eval_stage(work, a)
    if a.stage in ("baseline", "all"):
        baseline_stage(work, a)
    if a.stage in ("report", "all"):
        report(work, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
