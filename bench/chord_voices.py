"""Chords need two notes at once: how many notes J2A hears at once in single lines and in full textures.

Why: the chord model names a chord for any pitched sound, so a description stated "the chords move through ..."
for a solo singer and "the harmony holds on C" for one flute note. A description now states chords only where
the notes sound together (`EvidenceConfig.chords_min_voices` on `Notes.voices`); this is the measurement that
number rests on, against truth J2A did not make: the part count of a rendered score, and the manifests' labels.

    python bench/chord_voices.py                          # rendered chorales: each part alone and all parts
    python bench/chord_voices.py --shared ../shared       # and the shared clips labelled as single lines / chordal

Rendered: `--n` Bach chorales (seeded), one instrument family each (the render's families in turn), rendered
whole and as the soprano, alto and bass parts alone (`j2a.data.render.Piece.parts`) with FluidR3Mono, then
analysed. `polyphony` counts every transcribed note sounding; `voices` leaves out a note at an overtone interval
above another sounding one (a reed's or an organ's overtones transcribe as notes of their own).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

from _common import REPO  # noqa: E402  (this checkout first on sys.path)

FONT = "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3"
FAMILIES = ["woodwinds", "brass", "strings", "choir", "organ", "piano", "string_pad"]


def rendered(n: int, seed: int, work: Path) -> list[tuple[str, str, float, float]]:
    """(group, name, polyphony, voices) per render: group "all parts" or "one part"."""
    import j2a
    from j2a.data import render as R

    rng = random.Random(seed)
    out = []
    for k, src in enumerate(rng.sample(R.candidate_scores("bach"), n)):
        fam = FAMILIES[k % len(FAMILIES)]
        bpm = rng.randrange(60, 130)
        for parts in (None, (0,), (1,), (3,)):
            row = R.render_piece(R.Piece(src, bpm, fam, FONT, 0, parts=parts), work)
            notes = j2a.analyze(row["audio"]).notes
            group = "all parts" if parts is None else "one part"
            name = f"{Path(src).stem} {fam} {'all' if parts is None else parts[0]}"
            out.append((group, name, notes.polyphony, notes.voices))
            print(f"  {name:32} polyphony {notes.polyphony:5.2f}  voices {notes.voices:5.2f}", file=sys.stderr)
    return out


def shared(root: Path) -> list[tuple[str, str, float, float]]:
    """(group, file, polyphony, voices) for the shared clips the manifests call a single line or chordal
    (`j2a.eval.truth.textures`)."""
    import j2a
    from j2a.eval.truth import music_truth, textures

    paths = {Path(t.path).name: t.path for t in music_truth(root)}
    out = []
    for file, kind in textures(root).items():
        n = j2a.analyze(paths[file]).notes
        out.append((f"labelled {kind}", file, n.polyphony, n.voices))
    return out


def table(rows, threshold: float) -> str:
    lines = [
        "| group | n | polyphony median (range) | voices median (range) | chords stated (voices >= "
        f"{threshold}) | by polyphony >= {threshold} |",
        "|---|---|---|---|---|---|",
    ]
    for group in dict.fromkeys(g for g, *_ in rows):
        sel = [r for r in rows if r[0] == group]
        p, v = [r[2] for r in sel], [r[3] for r in sel]
        lines.append(
            f"| {group} | {len(sel)} | {statistics.median(p):.2f} ({min(p):.2f}-{max(p):.2f}) | "
            f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f}) | {sum(x >= threshold for x in v)} | "
            f"{sum(x >= threshold for x in p)} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    from j2a.text.evidence import CFG

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="chorales to render (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shared", metavar="DIR", help="also the shared clips (../shared)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = rendered(a.n, a.seed, Path(tmp))
    if a.shared:
        rows += shared(Path(a.shared))
    misses = [
        f"{name} ({v:.2f})"
        for g, name, _, v in rows
        if (v >= CFG.chords_min_voices) != (g in ("all parts", "labelled chordal"))
    ]
    print(table(rows, CFG.chords_min_voices))
    print(f"\nOn the wrong side of {CFG.chords_min_voices} voices: {', '.join(misses) or 'none'}")
    print(f"(repo {REPO})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
