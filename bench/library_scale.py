"""How far one SQLite library file goes: size per track and search latency at 10k / 100k tracks (and the exact
vector search alone at 1M).

Why synthetic rows: indexing 100k real tracks takes days on 2 cores; search cost depends only on the row count,
the vector sizes and the size of the stored analysis, which are real here: each row carries a real analysis of
a shared clip (compressed as `j2a index` stores it), the real embedding sizes (MiniLM 384; the audio
embedding's length) and random but plausible facts. Queries go through `Library.search` as the CLI's do
(MiniLM encodes the query each time).

    python bench/library_scale.py                  # 10k and 100k, and 1M vectors (about 10 min, 2 GB disk)
    python bench/library_scale.py --sizes 10000    # quick
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from _common import AUDIO as SHARED  # this checkout first on sys.path

QUERIES = [
    "calm piano pieces in D minor around 70 bpm",
    "instrumental jazz",
    "fast techno 8A",
    "a waltz with strings",
    "rock with female vocals 120-130 bpm",
]


def build(path: Path, n: int, analysis_json: str, audio_dim: int, seed: int = 0) -> None:
    from j2a import library as lib
    from j2a.theory import NAMES

    rng = np.random.default_rng(seed)
    keys = [f"{t} {m}" for t in NAMES for m in ("major", "minor")]
    labels = {
        "genre": ["rock", "jazz", "techno", "classical", "pop", "hip hop"],
        "instrument": ["piano", "guitar", "strings", "drums", "saxophone", "synth"],
        "vocals": ["female vocals", "male vocals", "instrumental (no vocals)"],
    }
    blob = zlib.compress(analysis_json.encode(), 6)
    con = lib.connect(path)
    con.execute("BEGIN")
    for i in range(n):
        key = keys[i % len(keys)]
        t = rng.standard_normal(384).astype(np.float32)
        a = rng.standard_normal(audio_dim).astype(np.float32)
        cur = con.execute(
            "INSERT INTO tracks(path, size, mtime, hash, duration_s, is_music, bpm, key, camelot, meter, analysis,"
            " description, text_emb, audio_emb, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                f"/music/{i:07d}.flac",
                30_000_000,
                0.0,
                f"{i:032x}",
                210.0,
                1,
                float(rng.uniform(60, 180)),
                key,
                lib.camelot(key),
                "3/4" if i % 7 == 0 else "4/4",
                blob,
                "A description of about forty words, as J2A writes them, naming the genre, the instruments, "
                "the tempo, the key and the chords of the track, and nothing it did not measure.",
                (t / np.linalg.norm(t)).tobytes(),
                (a / np.linalg.norm(a)).tobytes(),
                0.0,
            ),
        )
        tid = cur.lastrowid
        con.executemany(
            "INSERT INTO tags(track_id, grp, label, score) VALUES (?,?,?,?)",
            [(tid, g, random.Random(i * 7 + k).choice(v), 0.5) for k, (g, v) in enumerate(labels.items())],
        )
    con.execute("COMMIT")
    con.close()


def timed(fn, runs: int = 5) -> float:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="library sizes to build and search")
    ap.add_argument("--vectors", type=int, default=1_000_000, help="exact vector search alone at this size (0: skip)")
    ap.add_argument("--work", default=tempfile.gettempdir())
    args = ap.parse_args()
    from j2a import library as lib
    from j2a.analysis import analyze

    a = analyze(str(SHARED / "hainsworth_001.flac"))
    audio_dim = len(lib.audio_embedding(a))
    lib.text_embeddings(["warm up"])
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        db = Path(args.work) / f"j2a-scale-{n}.db"
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build(db, n, a.to_json(), audio_dim)
        built = time.perf_counter() - t0
        with lib.Library(db) as L:
            first = timed(lambda: L.search(QUERIES[0]), runs=1)  # reads every vector once
            per = {q: timed(lambda q=q: L.search(q)) for q in QUERIES}
            sim = timed(lambda: L.similar(1))
        size = db.stat().st_size + sum(p.stat().st_size for p in (Path(f"{db}-wal"),) if p.exists())
        rows.append((n, size / n / 1024, built, first, statistics.median(per.values()), max(per.values()), sim))
        db.unlink()
    print(
        "| tracks | KiB per track | build s | first search s (loads vectors) | search s (median of queries, each median of 5) "
        "| slowest query s | similar s |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, kib, built, first, med, worst, sim in rows:
        print(f"| {n:,} | {kib:.1f} | {built:.0f} | {first:.2f} | {med:.3f} | {worst:.3f} | {sim:.3f} |")
    if args.vectors:
        rng = np.random.default_rng(1)
        mat = rng.standard_normal((args.vectors, 384), dtype=np.float32)
        mat /= np.linalg.norm(mat, axis=1, keepdims=True)
        q = mat[123]
        t = timed(lambda: np.argpartition(-(mat @ q), 10)[:10])
        print(
            f"\nExact top-10 over {args.vectors:,} MiniLM vectors in memory (numpy, {os.cpu_count()} cores): {t * 1000:.0f} ms "
            f"(median of 5); the matrix takes {mat.nbytes / 2**30:.2f} GiB."
        )


if __name__ == "__main__":
    main()
