"""The approximate index beside a library file: the same answers as exact search where it searches every
cluster, and in step with the database after adds, re-indexes (a reused id) and deletes."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("faiss", reason="faiss-cpu comes with j2a[ann] (in the set-up's [all])")

from j2a import library as lib  # noqa: E402
from j2a.ann import AnnConfig, AnnIndex, generation  # noqa: E402

DIM = 16


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def _add(con, path: str, vec, when: float | None = None) -> int:
    cur = con.execute(
        "INSERT INTO tracks(path, duration_s, is_music, analysis, text_emb, indexed_at) VALUES (?,?,?,?,?,?)",
        (path, 10.0, 1, b"{}", _unit(vec).tobytes(), when if when is not None else time.time()),
    )
    return cur.lastrowid


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "lib.db"
    con = lib.connect(path)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((8, DIM))
    for i in range(400):  # clustered, as real embeddings are
        _add(con, f"/m/{i}.flac", centres[i % 8] + 0.3 * rng.standard_normal(DIM), when=1000.0 + i)
    return path, con


def _exact(con, q, k):
    rows = con.execute("SELECT id, text_emb FROM tracks").fetchall()
    ids = np.array([r[0] for r in rows])
    sims = np.stack([np.frombuffer(r[1], np.float32) for r in rows]) @ q
    return list(ids[np.argsort(-sims)[:k]])


def test_every_cluster_searched_gives_the_exact_answer(db):
    path, con = db
    cfg = AnnConfig(nlist=16, nprobe=16)
    index = AnnIndex.build(con, "text_emb", cfg)
    rng = np.random.default_rng(1)
    for _ in range(10):
        q = _unit(rng.standard_normal(DIM))
        assert list(index.search(q, 10)[0]) == _exact(con, q, 10)


def test_the_index_follows_adds_reindexes_and_deletes(db):
    path, con = db
    AnnIndex.build(con, "text_emb", AnnConfig(nlist=16, nprobe=16)).save(path, "text_emb")
    gen = generation(con)
    far = np.zeros(DIM)
    far[0] = 1.0
    near = np.zeros(DIM)
    near[1] = 1.0
    con.execute("DELETE FROM tracks WHERE id = 1")
    last = con.execute("SELECT MAX(id) FROM tracks").fetchone()[0]
    con.execute("DELETE FROM tracks WHERE id = ?", (last,))  # re-indexed: deleted, inserted again with its id
    reused = _add(con, "/m/re.flac", near, when=6000.0)
    new_id = _add(con, "/m/new.flac", far, when=5000.0)  # a new track, far from the rest
    assert reused == last and new_id == last + 1 and generation(con) > gen

    index = AnnIndex.load(path, "text_emb", AnnConfig(nprobe=16))
    assert index.sync(con, "text_emb") and not index.sync(con, "text_emb")  # once stale, then in step
    assert index.search(_unit(far), 1)[0][0] == new_id
    assert index.search(_unit(near), 1)[0][0] == reused
    assert 1 not in set(index.search(_unit(far), 400)[0])
    assert index.index.ntotal == con.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]


def test_library_search_uses_the_index_and_filters(tmp_path):
    """Library(ann=True) on real rows: the same tracks as exact search, with and without a filter."""
    path = tmp_path / "lib.db"
    con = lib.connect(path)
    rng = np.random.default_rng(2)
    for i in range(300):
        _add(con, f"/m/{i}.flac", rng.standard_normal(DIM))
        con.execute("UPDATE tracks SET bpm = ?, audio_emb = text_emb WHERE id = last_insert_rowid()", (60 + i % 100,))
    con.close()
    q = _unit(rng.standard_normal(DIM))
    with lib.Library(path, ann=False) as exact, lib.Library(path, ann=True) as approx:
        approx.ann_for("text_emb").index.nprobe = 10**6  # every cluster: must equal exact
        for where, args in (("", ()), ("WHERE bpm BETWEEN ? AND ?", (60.0, 90.0))):
            want = exact.nearest("text_emb", q, 10, where, args)[0]
            got = approx.nearest("text_emb", q, 10, where, args)[0]
            assert list(got) == list(want)
    assert AnnIndex.paths(path, "text_emb")[0].exists()
