"""The library's sub-commands: `j2a index / search / similar / duplicates / playlist`, each a thin `cmd_*` over the
`Library`, and `add_cli`, which `j2a/cli.py` calls to register them. Why apart: the argument parsing and output
formats (table, JSON, CSV, M3U) are the command line's business, not the Library's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .core import Library
from .db import Track
from .index import IndexReport
from .playlist import set_caption, set_description, write_m3u
from .query import VOCAL_KINDS, filters_from_args

DEFAULT_DB = "j2a-library.db"


def _print_tracks(tracks: list[Track], fmt: str, out=None) -> None:
    out = out or sys.stdout
    rows = [t.to_dict() for t in tracks]
    if fmt == "json":
        print(json.dumps(rows, indent=2), file=out)
    elif fmt == "csv":
        import csv

        w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["id"], extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "why": "; ".join(r["why"])})
    elif fmt == "m3u":
        print("#EXTM3U", file=out)
        for t in tracks:
            print(f"#EXTINF:{round(t.duration_s)},{Path(t.path).stem}\n{t.path}", file=out)
    else:
        for r in rows:
            facts = " ".join(
                str(x) for x in (f"{r['bpm']:.0f} BPM" if r["bpm"] else "", r["key"] or "", r["meter"] or "") if x
            )
            print(f"{r['id']:>5}  {r['score']:.2f}  {r['path']}\n       {facts}  ({'; '.join(r['why'])})", file=out)


def cmd_index(args) -> int:
    with Library(args.db) as lib:
        if args.errors:
            for e in lib.errors():
                print(f"{e['path']}: {e['error']}")
            return 0
        rep = IndexReport()
        if args.engine == "ray" and args.inputs:  # the run's shards in --out, then imported like --from DIR
            from ..cluster import cmd_run

            args.resume = True  # a rerun continues the run folder: the library is kept in step with it
            code = cmd_run("analyze" if args.no_describe else "describe", args)
            if code == 2:
                return code
            args.from_file, args.inputs = args.out, []
        if args.from_file:
            rep = lib.import_jsonl(args.from_file)
        if args.inputs:
            r2 = lib.index(
                args.inputs, describe=not args.no_describe, llm=args.llm, workers=args.workers, prune=args.prune
            )
            rep = (
                r2
                if not args.from_file
                else IndexReport(
                    rep.added + r2.added,
                    rep.updated + r2.updated,
                    r2.moved,
                    r2.unchanged,
                    r2.pruned,
                    rep.failed + r2.failed,
                )
            )
        print(f"{rep.line()} -> {args.db} ({len(lib)} tracks)", file=sys.stderr)
        return 1 if rep.failed else 0


def cmd_search(args) -> int:
    with Library(args.db) as lib:
        hits, f = lib.search(args.query, filters_from_args(args), limit=args.limit, strict=args.strict)
        print(f"filters: {f.describe()}", file=sys.stderr)
        _print_tracks(hits, args.format)
    return 0


def cmd_similar(args) -> int:
    with Library(args.db) as lib:
        _print_tracks(lib.similar(args.track, limit=args.limit, mixable=args.mixable), args.format)
    return 0


def cmd_duplicates(args) -> int:
    with Library(args.db) as lib:
        groups = lib.duplicates(min_similarity=args.min_similarity)
    if args.format == "json":
        print(json.dumps([[t.to_dict() for t in g] for g in groups], indent=2))
    else:
        for n, g in enumerate(groups, 1):
            print(f"group {n}: {len(g)} files")
            for t in g:
                print(f"  {t.id:>5}  {t.path}  {'; '.join(t.why)}")
    print(f"duplicates: {len(groups)} groups", file=sys.stderr)
    return 0


def cmd_playlist(args) -> int:
    with Library(args.db) as lib:
        tracks = lib.playlist(args.query, minutes=args.minutes, filters=filters_from_args(args))
    if not tracks:
        print(f"playlist: nothing in {args.db} matches {args.query!r}", file=sys.stderr)
        return 1
    if args.out:
        write_m3u(tracks, args.out)
    _print_tracks(tracks, "table" if args.out else "m3u")
    if args.describe:
        words = set_caption(tracks, llm=args.llm) if args.llm != "none" else ""
        print("\n" + set_description(tracks) + (f" {words}" if words else ""))
    print(
        f"playlist: {len(tracks)} tracks, {sum(t.duration_s for t in tracks) / 60:.1f} min"
        + (f" -> {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return 0


def _db_arg(p) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help="the library database (default: %(default)s)")


def _list_args(p) -> None:
    p.add_argument("--limit", type=int, default=10, help="how many tracks (default: %(default)s)")
    p.add_argument("--format", choices=["table", "json", "csv", "m3u"], default="table")


def _filter_args(p) -> None:
    p.add_argument("--bpm", metavar="LO-HI", help="tempo range, e.g. 60-80")
    p.add_argument("--key", help="e.g. 'D minor'")
    p.add_argument("--camelot", help="e.g. 8A")
    p.add_argument("--meter", help="3/4, 4/4, 6/8 or 9/8 (the meters J2A tells apart)")
    p.add_argument("--genre", action="append", help="a genre tag (repeatable)")
    p.add_argument("--instrument", action="append", help="an instrument tag (repeatable)")
    p.add_argument("--vocals", choices=["yes", "no", *VOCAL_KINDS])
    p.add_argument("--mood", action="append", help="a mood tag (repeatable)")


def add_cli(subparsers) -> None:
    from ..cli import add_engine_args, sub

    p = sub(
        subparsers,
        "index",
        "analyse, describe and embed audio files into a searchable library (one SQLite file)",
        "j2a index ~/Music --db music.db --workers 2\n"
        "j2a index ~/Music --db music.db --prune          # again later: only new / changed files\n"
        "j2a index --from analyses.jsonl --db music.db    # import saved analyses, no decoding\n"
        "j2a index --errors --db music.db                 # the files that failed, with their reasons\n"
        "j2a index s3://bucket/music --engine ray --out runs/music/ --db music.db   # on a Ray cluster",
    )
    p.add_argument("inputs", nargs="*", metavar="FILE|DIR")
    _db_arg(p)
    p.add_argument("--workers", "-j", type=int, default=1, help="analysis worker processes")
    p.add_argument("--no-describe", action="store_true", help="analysis and embeddings only (fast)")
    p.add_argument("--llm", default="local", metavar="SPEC", help="describing LLM: local | none (the template)")
    p.add_argument("--prune", action="store_true", help="drop tracks whose file is gone")
    p.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE.jsonl|DIR",
        help="import `j2a analyze` / `j2a describe` JSONL, or the folder of an --engine ray run",
    )
    p.add_argument("--errors", action="store_true", help="list the files that failed and why")
    p.add_argument("--out", metavar="DIR", help="with --engine ray: the run's folder of shards (kept, resumable)")
    add_engine_args(p)
    p.set_defaults(func=cmd_index)

    p = sub(
        subparsers,
        "search",
        "find tracks by words: numbers and vocabulary become filters, the rest ranks by meaning",
        'j2a search "calm piano pieces in D minor around 70 bpm" --db music.db\n'
        'j2a search "instrumental jazz" --bpm 110-130 --format m3u > jazz.m3u',
    )
    p.add_argument("query")
    _db_arg(p)
    _filter_args(p)
    p.add_argument(
        "--strict", action="store_true", help="only tracks that meet every filter (default: near misses follow)"
    )
    _list_args(p)
    p.set_defaults(func=cmd_search)

    p = sub(
        subparsers,
        "similar",
        "tracks that sound like a track of the library (by id or path)",
        "j2a similar ~/Music/song.flac --db music.db\nj2a similar 42 --mixable --db music.db",
    )
    p.add_argument("track", help="track id or path")
    _db_arg(p)
    p.add_argument("--mixable", action="store_true", help="only keys that mix (Camelot) within 6%% of the tempo")
    _list_args(p)
    p.set_defaults(func=cmd_similar)

    p = sub(
        subparsers,
        "duplicates",
        "groups of the same recording (other format, bitrate, trimmed), with evidence",
        "j2a duplicates --db music.db\nj2a duplicates --db music.db --format json > dupes.json",
    )
    _db_arg(p)
    p.add_argument("--min-similarity", type=float, default=0.98, help="timbre-embedding cosine (default: %(default)s)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_duplicates)

    p = sub(
        subparsers,
        "playlist",
        "a set of matching tracks, ordered for smooth key and tempo transitions",
        'j2a playlist "dinner jazz" --minutes 45 --out dinner.m3u8 --describe --db music.db',
    )
    p.add_argument("query")
    _db_arg(p)
    _filter_args(p)
    p.add_argument("--minutes", type=float, default=45.0)
    p.add_argument("--out", metavar="FILE.m3u8")
    p.add_argument(
        "--describe",
        action="store_true",
        help="print a description of the set: its facts (length, tempo arc, keys) and the J2A-LLM's words for "
        "what the tracks share, checked by the faithfulness guard",
    )
    p.add_argument("--llm", default="local", metavar="SPEC", help="describing LLM: local | none (facts only)")
    p.set_defaults(func=cmd_playlist)
