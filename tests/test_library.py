"""`j2a index / search / similar / duplicates / playlist`: a real SQLite file, real analyses of generated and
shared clips, a real kill of a running index."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from j2a import library as lib
from j2a.data.synth import SynthSpec, render_to_file
from j2a.library.query import where_clause

J2A = [sys.executable, "-m", "j2a.cli"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Six short generated pieces with known tempo, key and meter."""
    d = tmp_path_factory.mktemp("clips")
    specs = [
        SynthSpec(bpm=72, key="D minor", chords=["D:min", "A:min", "Bb:maj", "A:maj"], duration_s=10, seed=1),
        SynthSpec(bpm=128, key="C major", duration_s=10, seed=2),
        SynthSpec(
            bpm=96, beats_per_bar=3, key="G major", chords=["G:maj", "C:maj", "D:maj", "G:maj"], duration_s=10, seed=3
        ),
        SynthSpec(
            bpm=140, key="A minor", chords=["A:min", "F:maj", "C:maj", "G:maj"], duration_s=10, drums=False, seed=4
        ),
        SynthSpec(bpm=110, key="E major", chords=["E:maj", "A:maj", "B:maj", "E:maj"], duration_s=10, seed=5),
        SynthSpec(bpm=84, key="F major", chords=["F:maj", "Bb:maj", "C:maj", "F:maj"], duration_s=10, seed=6),
    ]
    for n, s in enumerate(specs):
        render_to_file(s, d / f"piece{n}_{s.bpm:g}bpm.wav")
    return d


@pytest.fixture(scope="module")
def indexed(clips, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "music.db"
    with lib.Library(db) as L:
        rep = L.index([str(clips)], describe=True, llm="none")
    assert rep.added == 6 and not rep.failed
    return db


# ------------------------------------------------------------------------------------------- pure
@pytest.mark.parametrize(
    "key, code",
    [
        ("C major", "8B"),
        ("A minor", "8A"),
        ("G major", "9B"),
        ("E minor", "9A"),
        ("F major", "7B"),
        ("Bb minor", "3A"),
        ("F# minor", "11A"),
        ("B major", "1B"),
    ],
)
def test_camelot_wheel(key, code):
    assert lib.camelot(key) == code


def test_mixing_rules():
    assert lib.camelot_mixes("8A", "9A") and lib.camelot_mixes("8A", "7A") and lib.camelot_mixes("8A", "8B")
    assert lib.camelot_mixes("12B", "1B") and not lib.camelot_mixes("8A", "10A") and not lib.camelot_mixes("8A", "9B")
    assert lib.tempo_mixes(120, 126) and lib.tempo_mixes(70, 140) and not lib.tempo_mixes(120, 130)


@pytest.mark.parametrize(
    "query, expect, rest",
    [
        ("calm piano pieces in D minor around 70 BPM", "bpm 66-74, key = D minor, instrument = piano", "calm pieces"),
        ("strings in 3/4", "meter = 3/4, instrument = strings", "in"),
        ("a slow piano piece in a minor key", "bpm 0-90, mode = minor, instrument = piano", "a piece"),
        ("instrumental jazz 120-130 bpm", "bpm 120-130, vocals = no, genre = jazz", ""),
        ("a waltz with female vocals", "meter = 3/4, vocals = female", "a with"),
        ("8A techno", "camelot = 8A, genre = techno", ""),
        ("not music", "not music", ""),
    ],
)
def test_query_words_become_filters(query, expect, rest):
    f, left = lib.parse_query(query)
    assert f.describe() == expect and left == rest


def _track(bpm=None, key=None, meter=None, tags=(), duration_s=60.0):
    return lib.Track(1, "x.wav", None, bpm, key, meter, duration_s, True, dict(tags))


def test_no_voice_heard_in_a_clip_too_short_to_tell_is_not_instrumental():
    """The description's absence rule (EvidenceConfig.absence_min_s): no voice heard in 2 s (a Carnatic singer
    the taggers missed) is no evidence of an instrumental, so it is a near miss, said why, and not in the SQL."""
    f, _ = lib.parse_query("instrumental")
    assert lib.match_filters(_track(), f)[0] == 1
    m, _, missed = lib.match_filters(_track(duration_s=2.0), f)
    assert m == lib.UNKNOWN and missed == ["vocals none (too short to tell: 2 s)"]
    assert lib.match_filters(_track(tags={("vocals", "female vocals"): 0.6}), f)[0] == 0
    assert "duration_s >= 3.0" in where_clause(f)[0]


def test_near_misses_earn_part_of_a_filter_for_the_errors_measuring_makes():
    f, _ = lib.parse_query("a slow piano piece in G minor in 4/2")  # bpm 0-90, key G minor, meter 4/2, piano
    piano = {("instrument", "piano"): 0.8}
    full, met, missed = lib.match_filters(_track(70, "G minor", "4/2", piano), f)
    assert full == 1 and not missed and "70 BPM" in met
    # double time, the relative major, 4/2 heard as 4/4: each a partial credit, each named
    m, _, missed = lib.match_filters(_track(140, "Bb major", "4/4", piano), f)
    assert m == pytest.approx((0.75 + 0.5 + 0.75 + 1) / 4)
    assert [w.split()[0] for w in missed] == ["tempo", "key", "meter"]
    assert missed[0] == "tempo 140 BPM (its half, 70 BPM, is in 0-90)"
    m, _, missed = lib.match_filters(_track(140, "E major", "3/4", {("instrument", "violin"): 0.9}), f)
    assert m == pytest.approx(0.75 / 4) and "instrument no piano" in missed
    # the tag a query asks for ranks by its strength: a faint "piano" after a clear one
    assert lib.tag_strength(_track(tags=piano), f) > lib.tag_strength(_track(tags={("instrument", "piano"): 0.2}), f)


# ------------------------------------------------------------------------------------------ index
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


# ----------------------------------------------------------------------------------------- search
@pytest.mark.slow
def test_search_filters_by_measured_facts_and_says_why(indexed):
    with lib.Library(indexed) as L:
        hits, f = L.search("a piece in D minor around 72 bpm", strict=True)
        assert [Path(t.path).name for t in hits] == ["piece0_72bpm.wav"]
        assert any("D minor" in w for w in hits[0].why) and any("BPM" in w for w in hits[0].why)
        hits, _ = L.search("a waltz", strict=True)
        assert [Path(t.path).name for t in hits] == ["piece2_96bpm.wav"]
        hits, _ = L.search("music", lib.Filters(bpm=(120, 145)), strict=True)
        assert {Path(t.path).name for t in hits} == {"piece1_128bpm.wav", "piece3_140bpm.wav"}
        # without strict, near misses follow the full match, each saying what it misses
        hits, _ = L.search("a piece in D minor around 72 bpm")
        assert Path(hits[0].path).name == "piece0_72bpm.wav" and hits[0].match == 1
        assert len(hits) > 1 and all(t.match < 1 and any(w.startswith("near miss: ") for w in t.why) for t in hits[1:])
        assert [t.match for t in hits[1:]] == sorted((t.match for t in hits[1:]), reverse=True)


@pytest.mark.slow
def test_cli_search_prints_filters_and_formats(indexed):
    r = subprocess.run(
        J2A + ["search", "in C major", "--db", str(indexed), "--format", "json"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "filters: key = C major" in r.stderr
    import json

    rows = json.loads(r.stdout)
    assert rows and rows[0]["match"] == 1 and all(x["key"] == "C major" for x in rows if x["match"] == 1)
    r = subprocess.run(
        J2A + ["search", "in C major", "--db", str(indexed), "--format", "json", "--strict"],
        capture_output=True,
        text=True,
    )
    assert all(x["key"] == "C major" and x["match"] == 1 for x in json.loads(r.stdout))
    r = subprocess.run(
        J2A + ["search", "music", "--db", str(indexed), "--format", "m3u"], capture_output=True, text=True
    )
    assert r.stdout.startswith("#EXTM3U") and r.stdout.count("#EXTINF") == 6


@pytest.mark.slow
def test_similar_and_mixable(indexed, clips):
    with lib.Library(indexed) as L:
        me = L.track(str(clips / "piece1_128bpm.wav"))
        near = L.similar(me.id, limit=5)
        assert len(near) == 5 and me.id not in [t.id for t in near]
        assert all(a.score >= b.score for a, b in zip(near, near[1:]))
        mine = lib.camelot(me.analysis.key.label)
        for t in L.similar(str(clips / "piece1_128bpm.wav"), mixable=True):
            assert lib.camelot_mixes(mine, lib.camelot(t.analysis.key.label))
            assert lib.tempo_mixes(me.analysis.tempo.bpm, t.analysis.tempo.bpm)
        with pytest.raises(lib.LibraryError, match="no such track"):
            L.similar("/nowhere/song.mp3")


@pytest.mark.slow
def test_playlist_fills_the_time_and_orders_by_transitions(indexed, tmp_path):
    out = tmp_path / "set.m3u8"
    r = subprocess.run(
        J2A
        + [
            "playlist",
            "music",
            "--minutes",
            "0.5",
            "--out",
            str(out),
            "--describe",
            "--llm",
            "none",
            "--db",
            str(indexed),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "#EXTM3U" and 3 <= sum(line.startswith("#EXTINF") for line in lines) <= 4  # 10-s tracks, 30 s
    assert "-track set of about" in r.stdout and "Keys (Camelot):" in r.stdout


@pytest.mark.slow
def test_duplicates_group_the_same_recording_in_other_formats_and_nothing_else(audio_dir, tmp_path):
    """The shared dubstep clip in five formats plus a trimmed copy is one group; the other clips stay alone."""
    d = tmp_path / "music"
    d.mkdir()
    for name in (
        "dubstep.wav",
        "dubstep.flac",
        "dubstep.mp3",
        "dubstep.ogg",
        "dubstep.aac",
        "techno_loop.mp3",
        "hiphop.mp3",
        "madmom_sample.wav",
    ):
        shutil.copy(audio_dir / name, d / name)
    import soundfile as sf

    x, sr = sf.read(audio_dir / "dubstep.wav")
    sf.write(d / "dubstep_trimmed.wav", x[int(0.5 * sr) :], sr)
    with lib.Library(tmp_path / "m.db") as L:
        L.index([str(d)], describe=False)
        groups = L.duplicates()
    names = [sorted(Path(t.path).name for t in g) for g in groups]
    assert names == [
        ["dubstep.aac", "dubstep.flac", "dubstep.mp3", "dubstep.ogg", "dubstep.wav", "dubstep_trimmed.wav"]
    ]
    assert all(t.why or t is g[-1] for g in groups for t in g)


@pytest.mark.slow
def test_set_description_says_only_what_the_set_shares(audio_dir, tmp_path, test_model):
    """Three electronic clips and a ragtime piano: the pooled evidence holds what at least half of them carry,
    the J2A-LLM's words for the set are guarded against it, and no genre it states contradicts the manifest's
    genres of the majority (j2a.eval.truth's families), nor does it name the piano that one track has."""
    from j2a.eval.truth import GENRES
    from j2a.text.claims import extract_claims
    from j2a.text.evidence import check_claims

    d = tmp_path / "music"
    d.mkdir()
    for name in ("dubstep.wav", "dubstep.mp3", "techno_loop.mp3", "pistachio_ragtime.ogg"):
        shutil.copy(audio_dir / name, d / name)
    with lib.Library(tmp_path / "m.db") as L:
        L.index([str(d)], describe=False)
        tracks = [L.track(str(d / n)) for n in sorted(os.listdir(d))]
    pooled = lib.pooled_analysis(tracks)
    for group in ("genre", "instrument", "mood", "vocals"):
        for tag in getattr(pooled.tags, group):
            carriers = sum(any(t.label == tag.label for t in getattr(x.analysis.tags, group)) for x in tracks)
            assert 2 * carriers >= len(tracks), (group, tag.label)
    words = lib.set_caption(tracks, llm=test_model["llm"])
    print(words)
    claims = extract_claims(words, closed=False)
    assert not check_claims(claims, pooled)[1]
    allowed = GENRES["dubstep"] | GENRES["techno"]
    assert [str(c) for c in claims if c.category == "genre" and not c.negated and c.concept not in allowed] == []
    assert not any(c.category == "instrument" and c.concept == "piano" and not c.negated for c in claims)
    assert "set" in words or not words
