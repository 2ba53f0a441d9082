"""What J2A measures in a recording: the schema (`schema`), the pipeline that runs the extractors
(`pipeline`), and analyses saved in files (`files`)."""

from .files import SAVED_SUFFIXES, as_analysis, is_saved_analysis, iter_analyses, read_analyses, read_analysis_at
from .pipeline import AnalyzeConfig, analyze
from .schema import (
    SCHEMA_VERSION,
    Analysis,
    Chord,
    Key,
    Loudness,
    Meter,
    MusicDetection,
    NoteEvent,
    Notes,
    Tag,
    Tags,
    TagTimeline,
    Tempo,
    TempoCandidate,
)

__all__ = [
    "SAVED_SUFFIXES",
    "SCHEMA_VERSION",
    "Analysis",
    "AnalyzeConfig",
    "Chord",
    "Key",
    "Loudness",
    "Meter",
    "MusicDetection",
    "NoteEvent",
    "Notes",
    "Tag",
    "TagTimeline",
    "Tags",
    "Tempo",
    "TempoCandidate",
    "analyze",
    "as_analysis",
    "is_saved_analysis",
    "iter_analyses",
    "read_analyses",
    "read_analysis_at",
]
