"""`j2a` command line. One sub-command per job; each lives beside the code it runs.

Sub-commands defined elsewhere register themselves through an `add_cli(subparsers)` function in
their module (listed in `COMMAND_MODULES`), so this file stays small and imports nothing heavy:
models load only when a command runs. A listed module that is missing, or has no add_cli, is an
error: a command must never vanish from `j2a --help` without a word.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from pathlib import Path

from . import __version__

# Modules that add sub-commands (each defines add_cli(subparsers)).
COMMAND_MODULES = [
    "j2a.text.describe",
    "j2a.text.ask",
    "j2a.training.llm",
    "j2a.eval.cli",
    "j2a.training.j2a2",
    "j2a.training.pretrain",
    "j2a.data.cli",
    "j2a.library",
    "j2a.serve",
]


class _Fmt(argparse.RawDescriptionHelpFormatter):
    pass


def add_batch_args(
    p: argparse.ArgumentParser,
    default_format: str = "jsonl",
    inputs_help: str = "audio files and/or folders (walked recursively)",
    text: bool = True,
) -> None:
    """Arguments every batch command shares (analyze, describe, ...). `text`: the command has a text form for
    people, the default when stdout is a terminal (main() decides); without it the format is always a file's."""
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help=inputs_help)
    default = f"text when printing to a terminal, else {default_format}" if text else default_format
    p.add_argument(
        "--format",
        choices=(["text"] if text else []) + ["json", "jsonl", "csv", "parquet"],
        default=None if text else default_format,  # None: main() picks text or default_format
        help=f"output format (default: {default}; parquet: shards of --engine ray only)",
    )
    if text:
        p.set_defaults(default_format=default_format)
    p.add_argument(
        "--out", "-o", metavar="PATH", help="output file (default: stdout); each finished file is flushed at once"
    )
    p.add_argument("--workers", "-j", type=int, default=1, help="parallel worker processes (default: 1)")
    p.add_argument("--resume", action="store_true", help="skip files already in --out (continue a killed run)")


def add_engine_args(p) -> None:
    """The flags that move a batch command onto Ray (shared by analyze, describe and index)."""
    g = p.add_argument_group("cluster (--engine ray; needs `pip install 'j2a[ray]'`)")
    g.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this machine's process pool (default); ray: a Ray cluster, --out is a folder of shards",
    )
    g.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else start Ray on this machine)")
    g.add_argument("--actors", type=int, help="analysis actors (default: one per free CPU)")
    g.add_argument("--llm-actors", type=int, default=1, help="LLM actors for describe (default: %(default)s)")
    g.add_argument("--gpus-per-actor", type=float, default=0.0, help="GPUs per LLM actor (default: 0 = CPU)")
    g.add_argument("--batch-size", type=int, default=4, help="inputs per task and per shard (default: %(default)s)")


def parquet_needs_ray(job: str, args: argparse.Namespace) -> bool:
    """True (after saying so in one line) when the local engine is asked for parquet, --engine ray's shard format."""
    if args.format != "parquet":
        return False
    print(f"{job}: --format parquet writes the shards of --engine ray; use jsonl, json or csv", file=sys.stderr)
    return True


def config_from_args(cls, args: argparse.Namespace):
    """A job's config dataclass from parsed arguments: the fields the command line set (None = not given,
    so the dataclass default holds)."""
    fields = cls.__dataclass_fields__
    return cls(**{k: v for k, v in vars(args).items() if k in fields and v is not None})


def sub(subparsers, name: str, help: str, example: str, description: str = "") -> argparse.ArgumentParser:
    """Create a sub-command parser whose --help ends with a worked example."""
    epilog = "example:\n" + textwrap.indent(example.strip(), "  ")
    return subparsers.add_parser(name, help=help, description=description or help, epilog=epilog, formatter_class=_Fmt)


# ---------------------------------------------------------------------------------------- analyze
def _analyze_one(path: str) -> dict:
    from .analysis import analyze

    return analyze(path).to_dict()


def flatten_analysis(d: dict) -> dict:
    tags = d.get("tags") or {}

    def top(group):
        return ";".join(t["label"] for t in (tags.get(group) or [])[:3])

    return {
        "file": d["file"],
        "duration_s": d["duration_s"],
        "is_music": d["is_music"],
        "music_reason": (d.get("music") or {}).get("reason"),
        "bpm": (d.get("tempo") or {}).get("bpm"),
        "tempo_confidence": (d.get("tempo") or {}).get("confidence"),
        "meter": (d.get("meter") or {}).get("label"),
        "key": (d.get("key") or {}).get("label"),
        "key_confidence": (d.get("key") or {}).get("confidence"),
        "n_beats": len(d.get("beats") or []),
        "n_downbeats": len(d.get("downbeats") or []),
        "chords": " ".join(c["label"] for c in d.get("chords") or []),
        "genre": top("genre"),
        "instrument": top("instrument"),
        "mood": top("mood"),
        "vocals": top("vocals"),
        "sound": top("sound"),
        "integrated_lufs": (d.get("loudness") or {}).get("integrated_lufs"),
        "n_notes": (d.get("notes") or {}).get("count"),
        "version": d.get("version"),
    }


def text_analysis(d: dict) -> str:
    """An analysis for people (--format text): the facts a musician says first, then each listed tag and its score."""
    from .analysis import as_analysis
    from .text.aspects import chord_progression
    from .text.evidence import key_runners_up, stated_bpm, stated_chords, stated_meter

    head = f"{Path(d['file']).name} · {d.get('duration_s') or 0:.1f} s"
    if not d.get("is_music", True):
        return f"{head} · not music ({(d.get('music') or {}).get('reason', '?')})\n"
    a = as_analysis(d)
    bpm = (d.get("tempo") or {}).get("bpm")
    tempo = bpm and f"{bpm:.0f} BPM" + (" (a guess: too few notes)" if stated_bpm(a) is None else "")
    m = d.get("meter") or {}
    meter = m.get("label")
    if meter and stated_meter(a) is None:  # a guess: descriptions do not state it
        meter += f" (a guess, {m.get('confidence') or 0.0:.2f})"
    key = (d.get("key") or {}).get("label")
    alts = " or ".join(f"{c['label']} {c['score']:.2f}" for c in key_runners_up(a))  # as `ask` and the page say
    lufs = (d.get("loudness") or {}).get("integrated_lufs")
    facts = [
        tempo and f"tempo {tempo}",
        meter and f"meter {meter}",
        key and f"key {key}" + (f" (could also be {alts})" if alts else ""),
        lufs and f"{lufs:.1f} LUFS",
    ]
    lines = [head, "  " + " · ".join(f for f in facts if f)]
    prog = chord_progression(d.get("chords") or [], key=key)
    if prog:
        lines.append(f"  chords {prog}" + ("" if stated_chords(a) else " (implied: one note at a time)"))
    tags = d.get("tags") or {}
    heard = []
    for g in ("genre", "instrument", "vocals", "mood"):
        items = ", ".join(f"{t['label']} {t['score']:.2f}" for t in tags.get(g) or [])
        heard.append(f"{g} {items or 'none listed'}")
    lines.append("  " + " · ".join(heard))
    return "\n".join(lines) + "\n"


def cmd_analyze(args) -> int:
    if args.engine == "ray":
        from .cluster import cmd_run

        return cmd_run("analyze", args)
    if parquet_needs_ray("analyze", args):
        return 2
    from .batch import run_batch

    res = run_batch(
        args.inputs,
        _analyze_one,
        out=args.out,
        fmt=args.format,
        resume=args.resume,
        workers=args.workers,
        desc="analyze",
        flatten=flatten_analysis,
        render=text_analysis,
    )
    if args.out:
        print(
            f"analyze: {len(res.done)} done ({res.skipped} already there), {len(res.failed)} failed -> {args.out}",
            file=sys.stderr,
        )
    return res.exit_code


# ------------------------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    """Generate a clip with known truth, analyse it, print what J2A found next to the truth, then describe it
    and answer a question about it: audio becoming words, for a newcomer's first command."""
    import json
    from pathlib import Path

    from .analysis import analyze
    from .data.synth import SynthSpec, render_to_file

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = SynthSpec()
    wav = render_to_file(spec, out / "example_120bpm_C-F-G-C.wav")
    print(
        f"demo: generated {wav} (truth: {spec.bpm:g} BPM, {spec.beats_per_bar}/4, key {spec.key}, chords {' '.join(spec.chords)})"
    )
    a = analyze(str(wav))
    (out / "analysis.json").write_text(a.to_json(indent=2))
    d = flatten_analysis(a.to_dict())
    for k in ("bpm", "meter", "key", "chords", "genre", "instrument", "integrated_lufs"):
        print(f"  {k:16s} {d[k]}")
    print(f"demo: full analysis in {out / 'analysis.json'}")
    if args.no_describe:
        return 0
    from .text.ask import ask
    from .text.describe import describe

    r = describe(a, llm=args.llm)  # the analysis above: no second pass over the audio
    (out / "description.json").write_text(json.dumps(r.to_dict(), indent=2))
    print(f"\ndemo: description ({r.model}; every claim checked against the analysis):\n  {r.caption}")
    q = "What key is it in and how fast is it?"
    print(f'\ndemo: j2a ask ... "{q}"\n  {ask(a, q, llm="none").answer}')
    print(
        f"\nnext: .venv/bin/j2a describe YOUR_SONG.mp3 --sections\n"
        f'      .venv/bin/j2a ask {out / "analysis.json"} "When does the piano come in?"\n'
        f"      .venv/bin/j2a analyze ~/Music --out library.jsonl --workers 2"
    )
    return 0


def add_command_modules(subparsers, modules: list[str]) -> None:
    """Let each module in `modules` add its sub-commands (via its add_cli). Importing them needs only the
    core install (each imports its heavy packages when its command runs); a missing one raises."""
    for mod in modules:
        m = importlib.import_module(mod)
        if not hasattr(m, "add_cli"):
            raise AttributeError(f"{mod} is listed as a j2a command module but defines no add_cli(subparsers)")
        m.add_cli(subparsers)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="j2a",
        description="J2A — open music description: audio in, truthful words out.",
        epilog="example:\n  j2a analyze song.mp3\n  j2a analyze ~/Music --out library.jsonl --resume\n\nRun `j2a COMMAND --help` for each command.",
        formatter_class=_Fmt,
    )
    ap.add_argument("--version", action="version", version=f"j2a {__version__}")
    sp = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub(
        sp,
        "analyze",
        "tempo, beats, meter, key, chords, tags, notes, loudness of audio files",
        "j2a analyze song.mp3\n"
        "j2a analyze ~/Music --out library.jsonl --workers 2 --resume\n"
        "j2a analyze a.wav b.flac --format csv --out table.csv\n"
        "j2a analyze s3://bucket/music --engine ray --address auto --out runs/analyses/  # a folder of shards",
    )
    add_batch_args(p)
    add_engine_args(p)
    p.set_defaults(func=cmd_analyze)

    p = sub(
        sp,
        "demo",
        "generate an example clip with known truth, analyse it, describe it and answer a question",
        "j2a demo --out demo-output\nj2a demo --llm none      # the template description, no language model",
    )
    p.add_argument("--out", default="demo-output", help="folder for the example, its analysis and description")
    p.add_argument("--llm", default="local", metavar="SPEC", help="the describing LLM: local (J2A-LLM, default) | none")
    p.add_argument("--no-describe", action="store_true", help="analyse only")
    p.set_defaults(func=cmd_demo)

    add_command_modules(sp, COMMAND_MODULES)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if getattr(args, "default_format", None) and args.format is None:  # a person at a terminal reads, a pipe parses
        to_terminal = not args.out and sys.stdout.isatty() and getattr(args, "engine", "local") == "local"
        args.format = "text" if to_terminal else args.default_format
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("j2a: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as e:  # an optional part not installed: say which, in one line
        from .extras import install_hint

        hint = install_hint(e, args.command)
        if hint is None:
            raise
        print(hint, file=sys.stderr)
        return 3
    except Exception as e:  # one clear line, not a traceback, for expected user errors
        from .audio import AudioError

        if isinstance(e, (AudioError, FileNotFoundError, ValueError)):
            print(f"j2a: error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
