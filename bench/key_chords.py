"""Key and chord accuracy on rendered Bach chorales: J2A's harmony vs madmom's default processors.

Renders N chorales with `j2a.data.render` (notated key, chords from the score: chordify for every
piece and the human Roman-numeral analysis where music21 ships one), then runs
- madmom as a user calls it: CNNKeyRecognitionProcessor()(file) and
  CRFChordRecognitionProcessor()(CNNChordFeatureProcessor()(file));
- J2A: j2a.features.harmony.analyze_harmony (same networks, run through torch, chunked; key = CNN
  posterior combined with the chord timeline), and the CNN posterior alone ("J2A CNN only").
Scores through mir_eval: key exact and MIREX weighted (mir_eval.key.weighted_score), chords as
duration-weighted WCSR over all pieces (mir_eval.chord majmin and sevenths).

Usage:  python bench/key_chords.py --n 20 --seed 0 [--no-human] [--dir DIR] [--append-results]
madmom's raw processors are slow on CPU (~1x real time here), so their answers are cached in
DIR/madmom_cache.json; delete it to recompute.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def chord_scores(ref: list[dict], est: list[dict]) -> dict:
    """(majmin, sevenths) correct seconds and scored seconds for one piece (mir_eval)."""
    import mir_eval

    ri = np.array([[c["start"], c["end"]] for c in ref])
    rl = [c["label"] for c in ref]
    ei = np.array([[c["start"], c["end"]] for c in est])
    el = [c["label"] for c in est]
    ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    iv, r, e = mir_eval.util.merge_labeled_intervals(ri, rl, ei, el)
    dur = mir_eval.util.intervals_to_durations(iv)
    out = {}
    for name in ("majmin", "sevenths"):
        comp = getattr(mir_eval.chord, name)(r, e)
        ok = comp >= 0
        out[name] = (float(np.sum(dur[ok] * comp[ok])), float(np.sum(dur[ok])))
    return out


def key_score(ref: str, est: str | None) -> float:
    import mir_eval

    return 0.0 if est is None else float(mir_eval.key.weighted_score(ref, est))


def same_key(ref: str, est: str | None) -> bool:
    return key_score(ref, est) == 1.0


def madmom_default(path: str) -> dict:
    from j2a._madmom import madmom
    from madmom.features.chords import CNNChordFeatureProcessor, CRFChordRecognitionProcessor
    from madmom.features.key import CNNKeyRecognitionProcessor, key_prediction_to_label

    t = time.perf_counter()
    key = key_prediction_to_label(CNNKeyRecognitionProcessor()(path))
    t_key = time.perf_counter() - t
    chords = CRFChordRecognitionProcessor()(CNNChordFeatureProcessor()(path))
    return {"key": key, "chords": [{"start": float(s), "end": float(e), "label": str(l)} for s, e, l in chords],
            "time_key_s": t_key, "time_s": time.perf_counter() - t}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", default="/tmp/j2a_bench_chorales")
    ap.add_argument("--human", action=argparse.BooleanOptionalAction, default=True,
                    help="also render the 18 chorales with a human Roman-numeral analysis (default: on)")
    ap.add_argument("--no-madmom", action="store_true", help="skip the madmom peer (J2A only)")
    ap.add_argument("--append-results", action="store_true", help="append the table to bench/RESULTS.md")
    a = ap.parse_args()

    import jams

    from j2a.audio import open_audio
    from j2a.data.render import analysed_chorales, render_set
    from j2a.features import harmony as H

    d = Path(a.dir)

    def rendered(sub: Path, tag: str, **kw) -> list[dict]:
        man = sub / "manifest.jsonl"
        rows = [json.loads(x) for x in man.read_text().splitlines()] if man.exists() else []
        if not rows or any(r.get("set") != tag for r in rows):
            t = time.perf_counter()
            rows = render_set(sub, seed=a.seed, corpus="bach", **kw)
            for r in rows:
                r["set"] = tag
            man.write_text("".join(json.dumps(r) + "\n" for r in rows))
            cpu = sum(r["truth"]["render_cpu_s"] for r in rows)
            print(f"rendered {len(rows)} chorales in {time.perf_counter() - t:.1f} s ({cpu:.0f} CPU-s)", file=sys.stderr)
        return rows

    rows = rendered(d / f"random_n{a.n}_seed{a.seed}", f"random n={a.n} seed={a.seed}", n=a.n)
    if a.human:
        rows += rendered(d / f"human_seed{a.seed}", f"human seed={a.seed}", n=0, sources=analysed_chorales())
    cache_path = d / "madmom_cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    systems = ["madmom default", "J2A CNN only", "J2A"]
    res = {s: {"key": [], "mirex": [], "tonal_key": [], "chordify": {}, "human": {}, "time": []} for s in systems}
    H._models()
    per_piece = []
    for r in rows:
        truth = r["truth"]
        jam = jams.load(str(d / truth["jams"]))
        refs = {}
        for ann in (x for x in jam.annotations if x.namespace == "chord"):  # search() would match chord_roman too
            who = ann.annotation_metadata.annotator["name"]
            kind = "human" if who.startswith("human") else "chordify"
            refs[kind] = [{"start": o.time, "end": o.time + o.duration, "label": o.value} for o in ann.data]
        t = time.perf_counter()
        h = H.analyze_harmony(open_audio(r["audio"]))
        t_j2a = time.perf_counter() - t
        cnn_only = H.estimate_key(np.array(h.key_probs), h.chords, H.HarmonyConfig(refine_key=False))
        j2a_chords = [{"start": c.start, "end": c.end, "label": c.label} for c in h.chords]
        out = {"J2A": (h.key.label, j2a_chords, t_j2a), "J2A CNN only": (cnn_only.label, j2a_chords, None)}
        if not a.no_madmom:
            if r["audio"] not in cache:
                cache[r["audio"]] = madmom_default(r["audio"])
                cache_path.write_text(json.dumps(cache))
            m = cache[r["audio"]]
            out["madmom default"] = (m["key"], m["chords"], m["time_s"])
        line = {"piece": Path(truth["source"]).stem, "truth": truth["key"], "modal": truth["key_modal"]}
        for s, (key, chords, secs) in out.items():
            ks = key_score(truth["key"], key)
            res[s]["key"].append(ks == 1.0)
            res[s]["mirex"].append(ks)
            if not truth["key_modal"]:
                res[s]["tonal_key"].append(ks == 1.0)
            if secs is not None:
                res[s]["time"].append(secs / truth["duration_s"])
            for kind, ref in refs.items():
                for name, (ok, tot) in chord_scores(ref, chords).items():
                    acc = res[s][kind].setdefault(name, [0.0, 0.0])
                    acc[0] += ok
                    acc[1] += tot
            line[s] = key
        per_piece.append(line)
        print(json.dumps(line), file=sys.stderr)

    n = len(rows)
    n_tonal = sum(not r["truth"]["key_modal"] for r in rows)
    n_human = sum(r["truth"]["has_roman_analysis"] for r in rows)
    lines = [f"{n} Bach chorales rendered with fluidsynth ({a.n} drawn at random with seed {a.seed}"
             + (" + the chorales music21 ships a human Roman-numeral analysis for" if a.human else "")
             + f"; {n_tonal} end on a tonal cadence, {n - n_tonal} are modal/Phrygian with a doubtful notated key; "
             f"{n_human} have a human analysis).", "",
             "| system | key exact | key exact (tonal ending) | key MIREX weighted | majmin WCSR (chordify) | sevenths WCSR (chordify) | majmin WCSR (human RN) | sevenths WCSR (human RN) | time / audio s (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in systems:
        x = res[s]
        if not x["key"]:
            continue

        def w(kind, name):
            ok, tot = x[kind].get(name, (0.0, 0.0))
            return f"{ok / tot:.3f}" if tot else "n/a"

        tm = f"{statistics.median(x['time']):.3f}" if x["time"] else "(same run as J2A)"
        lines.append(f"| {s} | {sum(x['key'])}/{n} ({np.mean(x['key']):.2f}) | {sum(x['tonal_key'])}/{n_tonal} | "
                     f"{np.mean(x['mirex']):.3f} | {w('chordify', 'majmin')} | {w('chordify', 'sevenths')} | "
                     f"{w('human', 'majmin')} | {w('human', 'sevenths')} | {tm} |")
    wrong = [p for p in per_piece if not same_key(p["truth"], p.get("J2A"))]
    lines += ["", "J2A key errors: " + (", ".join(f"{p['piece']} (truth {p['truth']}, J2A {p['J2A']}, madmom {p.get('madmom default')})"
                                         for p in wrong) or "none")]
    table = "\n".join(lines)
    print(table)
    if a.append_results:
        cmd = f"python bench/key_chords.py --n {a.n} --seed {a.seed}" + ("" if a.human else " --no-human")
        with open(REPO / "bench" / "RESULTS.md", "a") as f:
            f.write(f"\n## Key and chords on rendered chorales\n\nCommand: `{cmd}` "
                    f"({time.strftime('%Y-%m-%d')}, 2-core CPU shared with other jobs)\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
