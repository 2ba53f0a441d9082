"""`j2a data ...`: dataset tools. Each data module adds its own sub-command via add_cli(subparsers)."""
from __future__ import annotations

import importlib

# modules under j2a.data that define add_cli(data_subparsers)
_DATA_PLUGINS = ["j2a.data.render", "j2a.data.manifests", "j2a.data.download", "j2a.data.pseudo"]


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("data", help="build test sets and training manifests (render, musiccaps, pseudo-caption, ...)",
                              description="Dataset tools. Run `j2a data COMMAND --help`.",
                              epilog="example:\n  j2a data render --out rendered --n 50")
    dsp = p.add_subparsers(dest="data_command", metavar="COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    for mod in _DATA_PLUGINS:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if mod == e.name or mod.startswith(f"{e.name}."):  # not written yet
                continue
            raise
        if hasattr(m, "add_cli"):
            m.add_cli(dsp)
