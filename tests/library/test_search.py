"""`j2a search` and `j2a similar` on a real index (j2a/library/search.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hand_made import J2A

from j2a import library as lib


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
