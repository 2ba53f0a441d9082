"""`j2a playlist`: a set that fills the time, ordered by transitions, and described truthfully (j2a/library/playlist.py)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hand_made import J2A, ScriptedLLM, make_analysis

from j2a import library as lib


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


def test_a_set_caption_the_guard_kept_nothing_of_is_left_out(tmp_path):
    """Three electronic synth tracks: words the pooled evidence backs are kept (song -> set, the length said once,
    by set_description); when every try claims what the set lacks, the template's "This is a set of music." is not
    offered as the set's description: no words."""
    from j2a.library.index import add

    analyses = []
    for i in range(3):
        a = make_analysis(genre=[("electronic", 0.8)], instrument=[("synth", 0.7)], duration=120.0)
        a.file = str(tmp_path / f"t{i}.wav")
        analyses.append(a)
    with lib.Library(tmp_path / "m.db") as L:
        add(L, [(a, None) for a in analyses])
        tracks = [L.track(a.file) for a in analyses]
    assert lib.set_caption(tracks, llm=ScriptedLLM("A saxophone solo over a country band.")) == ""
    kept = lib.set_caption(tracks, llm=ScriptedLLM("This electronic song has a synth melody."))
    assert kept.startswith("This electronic set has a synth melody.") and "lasts" not in kept
