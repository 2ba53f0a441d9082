"""How often J2A's meter is right at each confidence, on rendered scores whose notated meter is known.

Why: a description states the meter only at `EvidenceConfig.meter_min_confidence` or above; this is the
measurement that number rests on. A guess that is right no more often than "always 4/4" is not something
J2A heard, so a description should not say it (search still ranks by it, and `ask` gives it as a guess).

Input: a library indexed from a `j2a data render` set and that set's manifest (the truth):

    python bench/meter_confidence.py --db runs/search/set-v4.db --manifest runs/search/set/manifest.jsonl
    python bench/meter_confidence.py      # renders and indexes its own set first (--work, --n; cached there)

Without --db it runs `j2a data render --out WORK/set --n N --renditions 2 --corpus all --seed 7` and
`j2a index WORK/set --db WORK/set.db --no-describe` (about 30 min on 2 cores for the default 200 pieces).

The first table counts only pieces notated in 3/4 or 4/4, the meters the bar model itself tells apart (3 or 4
beats to the bar). The second crosses every notated meter with the meter J2A gives, stated ones (at the
confidence a description needs) in brackets: 2/4, 2/2 and 4/2 are not answers J2A can give (its bars have 3 or 4
beats); 6/8 and 9/8 come from the notes' grouping of a three-beat bar (`rhythm.compound_meter`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import REPO  # noqa: E402  (this checkout first on sys.path)

BANDS = ((0.0, 0.7), (0.7, 0.9), (0.9, 1.01))


def rows(db: str, manifest: str) -> list[tuple[float, str, str]]:
    """(confidence, J2A's meter or "none", notated meter) per indexed piece of the manifest."""
    from j2a.library import Library

    truth = {}
    for line in Path(manifest).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            truth[Path(r["audio"]).name] = r["truth"]["meter"]
    out = []
    with Library(db) as lib:
        for t in lib.tracks(range(1, len(lib) + 1)):
            m, notated = t.analysis.meter, truth.get(Path(t.path).name)
            if notated:
                out.append((m.confidence, m.label, notated) if m is not None and m.label else (0.0, "none", notated))
    return out


def table(data: list[tuple[float, str, str]]) -> str:
    data = [r for r in data if r[2] in ("3/4", "4/4") and r[1] != "none"]
    lines = [
        "| meter confidence | pieces | right | said 3/4 (right) | said 4/4 (right) | notated 4/4 share |",
        "|---|---|---|---|---|---|",
    ]
    for lo, hi in BANDS:
        g = [r for r in data if lo <= r[0] < hi]
        if not g:
            continue
        said = {m: [r for r in g if r[1] == m] for m in ("3/4", "4/4")}
        cells = [f"{len(s)} ({sum(r[1] == r[2] for r in s)})" for s in said.values()]
        right = sum(r[1] == r[2] for r in g)
        share = sum(r[2] == "4/4" for r in g) / len(g)
        band = f"{lo:.1f}-{min(hi, 1.0):.1f}" + (")" if hi < 1 else "]")
        lines.append(f"| [{band} | {len(g)} | {right} ({right / len(g):.2f}) | {cells[0]} | {cells[1]} | {share:.2f} |")
    return "\n".join(lines)


def crossed(data: list[tuple[float, str, str]]) -> str:
    """Notated meter (rows) by J2A's meter (columns): pieces (of them stated)."""
    from j2a.text.evidence import CFG

    heard = [m for m in ("3/4", "4/4", "6/8", "9/8") if any(r[1] == m for r in data)] + ["none"]
    lines = ["| notated \\ J2A | " + " | ".join(heard) + " |", "|---" * (len(heard) + 1) + "|"]
    for notated in sorted({r[2] for r in data}, key=lambda m: (int(m.split("/")[1]), int(m.split("/")[0]))):
        cells = []
        for m in heard:
            g = [r for r in data if r[2] == notated and r[1] == m]
            stated = sum(r[0] >= CFG.meter_min_confidence for r in g) if m != "none" else 0
            cells.append(f"{len(g)} ({stated})" if g else "")
        lines.append(f"| {notated} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="library indexed from a rendered set (j2a index); default: render and index one")
    ap.add_argument("--manifest", help="the rendered set's manifest.jsonl (j2a data render); needed with --db")
    ap.add_argument("--work", default=str(REPO / "runs" / "meter_confidence"), help="where a set is made and kept")
    ap.add_argument("--n", type=int, default=200, help="pieces to render when no --db is given")
    a = ap.parse_args()
    if a.db and not a.manifest:
        ap.error("--db needs --manifest (the truth of the pieces in it)")
    db, manifest = a.db, a.manifest
    if db is None:
        db, manifest = make_set(Path(a.work), a.n)
    data = rows(db, manifest)
    print(table(data))
    print()
    print(crossed(data))


def make_set(work: Path, n: int) -> tuple[str, str]:
    """Render and index a set in `work` unless it is there already: (database, manifest)."""
    j2a = [sys.executable, "-m", "j2a.cli"]
    s, db = work / "set", work / "set.db"
    if not (s / "manifest.jsonl").exists():
        render = ["data", "render", "--out", str(s), "--n", str(n), "--renditions", "2", "--corpus", "all"]
        subprocess.run([*j2a, *render, "--seed", "7"], check=True)
    subprocess.run([*j2a, "index", str(s), "--db", str(db), "--no-describe"], check=True)  # incremental
    return str(db), str(s / "manifest.jsonl")


if __name__ == "__main__":
    main()
