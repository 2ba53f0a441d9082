"""A music collection in one SQLite file: `j2a index / search / similar / duplicates / playlist`.

What a track holds: path, size, mtime and a content hash (so unchanged files are skipped, changed ones
re-indexed and moved ones recognised), the Analysis (J2A's JSON), the J2A-1.0 description, a text embedding
(all-MiniLM-L6-v2 over description + facts + tags) and an audio embedding built from the analysis itself
(`audio_embedding`: no second decode).

The modules: db (the SQLite schema, migrations, a track's row), embed (text and audio embeddings), query
(a query's words as filters, partial credit), core (`Library`: the open database, its vectors, nearest
neighbours), index, search (search, similar), duplicates, playlist (the jobs, bound as Library's methods) and
cli (the sub-commands). Everything below stays importable from `j2a.library`; importing it loads no model.
"""

from ..theory import camelot, camelot_mixes  # as before the split (tests read them here)
from .cli import DEFAULT_DB, add_cli, cmd_duplicates, cmd_index, cmd_playlist, cmd_search, cmd_similar
from .core import Library
from .db import MIGRATIONS, SCHEMA_VERSION, LibraryError, Track, connect
from .embed import audio_embedding, same_recording, text_embeddings, track_text
from .index import IndexReport, file_hash
from .playlist import pooled_analysis, set_caption, set_description, write_m3u
from .query import UNKNOWN, VOCAL_KINDS, Filters, carried, filters_from_args, match_filters, parse_query, tag_strength
from .search import tempo_mixes

__all__ = [
    "DEFAULT_DB",
    "Filters",
    "IndexReport",
    "Library",
    "LibraryError",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Track",
    "UNKNOWN",
    "VOCAL_KINDS",
    "add_cli",
    "audio_embedding",
    "camelot",
    "camelot_mixes",
    "carried",
    "cmd_duplicates",
    "cmd_index",
    "cmd_playlist",
    "cmd_search",
    "cmd_similar",
    "connect",
    "file_hash",
    "filters_from_args",
    "match_filters",
    "parse_query",
    "pooled_analysis",
    "same_recording",
    "set_caption",
    "set_description",
    "tag_strength",
    "tempo_mixes",
    "text_embeddings",
    "track_text",
    "write_m3u",
]
