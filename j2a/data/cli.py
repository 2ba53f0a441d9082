"""`j2a data ...`: dataset tools. Each data module adds its own sub-command via add_cli(subparsers)."""

from __future__ import annotations

# modules under j2a.data that define add_cli(data_subparsers)
COMMAND_MODULES = ["j2a.data.render", "j2a.data.manifests", "j2a.data.download", "j2a.data.pseudo"]


def add_cli(subparsers) -> None:
    from ..cli import add_command_modules, sub

    p = sub(
        subparsers,
        "data",
        "build test sets and training manifests (render, musiccaps, pseudo-caption, ...)",
        "j2a data render --out rendered --n 50\nj2a data pseudo-caption ~/Music --out pseudo.jsonl",
        description="Dataset tools. Run `j2a data COMMAND --help`.",
    )
    dsp = p.add_subparsers(dest="data_command", metavar="COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    add_command_modules(dsp, COMMAND_MODULES)
