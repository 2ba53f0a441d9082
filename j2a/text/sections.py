"""Time-stamped sections of a track, each captioned with only what was measured inside it.

Boundaries come from the analysis itself: bar-level changes in harmony (chords), note activity
(transcribed notes) and level (short-term loudness). A section's caption names the parts that enter
and leave (from the tag timeline, with hysteresis), level and note-activity changes, and its chords.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import Analysis
from ..theory import triad
from .aspects import chord_progression, tag_word
from .claims import extract_claims
from .concepts import find_concept, support_tags
from .evidence import stated_chords
from .prompts import chord_phrase, join_words


@dataclass
class SectionConfig:
    min_section_s: float = 8.0
    max_sections: int = 10
    window_s: float = 2.0  # analysis grid when there are too few downbeats
    context: int = 4  # windows compared on each side of a candidate boundary
    threshold: float = 1.0  # novelty peaks must exceed mean + threshold * std


def _windows(a: Analysis, cfg: SectionConfig) -> np.ndarray:
    """Window edges: bars when the downbeats are usable, else a fixed grid."""
    dur = float(a.duration_s)
    db = [t for t in (a.downbeats or []) if 0 <= t < dur]
    if len(db) >= 8:
        edges = [0.0] + [t for t in db if t > 0.5] + [dur]
    else:
        edges = list(np.arange(0.0, dur, cfg.window_s)) + [dur]
    edges = np.array(sorted(set(round(e, 3) for e in edges)))
    return edges[np.concatenate([[True], np.diff(edges) > 0.25])]


def _chord_chroma(a: Analysis, s: float, e: float) -> np.ndarray:
    v = np.zeros(12)
    for c in a.chords or []:
        ov = min(e, c.end) - max(s, c.start)
        if ov <= 0 or c.label in ("N", "X"):
            continue
        t = triad(c.label)
        if t is None:
            continue
        r, third = t[0], 3 if t[1] == "min" else 4
        for iv in (0, third, 7):
            v[(r + iv) % 12] += ov
    return v


def _level_db(path: str | None, edges: np.ndarray) -> np.ndarray | None:
    """RMS level (dB) per window, from an 8 kHz decode: cheap, and only relative levels are used."""
    if not path:
        return None
    try:
        from ..audio import open_audio

        y = open_audio(path).load(8000)
    except Exception:
        return None
    y = np.asarray(y, dtype=np.float32)
    out = []
    for s, e in zip(edges[:-1], edges[1:]):
        seg = y[int(s * 8000) : int(e * 8000)]
        out.append(10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-10) if len(seg) else -100.0)
    return np.array(out)


def _note_stats(a: Analysis, s: float, e: float) -> tuple[float, float | None]:
    ev = [n for n in ((a.notes.events if a.notes else None) or []) if n.start < e and n.end > s]
    return len(ev) / max(e - s, 1e-3), (float(np.mean([n.pitch for n in ev])) if ev else None)


def segment(a: Analysis, audio_path: str | None = None, cfg: SectionConfig | None = None) -> list[tuple[float, float]]:
    """Section boundaries from changes in harmony, note activity and level (a novelty curve over bars)."""
    cfg = cfg or SectionConfig()
    dur = float(a.duration_s)
    if dur < 2 * cfg.min_section_s:
        return [(0.0, dur)]
    edges = _windows(a, cfg)
    n = len(edges) - 1
    feats = []
    for s, e in zip(edges[:-1], edges[1:]):
        ch = _chord_chroma(a, s, e)
        ch = ch / (np.linalg.norm(ch) + 1e-9)
        dens, pitch = _note_stats(a, s, e)
        feats.append(np.concatenate([ch, [np.log1p(dens), (pitch or 60.0) / 12.0]]))
    f = np.array(feats)
    level = _level_db(audio_path, edges)
    if level is not None and len(level) == n:
        f = np.column_stack([f, level / 6.0])  # 6 dB counts like a full change of chords
    k = max(1, min(cfg.context, n // 4))
    nov = np.zeros(n)
    for i in range(k, n - k + 1):
        nov[i] = np.linalg.norm(f[i - k : i].mean(0) - f[i : i + k].mean(0))
    if not nov.any():
        return [(0.0, dur)]
    thr = nov[nov > 0].mean() + cfg.threshold * nov[nov > 0].std()
    cands = [
        i for i in range(1, n) if nov[i] >= thr and nov[i] >= nov[max(0, i - 1)] and nov[i] >= nov[min(n - 1, i + 1)]
    ]
    cands.sort(key=lambda i: -nov[i])
    bounds: list[float] = []
    for i in cands:
        t = float(edges[i])
        if t < cfg.min_section_s or dur - t < cfg.min_section_s or any(abs(t - b) < cfg.min_section_s for b in bounds):
            continue
        bounds.append(t)
        if len(bounds) >= cfg.max_sections - 1:
            break
    pts = [0.0] + sorted(bounds) + [dur]
    return list(zip(pts[:-1], pts[1:]))


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{int(t % 60):02d}"


def _section_tags(a: Analysis, path: str | None, spans) -> list | None:
    """Fused tags of each section, or None: from the analysis' tag timeline (both taggers, the track's
    fusion); for an analysis saved without one (schema 1), one more musicnn pass over the audio."""
    from ..features.tags import tags_between

    if a.tags is not None and a.tags.timeline is not None and a.tags.timeline.models:
        return [tags_between(a.tags, s, e) for s, e in spans]
    if not path:
        return None
    try:
        from ..audio import open_audio
        from ..features.tags import analyze_tags

        y = np.asarray(open_audio(path).load(16000), dtype=np.float32)
        return [analyze_tags(open_audio(y[int(s * 16000) : int(e * 16000)], 16000)) for s, e in spans]
    except Exception:  # a section too short or silent to tag: sections stay without tags
        return None


_SECTION_GROUPS = ("instrument", "vocals")


def tag_words(tags) -> list[str]:
    """The sounding parts a section's tags name, at the score a description may state them. "instrumental"
    is left out: it names an absence, and "opens with violin and instrumental" reads as nonsense."""
    return _stated(_tag_levels(tags))


def _stated(levels: dict[str, tuple[float, bool]]) -> list[str]:
    words = [w for w, (_, claimable) in levels.items() if claimable]
    if "vocals" in words and ("male vocal" in words or "female vocal" in words):
        words.remove("vocals")
    return words


def _tag_levels(tags) -> dict[str, tuple[float, bool]]:
    """Every listed sounding part of a section, weak ones too: word -> (fused score, claimable)."""
    from ..features.fusion import stated_labels

    out: dict[str, tuple[float, bool]] = {}
    for g in _SECTION_GROUPS:
        stated = stated_labels(tags, g)
        for t in getattr(tags, g) or []:
            w = tag_word(t.label)
            if w == "instrumental":
                continue
            claimable = not t.sources or t.label in stated
            old = out.get(w, (0.0, False))
            out[w] = (max(old[0], float(t.score)), old[1] or claimable)
    return out


def _changes(words: list[str], levels: dict, prev_words: list[str], prev_levels: dict) -> tuple[list[str], list[str]]:
    """(entering, leaving) with hysteresis: a part enters only if it is stated now and was not even weakly
    heard before; it leaves only if it was stated before and is not even weakly heard now. Families count
    as the part ("vocals" and "female vocal", "strings" and "violin"): so no sentence both keeps and
    removes a part, and a voice that was weakly there does not "enter" under another name."""

    def family(w):
        cs = [find_concept(c.concept) for c in extract_claims(w, closed=False)]
        return {t for c in cs if c for t in support_tags(c)} | {w}

    def heard(w, among):  # w, or a word of its family, among these parts
        return bool(family(w) & set(among)) or any(w in family(p) for p in among)

    new = [w for w in words if not heard(w, prev_levels)]
    gone = [w for w in prev_words if not heard(w, levels)]
    return new, gone


def describe_sections(a: Analysis, audio_path: str | None = None, cfg: SectionConfig | None = None) -> list[dict]:
    """Time-stamped sections, each with the facts measured inside it and a caption stating only those."""
    spans = segment(a, audio_path, cfg)
    edges = np.array([s for s, _ in spans] + [spans[-1][1]])
    level = _level_db(audio_path, edges) if len(spans) > 1 else None
    tags = _section_tags(a, audio_path, spans) if len(spans) > 1 else None
    out = []
    stated = stated_chords(a)  # a single line's chords are only implied: no section states them
    for i, (s, e) in enumerate(spans):
        chords = [c for c in stated if min(e, c.end) - max(s, c.start) >= min(0.5, (c.end - c.start) / 2)]
        prog = chord_progression(chords, key=a.key.label if a.key is not None else None)
        dens, pitch = _note_stats(a, s, e)
        sec = {
            "start": round(s, 2),
            "end": round(e, 2),
            "chords": prog,
            "notes_per_s": round(dens, 2),
            "mean_pitch_midi": round(pitch, 1) if pitch is not None else None,
        }
        if level is not None:
            sec["level_db"] = round(float(level[i]), 1)
        if tags is not None:
            sec["tags"] = {
                g: [{"label": t.label, "score": round(float(t.score), 3)} for t in getattr(tags[i], g) or []]
                for g in ("genre", "instrument", "mood", "vocals")
            }
            sec["_levels"] = _tag_levels(tags[i])
            sec["_words"] = _stated(sec["_levels"])
        sec["caption"] = section_caption(sec, out[-1] if out else None)
        out.append(sec)
    for sec in out:
        sec.pop("_words", None)
        sec.pop("_levels", None)
    return out


def _verb(words: list[str], one: str, many: str) -> str:
    return many if len(words) > 1 or words[0].endswith("s") else one


def section_caption(sec: dict, prev: dict | None) -> str:
    """'0:19-0:43: Drums enter and the piano drops out; it gets quieter (-2 dB). The chords move through A - G.' Full
    sentences, only measured changes, parts entering and leaving with hysteresis (`_changes`)."""
    head = f"{_clock(sec['start'])}-{_clock(sec['end'])}"
    words = sec.get("_words")
    sentences = []
    if prev is None:
        if words or not sec.get("chords"):
            sentences.append(f"It opens with {join_words(words)}" if words else "The opening section")
    else:
        parts = []
        if words is not None and prev.get("_words") is not None:
            levels = sec.get("_levels") or {w: (1.0, True) for w in words}
            prev_levels = prev.get("_levels") or {w: (1.0, True) for w in prev["_words"]}
            new, gone = _changes(words, levels, prev["_words"], prev_levels)
            if new:
                parts.append(f"{join_words(new)} {_verb(new, 'enters', 'enter')}")
            if gone:  # "drops out": a negation the guard's vocabulary reads
                parts.append(f"the {join_words(gone)} {_verb(gone, 'drops out', 'drop out')}")
        change = " and ".join(parts)
        more = []
        if "level_db" in sec and "level_db" in prev:
            d = sec["level_db"] - prev["level_db"]
            if abs(d) >= 2:
                more.append(f"it gets {'louder' if d > 0 else 'quieter'} ({d:+.0f} dB)")
        notes = []  # one clause for the notes: "the notes get busier and move higher"
        if prev.get("notes_per_s") and sec["notes_per_s"]:
            r = sec["notes_per_s"] / prev["notes_per_s"]
            if r >= 1.5 or r <= 0.67:
                notes.append("get busier" if r > 1 else "get sparser")
        if sec.get("mean_pitch_midi") and prev.get("mean_pitch_midi"):
            d = sec["mean_pitch_midi"] - prev["mean_pitch_midi"]
            if abs(d) >= 3:
                notes.append(f"move {'higher' if d > 0 else 'lower'}")
        if notes:
            more.append(f"the notes {' and '.join(notes)}")
        text = "; ".join(x for x in [change, *more] if x)
        sentences.append(text or "It continues in the same way")
    if sec.get("chords"):
        same = prev is not None and prev.get("chords") == sec["chords"]
        sentences.append("The chords stay the same" if same else chord_phrase(sec["chords"]))
    return f"{head}: " + " ".join(x[:1].upper() + x[1:] + "." for x in sentences)
