"""Linear probes: how much tempo class and instrument family each J2A-2.x encoder layer carries.

Why: a projector can only pass on what the frozen encoder keeps. Before spending 25 minutes on a
J2A-2.1 training run, a logistic-regression probe on clip-averaged encoder features (5-fold
cross-validation grouped by score, so no score is in both train and test folds) says whether the
layer separates slow / medium / fast renditions of the *same* score at all.

Input: the training manifest written by `bench/j2a2_e2e.py --stage render` (rows with
truth.tempo_class, truth.family, truth.source).

    python bench/encoder_probe.py --manifest runs/j2a2-bal/train.jsonl \
        --encoders musicnn:MTT_musicnn:penultimate:1 musicnn:MTT_musicnn:rhythm:1 musicnn:MTT_musicnn:penultimate+rhythm:1
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import _common  # noqa: F401  (this checkout first on sys.path)
import numpy as np


def features(spec: str, rows: list[dict], clip_s: float) -> np.ndarray:
    """Clip-averaged encoder features, (n_rows, dim)."""
    import torch

    from j2a.models.adapted import load_clip
    from j2a.models.encoders import build_encoder

    enc = build_encoder(spec)
    out = []
    with torch.no_grad():
        for r in rows:
            y = load_clip(r["audio"], enc.sample_rate, clip_s)
            out.append(enc(torch.from_numpy(y)[None])[0].mean(0).numpy())
    return np.stack(out)


def probe(x: np.ndarray, y: list[str], groups: list[str], c: float) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    return float(cross_val_score(clf, x, y, groups=groups, cv=GroupKFold(5)).mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument(
        "--encoders",
        nargs="+",
        default=[
            "musicnn:MTT_musicnn:penultimate:1",
            "musicnn:MTT_musicnn:rhythm:1",
            "musicnn:MTT_musicnn:penultimate+rhythm:1",
        ],
    )
    ap.add_argument("--clip-s", type=float, default=10.0)
    ap.add_argument(
        "--c", type=float, nargs="+", default=[0.1, 1.0], help="inverse regularisation strengths; best reported"
    )
    a = ap.parse_args()
    rows = [json.loads(x) for x in open(a.manifest) if x.strip()]
    tempo = [r["truth"]["tempo_class"] for r in rows]
    fam = [r["truth"]["family"] for r in rows]
    groups = [r["truth"]["source"] for r in rows]
    print(
        f"{len(rows)} clips from {len(set(groups))} scores; chance: tempo {max(map(tempo.count, set(tempo))) / len(rows):.2f} "
        f"(majority), family {max(map(fam.count, set(fam))) / len(rows):.2f} (majority)\n"
    )
    print("| encoder | dim | tempo class (probe) | instrument family (probe) | feature s/clip |")
    print("|---|---|---|---|---|")
    for spec in a.encoders:
        t0 = time.time()
        x = features(spec, rows, a.clip_s)
        sec = (time.time() - t0) / len(rows)
        t = max(probe(x, tempo, groups, c) for c in a.c)
        f = max(probe(x, fam, groups, c) for c in a.c)
        print(f"| `{spec}` | {x.shape[1]} | {t:.2f} | {f:.2f} | {sec:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
