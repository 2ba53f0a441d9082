"""`j2a describe`: analysis -> prompt -> J2A-LLM -> faithfulness guard -> description of the whole track.

Why a guard after the model: a small language model writes fluent MusicCaps-style text but also
invents instruments and singers it was never told about. Every sentence is checked claim by claim
(j2a.vocab) against the analysis; sentences with unsupported claims are dropped, the text is
regenerated with another seed when too much was lost, and after `max_tries` the deterministic
template (which only restates the analysis) is used. Non-music input never gets a song description.

Sections (`--sections`) come from the analysis itself: bar-level changes in harmony (chords), note
activity (transcribed notes) and level (short-term loudness), so each time-stamped section caption
states only what was measured in that span.
"""
from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .analysis import Analysis, as_analysis, is_saved_analysis, iter_analyses, read_analysis_at
from .guard import guard, split_sentences
from .theory import triad
from .vocab import aspects_from_analysis, chord_progression, check_claims, extract_claims


@dataclass
class Faithfulness:
    checked: list[dict] = field(default_factory=list)  # {category, phrase, concept, negated, supported, evidence}
    dropped: list[dict] = field(default_factory=list)  # {try, sentence, claims}
    tries: int = 0
    fallback: bool = False  # the template was used


@dataclass
class Description:
    caption: str
    sections: list[dict]
    analysis: Analysis
    model: str
    faithfulness: Faithfulness

    def to_dict(self) -> dict:
        return {"file": self.analysis.file, "caption": self.caption, "sections": self.sections, "model": self.model,
                "faithfulness": dataclasses.asdict(self.faithfulness), "analysis": self.analysis.to_dict()}


@dataclass
class DescribeConfig:
    max_new_tokens: int = 160
    min_words: int = 12  # a guarded caption shorter than this is regenerated
    max_drop_fraction: float = 0.5  # more than half the sentences dropped -> try again
    temperature: float = 0.7  # for retries (the first try uses the backend's default decoding)
    num_beams: int | None = None  # first try with a local model: beams (None = j2a.llm.GenConfig's 4; 1 = greedy, faster)


# ------------------------------------------------------------------------------------- backends
_LLMS: dict = {}


def get_llm(spec="local", adapter=None):
    """An LLM backend from j2a.llm (cached there), or an object with `.generate` passed straight through."""
    if not isinstance(spec, str):
        return spec
    from .llm import load_llm

    return load_llm(spec, adapter=adapter)


# Retries decode differently, so a regenerated caption is not the same text again: the first try
# uses the backend's own decoding (greedy for J2A-LLM); retries sample with a seed (reproducible).
_RETRY = [{}, {"temperature": 0.7, "seed": 1}, {"temperature": 0.9, "seed": 2}]


def _generate(llm, prompts: list[str], max_new_tokens: int, attempt: int, temperature: float,
              num_beams: int | None = None) -> list[str]:
    kw = {"num_beams": num_beams} if num_beams and hasattr(llm, "gen") else {}
    if attempt > 0:
        if hasattr(llm, "gen"):  # j2a.llm.HFLLM: GenConfig fields (temperature, seed) per call
            kw = dict(_RETRY[min(attempt, len(_RETRY) - 1)])
        elif hasattr(llm, "base_url"):  # j2a.llm.OpenAILLM
            kw = {"temperature": temperature}
    return llm.generate(prompts, max_new_tokens=max_new_tokens, **kw)


def _prompts():
    from . import prompts

    return prompts


# ------------------------------------------------------------------------------------ non-music
_REASON_PHRASE = {"speech": "it sounds like speech", "silence": "it is silent", "noise": "it sounds like noise",
                  "nature": "it sounds like natural (non-musical) sound", "animal": "it sounds like an animal",
                  "non-musical sound": "it sounds like a non-musical sound"}


def not_music_statement(analysis: Analysis) -> str:
    reason = ((analysis.music.reason if analysis.music else "") or "").strip().lower().split(":")[0]
    source = (analysis.music.source if analysis.music else None) or {}
    if source.get("label") and source["label"] != "speech":  # what YAMNet heard: "a machine", "a bird"
        from .features.fusion import sound_phrase

        # the AudioSet class name stays in analysis.music.reason: names like "Bird vocalization" would read
        # as musical claims here
        return (f"This recording does not appear to be music: it sounds like {sound_phrase(source['label'])} "
                f"(score {source['score']:.2f}).")
    phrase = _REASON_PHRASE.get(reason)
    if phrase is None and reason and reason != "music":
        phrase = f"it sounds like {reason}" if reason.endswith("s") or " " in reason else f"it sounds like {_a(reason)} {reason}"
    return "This recording does not appear to be music" + (f": {phrase}." if phrase else ".")


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


# --------------------------------------------------------------------------------------- describe
def captions_from_analyses(analyses: list[Analysis], llm="local", max_tries: int = 3, adapter=None,
                           config: DescribeConfig | None = None) -> list[tuple[str, str, Faithfulness]]:
    """(caption, model name, faithfulness) per music analysis: guarded, retried, template fallback.

    Batched: each try sends every caption still needing one to the backend in a single call, so a
    folder of tracks costs a few batched generations, not one generation per track per try.
    """
    cfg = config or DescribeConfig()
    p = _prompts()
    backend = get_llm(llm, adapter)
    name = getattr(backend, "name", str(llm))
    inputs = [aspects_from_analysis(a) for a in analyses]
    fzs = [Faithfulness() for _ in analyses]
    best = [""] * len(analyses)
    todo = list(range(len(analyses))) if name != "none" else []
    for attempt in range(max(1, max_tries)):
        if not todo:
            break
        raws = _generate(backend, [p.format_prompt(*inputs[i]) for i in todo], cfg.max_new_tokens, attempt,
                         cfg.temperature, cfg.num_beams)
        still = []
        for i, raw in zip(todo, raws):
            fz = fzs[i]
            fz.tries = attempt + 1
            kept, fz.checked, dropped = guard(raw, analyses[i])
            fz.dropped += [dict(d, attempt=attempt + 1) for d in dropped]
            n = len(split_sentences(raw)) or 1
            lost = sum(1 for d in dropped if "rewritten" not in d)
            if len(kept.split()) >= cfg.min_words and lost / n <= cfg.max_drop_fraction:
                best[i] = kept  # clean, or clean after dropping a minority of sentences: keep it
            else:
                still.append(i)
        todo = still
    out = []
    for i, a in enumerate(analyses):
        fz, model = fzs[i], name
        if not best[i]:
            fz.fallback = name != "none"  # with --llm none the template is the model, not a fallback
            best[i], fz.checked, dropped = guard(p.template_caption(*inputs[i]), a)
            fz.dropped += [dict(d, attempt="template") for d in dropped]
            model = f"template (after {name})" if name != "none" else "template"
        out.append((best[i], model, fz))
    return out


def caption_from_analysis(analysis: Analysis, llm="local", max_tries: int = 3, adapter=None,
                          config: DescribeConfig | None = None) -> tuple[str, str, Faithfulness]:
    """(caption, model name, faithfulness) for one music analysis; see captions_from_analyses."""
    return captions_from_analyses([analysis], llm, max_tries, adapter, config)[0]


def describe_many(sources, llm="local", sections: bool = False, max_tries: int = 3, adapter=None,
                  config: DescribeConfig | None = None) -> list[Description]:
    """`describe` for several tracks with batched LLM calls (paths, Analyses or dicts)."""
    analyses = [as_analysis(x) for x in sources]
    music = [i for i, a in enumerate(analyses) if a.is_music]
    caps = dict(zip(music, captions_from_analyses([analyses[i] for i in music], llm, max_tries, adapter, config)))
    out = []
    for i, (x, a) in enumerate(zip(sources, analyses)):
        if i not in caps:
            out.append(Description(not_music_statement(a), [], a, "rule: not music", Faithfulness()))
            continue
        secs = describe_sections(a, audio_path=_path_of(x, a)) if sections else []
        out.append(Description(caps[i][0], secs, a, caps[i][1], caps[i][2]))
    return out


def describe(path_or_analysis, llm="local", sections: bool = False, max_tries: int = 3, adapter=None,
             model: str | None = None, config: DescribeConfig | None = None) -> Description:
    """Describe a whole track: a guarded caption, optional time-stamped sections, and the analysis.

    `path_or_analysis`: an audio path, an Analysis, or its dict. `llm`: "local" (J2A-LLM), "none"
    (template), "hf:...", "openai:model@url" or an object with `.generate(prompts, max_new_tokens)`.
    `model`: a trained J2A-2.x checkpoint that writes the caption straight from audio (still guarded).
    """
    if model and model not in _CKPTS and not Path(model).exists():
        raise ValueError(f"{model}: no such J2A-2.x checkpoint")
    a = as_analysis(path_or_analysis)
    if not a.is_music:
        return Description(not_music_statement(a), [], a, "rule: not music", Faithfulness())
    if model:
        caption, name, fz = _caption_from_checkpoint(model, path_or_analysis, a, config)
    else:
        caption, name, fz = caption_from_analysis(a, llm, max_tries, adapter, config)
    secs = describe_sections(a, audio_path=_path_of(path_or_analysis, a)) if sections else []
    return Description(caption, secs, a, name, fz)


def _path_of(x, a: Analysis) -> str | None:
    if isinstance(x, (str, Path)) and not is_saved_analysis(x):
        return str(x)
    return a.file if a.file and Path(a.file).exists() else None


_CKPTS: dict = {}


def load_checkpoint(model: str):
    """A J2A-2.x checkpoint, loaded once per process; a one-line ValueError when it is not one."""
    if model not in _CKPTS:
        if not Path(model).exists():
            raise ValueError(f"{model}: no such J2A-2.x checkpoint")
        try:
            from .models import load_j2a2
        except ImportError:
            raise ValueError(f"{model}: cannot load J2A-2.x checkpoints (j2a.models.load_j2a2 is not available)") from None
        try:
            _CKPTS[model] = load_j2a2(model)
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise ValueError(f"{model}: not a J2A-2.x checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    return _CKPTS[model]


def checkpoint_and_audio(model: str, source, a: Analysis):
    """(J2A-2.x model, audio path) for `source`: the checkpoint listens to the audio, so an Analysis
    alone is not enough."""
    path = _path_of(source, a)
    if path is None:
        raise ValueError("--model (a J2A-2.x checkpoint) needs the audio file, not only an analysis")
    return load_checkpoint(model), path


def _caption_from_checkpoint(model, source, a, config):
    """Caption from a J2A-2.x checkpoint (audio in, words out), through the same guard."""
    m, path = checkpoint_and_audio(model, source, a)
    fz = Faithfulness(tries=1)  # its decoding is deterministic: a retry would repeat the same text
    kept, fz.checked, dropped = guard(m.describe(path), a)
    fz.dropped = [dict(d, attempt=1) for d in dropped]
    if len(kept.split()) >= (config or DescribeConfig()).min_words:
        return kept, f"j2a2:{Path(model).name}", fz
    caption, _, fz2 = caption_from_analysis(a, "none", 1)
    fz.fallback, fz.checked = True, fz2.checked
    return caption, "template (after j2a2)", fz


# --------------------------------------------------------------------------------------- sections
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
        from .audio import open_audio

        y = open_audio(path).load(8000)
    except Exception:
        return None
    y = np.asarray(y, dtype=np.float32)
    out = []
    for s, e in zip(edges[:-1], edges[1:]):
        seg = y[int(s * 8000):int(e * 8000)]
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
        nov[i] = np.linalg.norm(f[i - k:i].mean(0) - f[i:i + k].mean(0))
    if not nov.any():
        return [(0.0, dur)]
    thr = nov[nov > 0].mean() + cfg.threshold * nov[nov > 0].std()
    cands = [i for i in range(1, n) if nov[i] >= thr and nov[i] >= nov[max(0, i - 1)] and nov[i] >= nov[min(n - 1, i + 1)]]
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
    from .features.tags import tags_between

    if a.tags is not None and a.tags.timeline is not None and a.tags.timeline.models:
        return [tags_between(a.tags, s, e) for s, e in spans]
    if not path:
        return None
    try:
        from .audio import open_audio
        from .features.tags import analyze_tags

        y = np.asarray(open_audio(path).load(16000), dtype=np.float32)
        return [analyze_tags(open_audio(y[int(s * 16000):int(e * 16000)], 16000)) for s, e in spans]
    except Exception:  # a section too short or silent to tag: sections stay without tags
        return None


_SECTION_GROUPS = ("instrument", "vocals")


def _tag_words(tags) -> list[str]:
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
    from .features.fusion import calibration
    from .vocab import _READABLE, norm_tag

    out: dict[str, tuple[float, bool]] = {}
    for g in _SECTION_GROUPS:
        for t in getattr(tags, g) or []:
            w = _READABLE.get(norm_tag(t.label), norm_tag(t.label))
            if w == "instrumental":
                continue
            claimable = not t.sources or calibration().claimable(g, t.sources)
            old = out.get(w, (0.0, False))
            out[w] = (max(old[0], float(t.score)), old[1] or claimable)
    return out


def _changes(words: list[str], levels: dict, prev_words: list[str], prev_levels: dict) -> tuple[list[str], list[str]]:
    """(entering, leaving) with hysteresis: a part enters only if it is stated now and was not even weakly
    heard before; it leaves only if it was stated before and is not even weakly heard now. Families count
    as the part ("vocals" and "female vocal", "strings" and "violin"): so no sentence both keeps and
    removes a part, and a voice that was weakly there does not "enter" under another name."""
    from .vocab import _BY_KEY, extract_claims, support_tags

    def family(w):
        cs = [_BY_KEY.get(c.concept) for c in extract_claims(w, closed=False)]
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
    for i, (s, e) in enumerate(spans):
        chords = [c for c in a.chords or [] if min(e, c.end) - max(s, c.start) >= min(0.5, (c.end - c.start) / 2)]
        prog = chord_progression(chords, key=a.key.label if a.key is not None else None)
        dens, pitch = _note_stats(a, s, e)
        sec = {"start": round(s, 2), "end": round(e, 2), "chords": prog, "notes_per_s": round(dens, 2),
               "mean_pitch_midi": round(pitch, 1) if pitch is not None else None}
        if level is not None:
            sec["level_db"] = round(float(level[i]), 1)
        if tags is not None:
            sec["tags"] = {g: [{"label": t.label, "score": round(float(t.score), 3)} for t in getattr(tags[i], g) or []]
                           for g in ("genre", "instrument", "mood", "vocals")}
            sec["_levels"] = _tag_levels(tags[i])
            sec["_words"] = _stated(sec["_levels"])
        sec["caption"] = _section_caption(sec, out[-1] if out else None)
        out.append(sec)
    for sec in out:
        sec.pop("_words", None)
        sec.pop("_levels", None)
    return out


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _verb(words: list[str], one: str, many: str) -> str:
    return many if len(words) > 1 or words[0].endswith("s") else one


def _section_caption(sec: dict, prev: dict | None) -> str:
    """'0:19-0:43: Drums enter and the piano drops out; it gets quieter (-2 dB). Chords: A - G.' Full
    sentences, only measured changes, parts entering and leaving with hysteresis (`_changes`)."""
    head = f"{_clock(sec['start'])}-{_clock(sec['end'])}"
    words = sec.get("_words")
    sentences = []
    if prev is None:
        sentences.append(f"It opens with {_join(words)}" if words else "The opening section")
    else:
        parts = []
        if words is not None and prev.get("_words") is not None:
            levels = sec.get("_levels") or {w: (1.0, True) for w in words}
            prev_levels = prev.get("_levels") or {w: (1.0, True) for w in prev["_words"]}
            new, gone = _changes(words, levels, prev["_words"], prev_levels)
            if new:
                parts.append(f"{_join(new)} {_verb(new, 'enters', 'enter')}")
            if gone:  # "drops out": a negation the guard's vocabulary reads
                parts.append(f"the {_join(gone)} {_verb(gone, 'drops out', 'drop out')}")
        change = " and ".join(parts)
        more = []
        if "level_db" in sec and "level_db" in prev:
            d = sec["level_db"] - prev["level_db"]
            if abs(d) >= 2:
                more.append(f"it gets {'louder' if d > 0 else 'quieter'} ({d:+.0f} dB)")
        if prev.get("notes_per_s") and sec["notes_per_s"]:
            r = sec["notes_per_s"] / prev["notes_per_s"]
            if r >= 1.5 or r <= 0.67:
                more.append("busier note activity" if r > 1 else "sparser note activity")
        if sec.get("mean_pitch_midi") and prev.get("mean_pitch_midi"):
            d = sec["mean_pitch_midi"] - prev["mean_pitch_midi"]
            if abs(d) >= 3:
                more.append(f"the notes move {'higher' if d > 0 else 'lower'}")
        text = "; ".join(x for x in [change, *more] if x)
        sentences.append(text or "It continues in the same way")
    if sec.get("chords"):
        same = prev is not None and prev.get("chords") == sec["chords"]
        sentences.append("The chords stay the same" if same else f"Chords: {sec['chords']}")
    return f"{head}: " + " ".join(x[:1].upper() + x[1:] + "." for x in sentences)


# -------------------------------------------------------------------------------------------- CLI
# analyses saved in files given to `j2a describe`, by their audio path: the analysis itself, or where its
# JSON line starts (a library's JSONL is indexed, not held in memory)
_SAVED: dict[str, Analysis | tuple[str, int]] = {}


def _read_saved(paths: list[str]) -> list[str]:
    """Index saved analysis files into _SAVED (also each worker's initializer); their audio paths, in order."""
    keys = []
    for p in paths:
        for offset, a in iter_analyses(p):
            _SAVED[a.file] = a if offset is None else (p, offset)
            keys.append(a.file)
    return list(dict.fromkeys(keys))


def _describe_one(path: str, llm="local", sections=False, adapter=None, model=None, beams=None) -> dict:
    cfg = DescribeConfig(num_beams=beams) if beams else None
    src = _SAVED.get(path, path)
    src = read_analysis_at(*src) if isinstance(src, tuple) else src
    return describe(src, llm=llm, sections=sections, adapter=adapter, model=model, config=cfg).to_dict()


def _flatten(d: dict) -> dict:
    fz = d.get("faithfulness") or {}
    return {"file": d.get("file"), "caption": d.get("caption"), "model": d.get("model"), "tries": fz.get("tries"),
            "fallback": fz.get("fallback"), "dropped": len(fz.get("dropped") or []),
            "sections": " | ".join(s["caption"] for s in d.get("sections") or [])}


def cmd_describe(args) -> int:
    from .batch import append_jsonl, errors_path, run_batch

    fn = partial(_describe_one, llm=args.llm, sections=args.sections, adapter=args.adapter, model=args.model,
                 beams=args.beams)
    inputs, saved, bad = [], [], []
    for x in args.inputs:  # saved analyses (from `j2a analyze --out X.jsonl`) are described without re-analysis
        if not is_saved_analysis(x):
            inputs.append(x)
            continue
        try:
            inputs += _read_saved([x])
            saved.append(x)
        except ValueError as e:
            print(e, file=sys.stderr, flush=True)
            bad.append({"file": x, "error": str(e)})
    init = partial(_read_saved, saved) if saved and args.workers > 1 else None
    res = run_batch(inputs, fn, out=args.out, fmt=args.format, resume=args.resume, workers=args.workers,
                    desc="describe", flatten=_flatten, initializer=init)
    res.failed += bad
    if args.out:
        for row in bad:  # beside the batch's own errors (run_batch starts that file afresh)
            append_jsonl(errors_path(args.out), row)
        print(f"describe: {len(res.done)} done ({res.skipped} already there), {len(res.failed)} failed -> {args.out}",
              file=sys.stderr)
    return res.exit_code


def add_cli(subparsers) -> None:
    from .cli import add_batch_args, sub

    p = sub(subparsers, "describe", "describe whole tracks in words (guarded against unsupported claims)",
            "j2a describe song.mp3\n"
            "j2a describe song.mp3 --sections --format json\n"
            "j2a describe ~/Music --out captions.jsonl --resume\n"
            "j2a describe library.jsonl --out captions.jsonl   # analyses saved by `j2a analyze --out`: no re-analysis\n"
            "j2a describe song.wav --llm none            # template only, no language model\n"
            "j2a describe song.wav --beams 1             # greedy decoding: faster")
    add_batch_args(p, inputs_help="audio files and/or folders (walked recursively), or analyses saved by "
                                  "`j2a analyze --out X.json|X.jsonl` (described without analysing again)")
    p.add_argument("--sections", action="store_true", help="add time-stamped descriptions of the track's sections")
    p.add_argument("--llm", default="local", metavar="SPEC",
                   help="local (J2A-LLM, default) | none (template) | hf:MODEL_ID_OR_PATH | openai:MODEL@BASE_URL")
    p.add_argument("--adapter", metavar="PATH", help="LoRA adapter folder for the LLM")
    p.add_argument("--model", metavar="PATH", help="a trained J2A-2.x checkpoint (audio -> caption) instead of the LLM")
    p.add_argument("--beams", type=int, metavar="N", help="beam search width for the local LLM (default 4; 1 = greedy: "
                   "faster, scores lower; both measured in bench/RESULTS.md)")
    p.set_defaults(func=cmd_describe)
