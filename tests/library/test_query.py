"""Query words become filters; near misses earn part of a filter (j2a/library/query.py)."""

from __future__ import annotations

import pytest

from j2a import library as lib
from j2a.library.query import where_clause


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
    # no pulse measured is no evidence either way, not a tempo of 0 inside "slow" (0-90 BPM)
    m, met, missed = lib.match_filters(_track(None, "G minor", "4/2", piano), f)
    assert m == pytest.approx((lib.UNKNOWN + 1 + 1 + 1) / 4) and missed == ["tempo unknown"] and "0 BPM" not in met
    # the tag a query asks for ranks by its strength: a faint "piano" after a clear one
    assert lib.tag_strength(_track(tags=piano), f) > lib.tag_strength(_track(tags={("instrument", "piano"): 0.2}), f)
