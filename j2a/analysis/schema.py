"""The Analysis dataclasses: J2A's JSON schema, its versions and the dict / JSON round trip.

Every field is produced by a real model or measurement in `j2a.features` (run by `j2a.analysis.pipeline`);
nothing is guessed. Fields a feature could not support are `None` / empty (e.g. no key for atonal or
non-music input), so downstream text generation can never claim more than the analysis holds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__

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


# Notes sound together (chords, several players) at this many `Notes.voices` or more: the rule for stating chords
# (EvidenceConfig.chords_min_voices, where the measurement is) and for the notes' say in the chords
# (HarmonyConfig.chord_notes_min_voices).
CHORDAL_VOICES = 1.5


@dataclass
class Notes:
    count: int = 0
    pitch_range: dict | None = None  # {"low": {"midi", "name"}, "high": {...}}
    pitch_classes: list[dict] = field(default_factory=list)  # [{"name", "weight"}], most active first
    density_per_s: float = 0.0
    polyphony: float = 0.0  # mean simultaneous notes while any sound
    voices: float | None = None  # the same, overtones of a lower sounding note not counted (None: older analyses)
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
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        return _from_dict(cls, d)

    @classmethod
    def from_json(cls, s: str) -> Analysis:
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


@functools.cache
def _field_hints(tp) -> tuple[tuple[str, Any], ...]:
    """(name, type) of a dataclass's fields, resolved once per class: typing.get_type_hints on every nested object
    was most of the time spent reading a saved analysis (a NoteEvent per note)."""
    import typing

    hints = typing.get_type_hints(tp)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(tp))


def _from_dict(tp, d):
    """Rebuild nested dataclasses from plain dicts (inverse of dataclasses.asdict)."""
    if d is None:
        return None
    return tp(**{name: _coerce(hint, d[name]) for name, hint in _field_hints(tp) if name in d})


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


def normalised(result: Analysis) -> Analysis:
    """The result as it reads back from JSON (rounded floats, plain types), so that
    `Analysis.from_json(a.to_json()) == a` holds for every analysis we hand out."""
    return Analysis.from_dict(result.to_dict())
