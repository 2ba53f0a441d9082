"""Key and chord accuracy on rendered Bach chorales: J2A's harmony vs madmom's default processors.

Renders N chorales with `j2a.data.render` (notated key, chords from the score: chordify for every
piece and the human Roman-numeral analysis where music21 ships one), then runs
- madmom as a user calls it: CNNKeyRecognitionProcessor()(file) and
  CRFChordRecognitionProcessor()(CNNChordFeatureProcessor()(file));
- J2A: j2a.features.harmony.analyze_harmony (same networks, run through torch, chunked; key = CNN
  posterior combined with the chord timeline and the transcribed notes' key profile, and the chords re-ranked by the
  notes, as `j2a analyze` does),
  the same without the bass line's profile ("J2A without the bass"), without the notes (key and chords: "J2A without notes"),
  and the CNN posterior alone ("J2A CNN only").
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

RUN_ALL_ARGS = ["--n", "20", "--seed", "0"]  # for bench/run_all.py (`make bench`)
from _common import RESULTS  # noqa: E402  (and this checkout first on sys.path)


def chord_scores(ref: list[dict], est: list[dict]) -> dict:
    """(majmin, sevenths) correct seconds and scored seconds for one piece (mir_eval)."""
    import mir_eval

    ri = np.array([[c["start"], c["end"]] for c in ref])
    rl = [c["label"] for c in ref]
    ei = np.array([[c["start"], c["end"]] for c in est])
    el = [c["label"] for c in est]
    ei, el = mir_eval.util.adjust_intervals(
        ei, el, ri.min(), ri.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD
    )
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


def madmom_default(path: str, chords: bool = True) -> dict:
    from j2a.features.madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.chords import CNNChordFeatureProcessor, CRFChordRecognitionProcessor
    from madmom.features.key import CNNKeyRecognitionProcessor, key_prediction_to_label

    t = time.perf_counter()
    key = key_prediction_to_label(CNNKeyRecognitionProcessor()(path))
    t_key = time.perf_counter() - t
    if not chords:
        return {"key": key, "time_key_s": t_key}
    segs = CRFChordRecognitionProcessor()(CNNChordFeatureProcessor()(path))
    return {
        "key": key,
        "chords": [{"start": float(s), "end": float(e), "label": str(lab)} for s, e, lab in segs],
        "time_key_s": t_key,
        "time_s": time.perf_counter() - t,
    }


def agreement(a: list[dict], b: list[dict]) -> float:
    """Fraction of time two chord timelines give the same label (0.1 s grid)."""
    end = min(a[-1]["end"], b[-1]["end"])
    grid = np.arange(0.05, end, 0.1)

    def at(tl):
        starts = np.array([c["start"] for c in tl])
        return [tl[max(0, int(np.searchsorted(starts, t, side="right")) - 1)]["label"] for t in grid]

    return float(np.mean([x == y for x, y in zip(at(a), at(b))])) if len(grid) else 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", default="/tmp/j2a_bench_chorales")
    ap.add_argument(
        "--human",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also render the 18 chorales with a human Roman-numeral analysis (default: on)",
    )
    ap.add_argument("--no-madmom", action="store_true", help="skip the madmom peer (J2A only)")
    ap.add_argument(
        "--madmom-chords-max",
        type=int,
        default=6,
        help="run madmom's (slow) chord processors on at most this many pieces; key on all (default: %(default)s)",
    )
    ap.add_argument(
        "--madmom-budget-s",
        type=float,
        default=3600.0,
        help="stop starting new (uncached) madmom runs after this many seconds (default: %(default)s)",
    )
    ap.add_argument("--append-results", action="store_true", help="append the table to bench/RESULTS.md")
    a = ap.parse_args()

    import jams

    from j2a.audio import open_audio
    from j2a.data.render import analysed_chorales, render_set
    from j2a.features import harmony as H
    from j2a.features import notes as N

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
            print(
                f"rendered {len(rows)} chorales in {time.perf_counter() - t:.1f} s ({cpu:.0f} CPU-s)", file=sys.stderr
            )
        return rows

    rows = rendered(d / f"random_n{a.n}_seed{a.seed}", f"random n={a.n} seed={a.seed}", n=a.n)
    if a.human:
        rows += rendered(d / f"human_seed{a.seed}", f"human seed={a.seed}", n=0, sources=analysed_chorales())
    cache_path = d / "madmom_cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    # madmom's raw processors are slow: run them in an order that mixes both sets, within a time budget
    rand = [r for r in rows if r["set"].startswith("random")]
    hum = [r for r in rows if not r["set"].startswith("random")]
    order = [r for pair in zip(rand, hum) for r in pair] + rand[len(hum) :] + hum[len(rand) :]
    t_budget = time.perf_counter() + a.madmom_budget_s
    H._models()
    pieces, agree = [], []
    for r in order:
        truth = r["truth"]
        jam = jams.load(str(Path(r["audio"]).parent / truth["jams"]))
        refs = {}
        for ann in (x for x in jam.annotations if x.namespace == "chord"):  # search() would match chord_roman too
            who = ann.annotation_metadata.annotator["name"]
            kind = "human" if who.startswith("human") else "chordify"
            refs[kind] = [{"start": o.time, "end": o.time + o.duration, "label": o.value} for o in ann.data]
        t, c = time.perf_counter(), time.process_time()
        h = H.analyze_harmony(open_audio(r["audio"]))
        t_j2a, c_j2a = time.perf_counter() - t, time.process_time() - c
        cnn_only = H.estimate_key(np.array(h.key_probs), h.chords, H.HarmonyConfig(refine_key=False))
        notes = N.analyze_notes(open_audio(r["audio"]))  # the pipeline transcribes them anyway
        events = notes.events
        chords = H.decode_chords(h.feats, truth["duration_s"], notes=notes)  # as the pipeline re-ranks them
        with_notes = H.estimate_key(np.array(h.key_probs), chords, notes=events)
        no_bass = H.estimate_key(np.array(h.key_probs), chords, H.HarmonyConfig(bass_weight=0.0), notes=events)
        cnn_chords = [{"start": x.start, "end": x.end, "label": x.label} for x in h.chords]
        j2a_chords = [{"start": x.start, "end": x.end, "label": x.label} for x in chords]
        out = {
            "J2A": (with_notes.label, j2a_chords, t_j2a, c_j2a),
            "J2A without the bass": (no_bass.label, j2a_chords, None, None),
            "J2A without notes": (h.key.label, cnn_chords, None, None),
            "J2A CNN only": (cnn_only.label, cnn_chords, None, None),
        }
        if not a.no_madmom and (r["audio"] in cache or time.perf_counter() < t_budget):
            if r["audio"] not in cache:
                c = time.process_time()
                n_chords = sum("chords" in v for v in cache.values())
                cache[r["audio"]] = madmom_default(r["audio"], chords=n_chords < a.madmom_chords_max)
                cache[r["audio"]]["cpu_s"] = time.process_time() - c
                cache_path.write_text(json.dumps(cache))
            m = cache[r["audio"]]
            if "chords" in m:
                out["madmom default"] = (m["key"], m["chords"], m["time_s"], m.get("cpu_s"))
                agree.append((agreement(m["chords"], cnn_chords), truth["duration_s"]))
            else:  # key only: its time is the key processor's alone, not comparable to J2A's key+chords
                out["madmom default"] = (m["key"], None, None, None)
        piece = {
            "piece": Path(truth["source"]).stem,
            "truth": truth["key"],
            "modal": truth["key_modal"],
            "dur": truth["duration_s"],
            "human": "human" in refs,
            "sys": {},
        }
        for name, (key, chords, secs, cpu) in out.items():
            piece["sys"][name] = {
                "key": key,
                "score": key_score(truth["key"], key),
                "chords": {k: chord_scores(ref, chords) for k, ref in refs.items()} if chords else {},
                "rt": None if secs is None else secs / truth["duration_s"],
                "cpu_rt": None if cpu is None else cpu / truth["duration_s"],
            }
        pieces.append(piece)
        print(
            json.dumps(
                {k: piece[k] for k in ("piece", "truth", "modal")} | {s: v["key"] for s, v in piece["sys"].items()}
            ),
            file=sys.stderr,
        )

    systems = ["madmom default", "J2A CNN only", "J2A without notes", "J2A without the bass", "J2A"]
    paired = [p for p in pieces if "madmom default" in p["sys"]]
    head = (
        "| system | pieces | key exact | key exact (tonal ending) | key MIREX weighted | majmin WCSR (chordify) | "
        "sevenths WCSR (chordify) | majmin WCSR (human RN) | sevenths WCSR (human RN) | wall s / audio s (median) | CPU s / audio s (median) |"
    )

    def table(ps: list[dict], names: list[str]) -> list[str]:
        out = [head, "|---" * (head.count("|") - 1) + "|"]
        tonal = [p for p in ps if not p["modal"]]
        for name in names:
            xs = [p["sys"][name] for p in ps]

            def wcsr(kind, measure, xs=xs):
                ok = sum(x["chords"][kind][measure][0] for x in xs if kind in x["chords"])
                tot = sum(x["chords"][kind][measure][1] for x in xs if kind in x["chords"])
                return f"{ok / tot:.3f}" if tot else "n/a"

            def med(k, xs=xs):
                v = [x[k] for x in xs if x[k] is not None]
                return f"{statistics.median(v):.3f}" if v else "-"

            exact = sum(x["score"] == 1.0 for x in xs)
            exact_t = sum(p["sys"][name]["score"] == 1.0 for p in tonal)
            out.append(
                f"| {name} | {len(xs)} | {exact}/{len(xs)} ({exact / len(xs):.2f}) | {exact_t}/{len(tonal)} | "
                f"{np.mean([x['score'] for x in xs]):.3f} | {wcsr('chordify', 'majmin')} | {wcsr('chordify', 'sevenths')} | "
                f"{wcsr('human', 'majmin')} | {wcsr('human', 'sevenths')} | {med('rt')} | {med('cpu_rt')} |"
            )
        return out

    n = len(pieces)
    n_tonal = sum(not p["modal"] for p in pieces)
    lines = [
        f"{n} Bach chorales rendered with fluidsynth ({len(rand)} drawn at random with seed {a.seed}"
        + (f" + {len(hum)} with a human Roman-numeral analysis shipped by music21" if hum else "")
        + f"); {n_tonal} end on a tonal cadence, {n - n_tonal} end modally (e.g. Phrygian), where the notated key is doubtful.",
        "Key truth: final bass note + key signature (see j2a/data/render.py). Chord truth: music21 chordify of the score, "
        "and the human analyses. WCSR is duration-weighted over all pieces.",
        "",
    ]
    if paired:
        n_mc = sum(bool(p["sys"]["madmom default"]["chords"]) for p in paired)
        lines += (
            [
                f"Side by side, on the {len(paired)} pieces madmom's raw processors ran on (budget {a.madmom_budget_s:.0f} s; "
                f"cached in DIR/madmom_cache.json). madmom's slow chord processors ran on {n_mc} of them: its chord "
                "columns and times cover those only.",
                "",
            ]
            + table(paired, systems)
            + [""]
        )
    if agree:
        w = sum(x * d for x, d in agree) / sum(d for _, d in agree)
        lines += [
            f"J2A's chord timeline without the notes equals madmom's default CNN+CRF chords on {w:.1%} of the time over {len(agree)} "
            "pieces (same networks through torch; J2A reads the audio in blocks).",
            "",
        ]
    lines += [f"J2A on all {n} pieces:", ""] + table(pieces, systems[1:])
    wrong = [p for p in pieces if p["sys"]["J2A"]["score"] < 1.0]
    lines += [
        "",
        "J2A key errors: "
        + (
            ", ".join(
                f"{p['piece']} (truth {p['truth']}{', modal' if p['modal'] else ''}: J2A {p['sys']['J2A']['key']}, "
                f"madmom {p['sys'].get('madmom default', {}).get('key', '-')})"
                for p in wrong
            )
            or "none"
        ),
    ]
    cmd = "python " + " ".join(["bench/key_chords.py"] + sys.argv[1:])
    section = (
        f"## Key and chords on rendered chorales\n\nCommand: `{cmd}` ({time.strftime('%Y-%m-%d')}; "
        "2-core CPU shared with other jobs, so wall times are inflated; CPU times are the fairer figure)\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(section)
    if a.append_results:
        with open(RESULTS, "a") as f:
            f.write("\n" + section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
