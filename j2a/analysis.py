"""The Analysis dataclass (J2A's JSON schema) and `analyze()`, which runs every feature extractor.

Every field here is produced by a real model or measurement in `j2a.features`; nothing is guessed.
Fields a feature could not support are `None` / empty (e.g. no key for atonal or non-music input),
so downstream text generation can never claim more than the analysis holds.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import __version__

# 2: fused musicnn + YAMNet tags (Tag.sources, Tags.sound, Tags.audioset, Tags.timeline). Version-1 files load
# unchanged: every new field has a default.
SCHEMA_VERSION = 2


@dataclass
class TempoCandidate:
    bpm: float
    weight: float  # relative support, sums to ~1 over candidates


@dataclass
class Tempo:
    bpm: float | None  # None when no steady pulse was found
    confidence: float  # 0..1
    candidates: list[TempoCandidate] = field(default_factory=list)  # includes half / double alternatives


@dataclass
class Meter:
    label: str | None  # "4/4", "3/4", ...; None when undetermined
    beats_per_bar: int | None
    confidence: float


@dataclass
class Key:
    label: str | None  # "D minor", "C major"; None for atonal / non-music input
    confidence: float
    tonic: str | None = None
    mode: str | None = None  # "major" | "minor"
    candidates: list[dict] = field(default_factory=list)  # [{label, score}], best first


@dataclass
class Chord:
    start: float
    end: float
    label: str  # mir_eval / Harte syntax: "A:min", "C:maj", "N"


@dataclass
class Tag:
    label: str
    score: float  # fused score (j2a.features.fusion): >= 0.15 when listed, comparable across labels
    sources: dict[str, float] = field(default_factory=dict)  # raw score of each model that has the label


@dataclass
class TagTimeline:
    """Fused scores over time, one value per segment of `hop_s` seconds (musicnn's 3-s patch; YAMNet's
    0.96-s windows are averaged into it), for every label that reaches the listing score somewhere.
    Per-model series are kept so the fusion can be redone; `fused` is what sections and `ask` read."""

    hop_s: float = 0.0
    fused: dict[str, list[float]] = field(default_factory=dict)  # "group:label" -> per-segment score
    models: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # model -> "group:label" -> series

    def spans(self, key: str, on: float = 0.15, off: float = 0.1) -> list[tuple[float, float]]:
        """(start_s, end_s) where `key` plays: on at `on`, off below `off` (hysteresis, so a score that
        hovers at the threshold does not flicker)."""
        out, start, active = [], 0.0, False
        series = self.fused.get(key, [])
        for i, v in enumerate(series):
            if not active and v >= on:
                active, start = True, i * self.hop_s
            elif active and v < off:
                active = False
                out.append((round(start, 2), round(i * self.hop_s, 2)))
        if active:
            out.append((round(start, 2), round(len(series) * self.hop_s, 2)))
        return out


@dataclass
class Tags:
    genre: list[Tag] = field(default_factory=list)
    instrument: list[Tag] = field(default_factory=list)
    mood: list[Tag] = field(default_factory=list)
    vocals: list[Tag] = field(default_factory=list)
    sound: list[Tag] = field(default_factory=list)  # non-music sources heard (speech, animals, machines, weather)
    scores: dict[str, float] = field(default_factory=dict)  # every raw musicnn tag score ("mtt:x", "msd:y")
    audioset: dict[str, float] = field(default_factory=dict)  # YAMNet track scores >= 0.01, by AudioSet name
    timeline: TagTimeline | None = None


@dataclass
class NoteEvent:
    start: float
    end: float
    pitch: int  # MIDI number
    velocity: float


@dataclass
class Notes:
    count: int = 0
    pitch_range: dict | None = None  # {"low": {"midi", "name"}, "high": {...}}
    pitch_classes: list[dict] = field(default_factory=list)  # [{"name", "weight"}], most active first
    density_per_s: float = 0.0
    polyphony: float = 0.0  # mean simultaneous notes while any sound
    events: list[NoteEvent] = field(default_factory=list)


@dataclass
class Loudness:
    integrated_lufs: float | None
    loudness_range_lu: float | None  # EBU R128 LRA: the dynamics figure
    peak_dbfs: float
    crest_db: float | None = None


@dataclass
class MusicDetection:
    is_music: bool
    confidence: float
    reason: str  # "music", "silence", "speech: Speech 0.99", "non-musical sound: Electric shaver, electric razor 0.95"
    scores: dict[str, float] = field(default_factory=dict)
    source: dict = field(default_factory=dict)  # not music: the sound heard {label, audioset_class, score}


@dataclass
class Analysis:
    file: str
    duration_s: float
    is_music: bool
    music: MusicDetection
    tempo: Tempo | None = None
    beats: list[float] = field(default_factory=list)
    downbeats: list[float] = field(default_factory=list)
    meter: Meter | None = None
    key: Key | None = None
    chords: list[Chord] = field(default_factory=list)
    tags: Tags | None = None
    notes: Notes | None = None
    loudness: Loudness | None = None
    version: str = __version__
    schema_version: int = SCHEMA_VERSION
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Analysis":
        return _from_dict(cls, d)

    @classmethod
    def from_json(cls, s: str) -> "Analysis":
        return cls.from_dict(json.loads(s))


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return round(float(x), 4)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _from_dict(tp, d):
    """Rebuild nested dataclasses from plain dicts (inverse of dataclasses.asdict)."""
    import typing

    if d is None:
        return None
    hints = typing.get_type_hints(tp)
    kwargs = {}
    for f in dataclasses.fields(tp):
        if f.name not in d:
            continue
        kwargs[f.name] = _coerce(hints[f.name], d[f.name])
    return tp(**kwargs)


def _coerce(hint, v):
    import types
    import typing

    if v is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(args[0], v) if len(args) == 1 else v
    if origin is list:
        (arg,) = typing.get_args(hint) or (Any,)
        return [_coerce(arg, x) for x in v]
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, v)
    return v


@dataclass
class AnalyzeConfig:
    """Which extractors to run. All on by default; switching one off leaves its fields empty."""

    rhythm: bool = True
    harmony: bool = True
    tags: bool = True
    notes: bool = True
    loudness: bool = True
    threads: int = 2  # extractors run side by side: each alone leaves a core idle much of the time


def analyze(source: str | os.PathLike | np.ndarray, sr: int | None = None, config: AnalyzeConfig | None = None) -> Analysis:
    """Analyse one file (or an array with its sample rate) and return an Analysis.

    Raises j2a.audio.AudioError with a one-line reason for unusable input. Non-music input
    (speech, nature sounds) gets `is_music=False` and no musical features, so nothing downstream
    can describe it as a song.
    """
    from .audio import open_audio
    from .features import harmony, loudness, music, notes, rhythm, tags, yamnet

    cfg = config or AnalyzeConfig()
    timings: dict[str, float] = {}

    def timed(name, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        timings[name] = round(time.perf_counter() - t, 3)
        return out

    audio = timed("decode", open_audio, source, sr)
    # Every extractor reads the same Audio, so they run concurrently (torch, onnxruntime and numpy release
    # the GIL). The musical ones start before is_music is known and are discarded for non-music input:
    # that wastes a little work on speech, but nearly halves the wall time on music, the common case.
    # YAMNet runs first inside the is_music job (about 3 ms per 0.48-s window): its sound-source
    # evidence decides is_music, and its windows are fused with musicnn's patches into the tags.
    def hear():
        windows = timed("yamnet", yamnet.window_scores, audio) if cfg.tags else None
        return music.detect(audio, windows), windows

    jobs = {"is_music": (True, hear), "tags": (cfg.tags, tags.patch_scores),
            "rhythm": (cfg.rhythm, rhythm.analyze_rhythm), "notes": (cfg.notes, notes.analyze_notes),
            "harmony": (cfg.harmony, harmony.analyze_harmony), "loudness": (cfg.loudness, loudness.analyze_loudness)}
    import torch

    torch_threads = torch.get_num_threads()
    if cfg.threads > 1:  # parallel across extractors, not inside each: no oversubscribed cores
        torch.set_num_threads(1)
    with ThreadPoolExecutor(max_workers=max(1, cfg.threads)) as pool:
        futs = {name: pool.submit(timed, name, fn, audio) if name != "is_music" else pool.submit(timed, name, fn)
                for name, (on, fn) in jobs.items() if on}
        detection, windows = futs.pop("is_music").result()
        if not detection.is_music:
            for name in ("rhythm", "notes", "harmony"):
                if name in futs:
                    futs.pop(name).cancel()
        try:
            out = {name: f.result() for name, f in futs.items() if not f.cancelled()}
        finally:
            torch.set_num_threads(torch_threads)
    tag_result = None
    if "tags" in out:
        tag_result = tags.fused_tags(*out["tags"], windows, audio.duration_s)
        if tag_result.scores:
            detection.scores["tag_max"] = round(max(tag_result.scores.values()), 3)
    result = Analysis(
        file=audio.name,
        duration_s=round(audio.duration_s, 3),
        is_music=detection.is_music,
        music=detection,
        tags=tag_result if detection.is_music else _sounds_only(tag_result),
        loudness=out.get("loudness"),
        timings_s=timings,
    )
    if not detection.is_music:
        return _normalised(result)
    if "rhythm" in out:
        r = out["rhythm"]
        result.tempo, result.beats, result.downbeats, result.meter = r.tempo, r.beats, r.downbeats, r.meter
    if "harmony" in out:
        result.key, result.chords = out["harmony"].key, out["harmony"].chords
    result.notes = out.get("notes")
    return _normalised(result)


def _sounds_only(t: Tags | None) -> Tags | None:
    """Non-music keeps what was heard (speech, a bird, a fan), never a musical tag."""
    if t is None:
        return None
    tl = t.timeline
    if tl is not None:
        keep = [k for k in tl.fused if k.startswith("sound:")]
        tl = TagTimeline(tl.hop_s, {k: tl.fused[k] for k in keep},
                         {m: {k: v[k] for k in keep if k in v} for m, v in tl.models.items()})
    return Tags(sound=t.sound, audioset=t.audioset, timeline=tl)


def _normalised(result: Analysis) -> Analysis:
    """The result as it reads back from JSON (rounded floats, plain types), so that
    `Analysis.from_json(a.to_json()) == a` holds for every analysis we hand out."""
    return Analysis.from_dict(result.to_dict())


# ------------------------------------------------------------------------------- saved analyses
SAVED_SUFFIXES = (".json", ".jsonl")


def is_saved_analysis(path) -> bool:
    """A file name that `j2a analyze --format json|jsonl` (or `j2a describe`) writes, not audio."""
    return str(path).lower().endswith(SAVED_SUFFIXES)


def iter_analyses(path):
    """(offset, Analysis) for each analysis saved in a file: `j2a analyze --format json` (one object or a
    list; offset None) or `jsonl` (one per line; offset = the line's byte position, for read_analysis_at),
    or `j2a describe` output (each row carries its analysis). Errors name the file.

    Why: analysing a 3-minute track costs about 8 s on 2 cores; describing a library analysed before,
    or asking a second question about a song, should not pay it again. Lines are read one at a time, so
    a library's worth of analyses (note events and all) need not fit in memory."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror.lower() if e.strerror else e}") from None
    i = 0
    with f:
        doc = None
        if not str(path).lower().endswith(".jsonl"):
            try:  # a JSON document; else JSON lines after all
                doc = json.loads(f.read())
            except json.JSONDecodeError:
                f.seek(0)
        if doc is not None:
            for i, r in enumerate(doc if isinstance(doc, list) else [doc], 1):
                yield None, _saved_row(path, i, r)
        else:
            offset = 0
            for line in f:
                if line.strip():
                    i += 1
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}: line {i} is not JSON ({e.msg})") from None
                    yield offset, _saved_row(path, i, r)
                offset += len(line)
    if not i:
        raise ValueError(f"{path}: no analyses in it")


def read_analysis_at(path, offset: int) -> Analysis:
    """The analysis on the JSON line that starts at byte `offset` of `path` (from iter_analyses)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return _saved_row(path, offset, json.loads(f.readline()))


def _saved_row(path, i, r) -> Analysis:
    r = r.get("analysis", r) if isinstance(r, dict) else r
    if not isinstance(r, dict) or "duration_s" not in r or "is_music" not in r:
        raise ValueError(f"{path}: entry {i} is not a J2A analysis (no duration_s / is_music)")
    return Analysis.from_dict(r)


def read_analyses(path) -> list[Analysis]:
    """Every analysis saved in a file (iter_analyses)."""
    return [a for _, a in iter_analyses(path)]


def as_analysis(x) -> Analysis:
    """An Analysis from an Analysis, its dict, a saved analysis file holding one (read_analyses), or an
    audio path (analysed now)."""
    if isinstance(x, Analysis):
        return x
    if isinstance(x, dict):
        return Analysis.from_dict(x)
    if is_saved_analysis(x):
        rows = read_analyses(x)
        if len(rows) > 1:
            raise ValueError(f"{x}: holds {len(rows)} analyses, not one: "
                             "give the recording itself or a file with its analysis alone")
        return rows[0]
    return analyze(x)
