"""Every command (and sub-command) has --help with a worked example, and every command module loads."""

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


def test_every_command_module_imports():
    from j2a.data import cli as data_cli

    for mod in cli.COMMAND_MODULES + data_cli.COMMAND_MODULES:
        assert hasattr(importlib.import_module(mod), "add_cli"), mod


def test_a_missing_command_module_fails_loudly():
    sp = argparse.ArgumentParser().add_subparsers()
    with pytest.raises(ModuleNotFoundError, match="j2a.no_such_module"):
        cli.add_command_modules(sp, ["j2a.no_such_module"])
    with pytest.raises(AttributeError, match="no add_cli"):
        cli.add_command_modules(sp, ["j2a.theory"])


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
