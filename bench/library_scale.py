"""How far one SQLite library file goes: size per track and search latency at 10k / 100k tracks (and the exact
vector search alone at 1M).

Why synthetic rows: indexing 100k real tracks takes days on 2 cores; search cost depends only on the row count,
the vector sizes and the size of the stored analysis, which are real here: each row carries a real analysis of
a shared clip (compressed as `j2a index` stores it), the real embedding sizes (MiniLM 384; the audio
embedding's length) and random but plausible facts. Queries go through `Library.search` as the CLI's do
(MiniLM encodes the query each time).

    python bench/library_scale.py                  # 10k and 100k, and 1M vectors (about 10 min, 2 GB disk)
    python bench/library_scale.py --sizes 10000    # quick
    python bench/library_scale.py --sizes 0 --vectors 0 --ann 1000000   # the approximate index at 1M

The approximate index (j2a.ann, faiss IVF-Flat) is measured on a database of 1M tracks holding only vectors:
random vectors have no neighbourhoods, so each is a mix of two real MiniLM embeddings of MusicCaps captions
plus noise (clustered as a real library's descriptions are), and the queries are MiniLM embeddings of dev
captions. Recall@10 is against exact search over the same rows.
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


def clustered_vectors(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n library vectors, 100 query vectors): mixes of real caption embeddings, see the module docstring."""
    from _common import CAPTIONS

    from j2a.library import text_embeddings
    from j2a.training.llm_data import read_captions_csv

    train = [r["caption"] for r in read_captions_csv(CAPTIONS / "musiccaps-train.csv")]
    dev = [r["caption"] for r in read_captions_csv(CAPTIONS / "musiccaps-dev.csv")][:100]
    anchors, queries = text_embeddings(train), text_embeddings(dev)
    rng = np.random.default_rng(seed)
    out = np.empty((n, anchors.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        v = anchors[rng.integers(len(anchors), size=m)] + 0.5 * anchors[rng.integers(len(anchors), size=m)]
        v += 0.1 * rng.standard_normal(v.shape, dtype=np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, queries.astype(np.float32)


def ann_bench(n: int, work: Path, nprobes: str) -> None:
    from j2a import library as lib
    from j2a.ann import AnnIndex

    mat, queries = clustered_vectors(n)
    db = work / f"j2a-ann-{n}.db"
    for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), *AnnIndex.paths(db, "text_emb")):
        f.unlink(missing_ok=True)
    con = lib.connect(db)
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO tracks(path, duration_s, is_music, analysis, text_emb, indexed_at) VALUES (?,?,?,?,?,?)",
        ((f"/music/{i:07d}.flac", 210.0, 1, b"{}", mat[i].tobytes(), 1.0) for i in range(n)),
    )
    con.execute("COMMIT")
    filled = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = AnnIndex.build(con, "text_emb")
    built = time.perf_counter() - t0
    index.save(db, "text_emb")
    ids = np.arange(1, n + 1)
    exact = [set(ids[np.argpartition(-(mat @ q), 10)[:10]]) for q in queries]
    t_exact = timed(lambda: np.argpartition(-(mat @ queries[0]), 10)[:10])
    print(
        f"\n### Approximate index at {n:,} tracks\n\nfaiss IVF-Flat, {index.index.nlist} clusters; database filled in "
        f"{filled:.0f} s, index built in {built:.0f} s ({os.path.getsize(AnnIndex.paths(db, 'text_emb')[0]) / 2**30:.2f} "
        f"GiB file); exact top-10 (numpy, vectors in memory): {t_exact * 1000:.0f} ms (median of 5).\n"
    )
    print("| nprobe | ANN top-10 ms (median of 100 queries) | recall@10 vs exact | Library.search ms (incl. MiniLM) |")
    print("|---|---|---|---|")
    for nprobe in (int(x) for x in nprobes.split(",")):
        index.index.nprobe = nprobe
        lat, rec = [], []
        for q, want in zip(queries, exact):
            t0 = time.perf_counter()
            got = index.search(q, 10)[0]
            lat.append(time.perf_counter() - t0)
            rec.append(len(want & set(got)) / 10)
        with lib.Library(db, ann=True) as L:
            L._anns["text_emb"] = index
            lib_ms = timed(lambda L=L: L.search("calm piano music with strings"), runs=5) * 1000
        print(f"| {nprobe} | {statistics.median(lat) * 1000:.1f} | {np.mean(rec):.3f} | {lib_ms:.0f} |")
    con.close()
    for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), *AnnIndex.paths(db, "text_emb")):
        f.unlink(missing_ok=True)


def print_rows(rows) -> None:
    print(
        "| tracks | KiB per track | build s | first search s (loads vectors) | search s (median of queries, each median of 5) "
        "| slowest query s | similar s |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, kib, built, first, med, worst, sim in rows:
        print(f"| {n:,} | {kib:.1f} | {built:.0f} | {first:.2f} | {med:.3f} | {worst:.3f} | {sim:.3f} |")


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
    ap.add_argument("--ann", type=int, default=0, help="measure the approximate index at this many tracks (0: skip)")
    ap.add_argument("--nprobe", default="16,32,48,96", help="IVF clusters searched per query, one row each")
    args = ap.parse_args()
    from j2a import library as lib
    from j2a.analysis import analyze

    a = analyze(str(SHARED / "hainsworth_001.flac"))
    audio_dim = len(lib.audio_embedding(a))
    lib.text_embeddings(["warm up"])
    rows = []
    for n in (int(x) for x in args.sizes.split(",") if int(x)):
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
    if rows:
        print_rows(rows)
    if args.ann:
        ann_bench(args.ann, Path(args.work), args.nprobe)
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
