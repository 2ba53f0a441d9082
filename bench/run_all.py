"""Run every benchmark in bench/ and rewrite bench/RESULTS.md from what they print (`make bench`).

Why: a claim is only as good as the command that reproduces it. Each bench script prints its
results as markdown on stdout (progress goes to stderr); this runner collects them, one section per
script, each headed by the exact command, the date and the machine, so RESULTS.md is always the
output of one known run.

Conventions for a bench script (bench/*.py, except this file and names starting with "_"):
* it runs with no arguments; a module-level `RUN_ALL_ARGS = ["--flag", "value"]` gives the
  arguments `make bench` should use instead (read without importing the script);
* stdout is the section: if it has a line starting with "## ", the section starts there; otherwise
  the script's docstring title becomes the heading.

    python bench/run_all.py                   # everything; rewrites bench/RESULTS.md
    python bench/run_all.py --only mir_peers  # re-run some; their sections are replaced, the rest kept
    python bench/run_all.py --list
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import REPO, RESULTS  # noqa: E402

BENCH = REPO / "bench"
HEADER = (
    "# Benchmark results\n\nWritten by `make bench` (`python bench/run_all.py`): one section per script in bench/, "
    "each with the command that produced it. Do not edit by hand; re-run instead.\n"
)


def scripts() -> list[Path]:
    return sorted(p for p in BENCH.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))


def script_meta(path: Path) -> tuple[list[str], str]:
    """(RUN_ALL_ARGS, docstring title) read from the script's source, without running it."""
    tree = ast.parse(path.read_text())
    args: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "RUN_ALL_ARGS" for t in node.targets):
            args = [str(a) for a in ast.literal_eval(node.value)]
    doc = (ast.get_docstring(tree) or path.stem).strip().splitlines()[0].rstrip(".")
    return args, doc


def run_script(path: Path, timeout: float) -> tuple[int, str, str, float]:
    """Run one script: (exit code, stdout, last stderr lines, seconds). stderr is shown live."""
    args, _ = script_meta(path)
    cmd = [sys.executable, str(path.relative_to(REPO)), *args]
    t = time.perf_counter()
    p = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    tail: list[str] = []
    chunks: list[str] = []

    def pump_err():
        for line in p.stderr:
            sys.stderr.write(f"[{path.stem}] {line}")
            tail.append(line)
            del tail[:-30]

    readers = [
        threading.Thread(target=pump_err, daemon=True),
        threading.Thread(target=lambda: chunks.append(p.stdout.read()), daemon=True),
    ]
    for th in readers:
        th.start()
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        tail.append(f"(killed after {timeout:g} s)\n")
        rc = 124
    for th in readers:
        th.join(10)
    return rc, "".join(chunks), "".join(tail), time.perf_counter() - t


def command_line(path: Path) -> str:
    args, _ = script_meta(path)
    return " ".join(["python", str(path.relative_to(REPO)), *args])


def section(path: Path, rc: int, out: str, err_tail: str, secs: float) -> str:
    """One RESULTS.md section, fenced by markers so a later --only run can replace it."""
    _, title = script_meta(path)
    lines = out.rstrip("\n").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## ")), None)
    heading, body = (lines[start], lines[start + 1 :]) if start is not None else (f"## {title}", lines)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    meta = f"Command: `{command_line(path)}` ({stamp}, {os.cpu_count()} CPU cores, {secs:.0f} s)"
    if rc != 0:
        body = body + [
            "",
            f"**FAILED** (exit code {rc}); last lines of its stderr:",
            "",
            "```",
            err_tail.rstrip(),
            "```",
        ]
    text = "\n".join([heading, "", meta, "", *body]).rstrip() + "\n"
    text = re.sub(r"\n{3,}", "\n\n", text)
    return f"<!-- run_all: {path.stem} -->\n{text}<!-- /run_all: {path.stem} -->\n"


def replace_sections(old: str, new: dict[str, str]) -> str:
    """Swap in the new sections for the scripts that ran; append those not there yet."""
    for stem, sec in new.items():
        pat = re.compile(rf"<!-- run_all: {re.escape(stem)} -->\n.*?<!-- /run_all: {re.escape(stem)} -->\n", re.S)
        old = pat.sub(lambda _, sec=sec: sec, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + sec
    return old


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="example:\n  python bench/run_all.py --only mir_peers,caption_metrics",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--only", help="comma-separated script names (without .py): run these, keep the other sections")
    ap.add_argument("--skip", default="", help="comma-separated script names to leave out")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per script (default: %(default)s)")
    ap.add_argument("--list", action="store_true", help="list the scripts and their commands, run nothing")
    ap.add_argument("--out", default=str(RESULTS), help="results file (default: bench/RESULTS.md)")
    a = ap.parse_args(argv)

    todo = scripts()
    names = {p.stem for p in todo}
    for opt in (a.only, a.skip):
        unknown = set(filter(None, (opt or "").split(","))) - names
        if unknown:
            print(
                f"run_all: unknown bench script(s): {', '.join(sorted(unknown))} (have: {', '.join(sorted(names))})",
                file=sys.stderr,
            )
            return 2
    if a.only:
        todo = [p for p in todo if p.stem in a.only.split(",")]
    todo = [p for p in todo if p.stem not in a.skip.split(",")]
    if a.list:
        for p in todo:
            print(f"{p.stem:20s} {command_line(p)}")
        return 0

    sections, failed = {}, []
    for p in todo:
        print(f"run_all: {command_line(p)}", file=sys.stderr)
        rc, out, err, secs = run_script(p, a.timeout)
        sections[p.stem] = section(p, rc, out, err, secs)
        if rc != 0:
            failed.append(p.stem)
        print(f"run_all: {p.stem} {'ok' if rc == 0 else f'FAILED ({rc})'} in {secs:.0f} s", file=sys.stderr)
    out = Path(a.out)
    partial = bool(a.only or a.skip)
    if partial and out.is_file():
        text = replace_sections(out.read_text(), sections)
    else:
        text = HEADER + "".join("\n" + s for s in sections.values())
    out.write_text(text)
    print(
        f"run_all: wrote {out} ({len(sections)} sections{', failed: ' + ', '.join(failed) if failed else ''})",
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
