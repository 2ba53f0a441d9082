"""Every command (and sub-command) has --help with a worked example, and every plugin module loads."""
from __future__ import annotations

import argparse
import importlib

import pytest

from j2a import cli


def _walk(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, p in action.choices.items():
                yield from _walk(p, path + (name,))


def test_every_plugin_module_imports():
    for mod in cli._PLUGINS:
        importlib.import_module(mod)


def test_every_command_has_help_with_example(capsys):
    parser = cli.build_parser()
    commands = [p for p in _walk(parser) if p[0]]
    names = {" ".join(p) for p, _ in commands}
    assert {"analyze", "demo"} <= names
    for path, sub in commands:
        text = sub.format_help()
        assert "example" in text.lower(), f"`j2a {' '.join(path)} --help` has no example"


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "analyze" in capsys.readouterr().out


def test_version():
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
