"""The library file: schema versions refused or migrated (j2a/library/db.py)."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest
from hand_made import J2A

from j2a import library as lib


def test_newer_or_foreign_databases_are_refused_and_older_ones_migrated(tmp_path, monkeypatch):
    newer = tmp_path / "newer.db"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version={lib.SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(lib.LibraryError, match="newer than this J2A"):
        lib.Library(newer)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE people(name TEXT)")
    r = subprocess.run(J2A + ["search", "jazz", "--db", str(foreign)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "not a J2A library" in r.stderr
    old = tmp_path / "old.db"
    lib.Library(old).close()
    monkeypatch.setattr(lib.db, "SCHEMA_VERSION", lib.db.SCHEMA_VERSION + 1)  # what connect() reads
    monkeypatch.setitem(lib.MIGRATIONS, lib.db.SCHEMA_VERSION, ["ALTER TABLE tracks ADD COLUMN rating INTEGER"])
    with lib.Library(old) as L:
        assert L.con.execute("PRAGMA user_version").fetchone()[0] == lib.db.SCHEMA_VERSION
        assert "rating" in [r[1] for r in L.con.execute("PRAGMA table_info(tracks)")]
