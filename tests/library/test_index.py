"""`j2a index`: a real SQLite file of real analyses, incremental, resumable after a real kill (j2a/library/index.py)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from hand_made import J2A

from j2a import library as lib


@pytest.mark.slow
def test_index_holds_analysis_description_and_embeddings(indexed):
    con = sqlite3.connect(indexed)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == lib.SCHEMA_VERSION
    rows = con.execute(
        "SELECT path, bpm, key, camelot, meter, description, length(text_emb), length(audio_emb) FROM tracks"
    ).fetchall()
    assert len(rows) == 6
    for path, _bpm, key, cam, _meter, desc, temb, aemb in rows:
        assert Path(path).exists() and desc and temb == 384 * 4 and aemb > 0
        assert cam == lib.camelot(key)
    byname = {Path(r[0]).name: r for r in rows}
    assert abs(byname["piece0_72bpm.wav"][1] - 72) < 3 and byname["piece0_72bpm.wav"][2] == "D minor"
    assert byname["piece2_96bpm.wav"][4] == "3/4"


@pytest.mark.slow
def test_second_run_skips_unchanged_sees_changed_moved_and_pruned(clips, tmp_path):
    d = tmp_path / "music"
    shutil.copytree(clips, d)
    db = tmp_path / "m.db"
    with lib.Library(db) as L:
        assert L.index([str(d)], describe=False).added == 6
        rep = L.index([str(d)], describe=False)
        assert (rep.added, rep.updated, rep.unchanged) == (0, 0, 6)
        os.utime(d / "piece1_128bpm.wav")  # touched, same bytes
        shutil.copy(clips / "piece3_140bpm.wav", d / "piece2_96bpm.wav")  # other content under the same name
        (d / "piece4_110bpm.wav").rename(d / "renamed.wav")
        (d / "piece5_84bpm.wav").unlink()
        rep = L.index([str(d)], describe=False, prune=True)
        assert (rep.added, rep.updated, rep.moved, rep.unchanged, rep.pruned) == (0, 1, 1, 3, 1)
        paths = [r[0] for r in L.con.execute("SELECT path FROM tracks")]
        assert len(paths) == len(set(paths)) == 5 and str((d / "renamed.wav").resolve()) in paths
        changed = L.track(str(d / "piece2_96bpm.wav")).analysis
        assert abs(changed.tempo.bpm - 140) < 4


@pytest.mark.slow
def test_bad_file_is_recorded_with_its_reason_and_skipped(clips, tmp_path):
    d = tmp_path / "music"
    d.mkdir()
    shutil.copy(clips / "piece0_72bpm.wav", d)
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    db = tmp_path / "m.db"
    r = subprocess.run(J2A + ["index", str(d), "--db", str(db), "--no-describe"], capture_output=True, text=True)
    assert r.returncode == 1 and "broken.wav" in r.stderr and "1 added" in r.stderr
    r = subprocess.run(J2A + ["index", "--errors", "--db", str(db)], capture_output=True, text=True)
    (line,) = r.stdout.strip().splitlines()
    assert line.startswith(str((d / "broken.wav").resolve()) + ": ") and len(line) > len(str(d)) + 20


@pytest.mark.slow
def test_worker_pool_gives_the_same_library(clips, indexed, tmp_path):
    """--workers 2 over several chunks (one pool for the run, the next chunk analysed while one is stored): the
    same tracks and facts as one process, and a bad file among them recorded, not fatal."""
    d = tmp_path / "music"
    shutil.copytree(clips, d)
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    with lib.Library(tmp_path / "w.db") as L:
        rep = L.index([str(d)], describe=False, workers=2, batch=2)
        got = {
            Path(r[0]).name: tuple(r[1:]) for r in L.con.execute("SELECT path, key, meter, round(bpm, 1) FROM tracks")
        }
    assert rep.added == 6 and [Path(f["file"]).name for f in rep.failed] == ["broken.wav"]
    con = sqlite3.connect(indexed)
    want = {Path(r[0]).name: tuple(r[1:]) for r in con.execute("SELECT path, key, meter, round(bpm, 1) FROM tracks")}
    assert got == want


@pytest.mark.slow
def test_a_killed_index_keeps_what_it_finished_and_a_rerun_completes(clips, tmp_path):
    """SIGKILL mid-run, then run again: every file exactly once, the database intact; a search works meanwhile."""
    db = tmp_path / "m.db"
    p = subprocess.Popen(J2A + ["index", str(clips), "--db", str(db), "--no-describe"], stderr=subprocess.PIPE)
    deadline, searched = time.time() + 300, False
    while time.time() < deadline:
        time.sleep(0.5)
        if db.exists():
            try:
                n = sqlite3.connect(db, timeout=5).execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
            except sqlite3.OperationalError:
                continue  # the schema is being created
            if n >= 1 and not searched:  # a search while the index runs (WAL: readers do not wait)
                with lib.Library(db) as reader:
                    hits, _ = reader.search("", lib.Filters(is_music=None), limit=10)
                assert len(hits) >= 1
                searched = True
            if n >= 2:
                break
    assert searched, "the index run finished no track in time"
    p.send_signal(signal.SIGKILL)
    p.wait()
    with lib.Library(db) as L:
        before = len(L)
        assert 2 <= before < 6 or before == 6
        L.index([str(clips)], describe=False)
        paths = [r[0] for r in L.con.execute("SELECT path FROM tracks")]
        assert len(paths) == len(set(paths)) == 6
        assert L.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
