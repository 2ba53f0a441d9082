"""How long a caption should be, predicted from its tags: J2A-LLM writes to a requested length.

Why: beam search ends captions early (J2A-LLM wrote ~81% of the reference length), BLEU charges a
brevity penalty and CIDEr-D a Gaussian penalty (sigma 6 words) on every length mismatch. MusicCaps
caption lengths vary from ~20 to ~70 words mostly by *writer*, and a writer's aspect lists give them
away ("low quality", "amateur recording", ...): a ridge regression on the aspect words predicts the
caption length with r = 0.74 (5-fold on the train split) where the number of aspects predicts
nothing (r = 0.10). So J2A-LLM is trained with the true length in its prompt ("Length: about N words")
and run with this model's prediction, or with the length a user asks for (`j2a describe --words`).

Pure numpy (kernel ridge on L2-normalised binary word / bigram / phrase features); the fitted model
is a small JSON beside the adapter.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STEP = 5  # prompts carry lengths rounded to 5 words: finer than the model can honour anyway
LIMITS = (10, 120)


def round_words(n: float) -> int:
    """A word count as prompts carry it: rounded to STEP, clamped to LIMITS."""
    return int(min(max(STEP * round(float(n) / STEP), LIMITS[0]), LIMITS[1]))


def features(aspects: list[str]) -> set[str]:
    """Words, in-phrase bigrams and whole phrases ('#low quality') of an aspect list."""
    out: set[str] = set()
    for a in aspects:
        w = re.findall(r"[a-z0-9']+", a.lower())
        out.update(w)
        out.update(" ".join(p) for p in zip(w, w[1:]))
        if w:
            out.add("#" + " ".join(w))
    return out


@dataclass
class LengthModel:
    mean: float = 45.0
    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, rows: list[dict], alpha: float = 1.0, min_df: int = 2) -> "LengthModel":
        """Ridge regression of caption word counts on aspect features (rows: {aspects, caption}).
        alpha and min_df were chosen by 5-fold cross-validation on the train split."""
        feats = [features(r["aspects"]) for r in rows]
        y = np.array([len(r["caption"].split()) for r in rows], dtype=np.float64)
        df = Counter(f for fs in feats for f in fs)
        vocab = {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= min_df))}
        x = np.zeros((len(rows), len(vocab)))
        for i, fs in enumerate(feats):
            ix = [vocab[f] for f in fs if f in vocab]
            if ix:
                x[i, ix] = 1.0 / np.sqrt(len(ix))
        mean = float(y.mean()) if len(y) else 45.0
        # dual form: the n x n kernel is smaller than the feature count
        dual = np.linalg.solve(x @ x.T + alpha * np.eye(len(rows)), y - mean)
        w = x.T @ dual
        return cls(mean=round(mean, 4), weights={f: round(float(w[i]), 5) for f, i in vocab.items()})

    def predict(self, aspects: list[str]) -> float:
        ws = [self.weights[f] for f in features(aspects) if f in self.weights]  # weights = the whole vocabulary
        return self.mean + (sum(ws) / np.sqrt(len(ws)) if ws else 0.0)

    def words(self, aspects: list[str]) -> int:
        """The prompt's 'Length' value for these tags."""
        return round_words(self.predict(aspects))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"mean": self.mean, "weights": self.weights}, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> "LengthModel | None":
        """The model in `path`, or None when there is none (adapters trained without lengths)."""
        p = Path(path)
        if not p.exists():
            return None
        d = json.loads(p.read_text())
        return cls(mean=float(d["mean"]), weights={k: float(v) for k, v in d["weights"].items()})
