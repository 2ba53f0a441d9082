"""`j2a describe`: the faithfulness guard, regeneration / template fallback, non-music input, sections,
and (on real audio) no unsupported instrument / vocal / genre claim in any caption."""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
from pathlib import Path

import pytest
from hand_made import ScriptedLLM, make_analysis, two_sections

from j2a.text.claims import extract_claims
from j2a.text.describe import DescribeConfig, describe, describe_many, not_music_statement
from j2a.text.evidence import check_claims
from j2a.text.guard import guard
from j2a.text.sections import segment

ROCK = dict(
    genre=[("rock", 0.5)],
    instrument=[("guitar", 0.6), ("drums", 0.4)],
    vocals=[("male vocal", 0.3)],
    bpm=128.0,
    key="E minor",
    meter="4/4",
    chords=["E:min", "C:maj", "G:maj", "D:maj"] * 4,
)


def test_guard_drops_only_unsupported_sentences():
    a = make_analysis(**ROCK)
    text = (
        "This is a rock song with electric guitar and drums. A saxophone solo comes in. "
        "A female singer joins. The male vocalist sings over a fast beat. A female singer joins."
    )
    kept, checked, dropped = guard(text, a)
    assert kept == "This is a rock song with electric guitar and drums. The male vocalist sings over a fast beat."
    assert [d["sentence"] for d in dropped] == ["A saxophone solo comes in.", "A female singer joins."]
    assert {c["concept"] for c in checked if not c["supported"]} == {
        "saxophone",
        "female vocals",
        "unknown word",
    }  # 'solo'


def test_recording_qualifiers_are_rewritten_not_dropped():
    a = make_analysis(**ROCK)
    kept, _, dropped = guard(
        "The low quality recording features a rock song with electric guitar and drums. "
        "It is a live performance with crowd cheering.",
        a,
    )
    assert kept == "The recording features a rock song with electric guitar and drums."
    assert dropped[0]["rewritten"] == kept and "rewritten" not in dropped[1]
    # where "quality" is the noun, cutting the qualifier would break the sentence: it goes whole
    kept, _, _ = guard("This high quality recording features a rock song with drums.", a)
    assert kept == "This recording features a rock song with drums."
    # the singing is heard, its language is not: the language goes, the singer stays
    kept, _, dropped = guard(
        "A male vocalist sings in a foreign language over electric guitar. "
        "The male vocalist sings in Spanish. The lyrics are about love.",
        a,
    )
    assert kept == "A male vocalist sings over electric guitar. The male vocalist sings."
    assert dropped[-1] == {
        "sentence": "The lyrics are about love.",
        "claims": ["recording:language or lyrics ('lyrics are')", "unknown:unknown word ('love')"],
    }
    for s in (
        "This music has a bad audio quality.",
        "The recording is of low quality and features electric guitar.",
        "The audio quality is poor.",
        "The audio quality of this song is good.",
        "The quality of the recording is low with electric guitar.",
        "The audio is in mono and noisy.",  # both qualifiers cut would leave "The audio is."
    ):
        kept, _, dropped = guard(s, a)
        assert kept == "" and dropped[0]["claims"][0].startswith("recording:") and "rewritten" not in dropped[0]


def test_a_clause_after_a_comma_is_not_a_list_item():
    a = make_analysis(**ROCK)
    s = "After 2 bars, the saxophone plays an ascending phrase followed by a descending phrase."
    kept, _, dropped = guard(s, a)
    assert kept == "" and [d["sentence"] for d in dropped] == [s] and "rewritten" not in dropped[0]
    assert dropped[0]["claims"][0] == "instrument:saxophone ('saxophone')"


def test_an_opener_keeps_its_genre_when_what_it_features_is_unsupported():
    a = make_analysis(**ROCK)
    text = (
        "This rock song features a saxophone playing the main melody. "
        "This is accompanied by drums playing a simple rock beat."
    )
    kept, _, dropped = guard(text, a)
    assert kept == "This is a rock song. This is accompanied by drums playing a simple rock beat."
    assert dropped == [
        {
            "sentence": text.split(". ")[0] + ".",
            "claims": ["instrument:saxophone ('saxophone')"],
            "rewritten": "This is a rock song.",
        }
    ]
    # an unsupported genre in the opener still drops it; the next sentence then cannot open with "This is"
    kept, _, dropped = guard(text.replace("rock song", "jazz song"), a)
    assert kept == "The music features drums playing a simple rock beat." and "rewritten" not in dropped[0]
    # a supported opener is left alone
    assert (
        guard("This rock song features a male vocalist singing.", a)[0]
        == "This rock song features a male vocalist singing."
    )


def test_stuttering_lists_are_cut_back_to_their_first_variant():
    a = make_analysis(**ROCK)
    text = (
        "This is a rock song with electric guitar and drums. "
        "The music is upbeat, groovy, punchy, punch like, punchlike, punchly, punchable and infectious."
    )
    kept, _, dropped = guard(text, a)
    # the stutter is cut back first; then the praise words no tagger measures ("punchy", "infectious")
    assert kept.endswith("The music is upbeat and groovy.")
    assert dropped[0] == {
        "sentence": text.split(". ")[1],
        "claims": ["repetition"],
        "rewritten": "The music is upbeat, groovy, punchy and infectious.",
    }
    plain = "It has electric guitar, drums, bass and piano."  # distinct items are no stutter (bass, piano: unsupported)
    kept, _, dropped = guard(plain, a)
    assert kept == "It has electric guitar and drums." and not any(d["claims"] == ["repetition"] for d in dropped)
    kept, _, dropped = guard("The music is upbeat, groovy, groovy and punchy.", a)  # said twice word for word
    assert kept == "The music is upbeat and groovy." and dropped[0]["claims"] == ["repetition"]


def test_unsupported_list_items_are_cut_and_the_supported_ones_kept():
    """A 270M model packs a whole instrumentation into one sentence: one wrong item must not cost the right ones."""
    a = make_analysis(
        genre=[("classical", 0.67)], instrument=[("violin", 0.53), ("strings", 0.49)], bpm=148.0, chords=("A:min",)
    )
    text = "The tempo is fast with a spirited violin harmony, string section harmony, brass section harmony and jazz percussion."
    kept, checked, dropped = guard(text, a)
    assert kept == "The tempo is fast with a violin harmony and string section harmony."  # 'spirited': no tag says it
    assert dropped == [
        {
            "sentence": text,
            "claims": [
                "unknown:unknown word ('spirited')",
                "instrument:brass section ('brass section')",
                "genre:jazz ('jazz')",
                "instrument:drums ('percussion')",
            ],
            "rewritten": kept,
        }
    ]
    assert all(c["supported"] for c in checked) and {c["concept"] for c in checked} >= {"violin", "string section"}
    # an unsupported claim in the sentence's head leaves nothing to keep: the sentence goes
    kept, _, dropped = guard("A saxophone plays over violin and strings.", a)
    assert kept == "" and "rewritten" not in dropped[0]
    # recording qualifiers and unsupported items in one sentence: both cut
    kept, _, _ = guard("The low quality recording features a violin melody, a piano and strings.", a)
    assert kept == "The recording features a violin melody and strings."


def test_regenerates_then_falls_back_to_template():
    a = make_analysis(**ROCK)
    bad = "A jazz piece with a saxophone. A trumpet plays. A female singer. A piano solo."
    llm = ScriptedLLM(bad)
    d = describe(a, llm=llm, max_tries=3)
    assert len(llm.calls) == 3 and d.faithfulness.tries == 3 and d.faithfulness.fallback
    assert d.model.startswith("template")
    assert "rock" in d.caption and "128 BPM" in d.caption and "E minor" in d.caption
    assert not check_claims(extract_claims(d.caption), a)[1]
    assert len(d.faithfulness.dropped) >= 12  # every sentence of every try is recorded


def test_second_try_is_used_when_clean():
    a = make_analysis(**ROCK)
    good = "An energetic rock song in E minor with a driving guitar riff, steady drums and a male vocalist at 128 BPM."
    llm = ScriptedLLM("A smooth jazz tune with a saxophone and a female singer.", good)
    d = describe(a, llm=llm)
    # the facts the text leaves out (meter, chords) follow it; its own BPM and key are not repeated
    assert d.caption == good + " It is in 4/4 time. The chords move through Em - C - G - D."
    assert d.faithfulness.tries == 2 and not d.faithfulness.fallback and d.model == "scripted"
    assert all(c["supported"] for c in d.faithfulness.checked)
    assert {c["concept"] for c in d.faithfulness.checked} >= {"rock", "E minor", "guitar", "drums", "male vocals"}


def test_a_short_clean_try_is_completed_with_the_measured_facts():
    """Every try short (under min_words) but clean: the longest one plus the facts, not the template."""
    a = make_analysis(**ROCK)
    llm = ScriptedLLM("A saxophone solo. This is a rock song.", "A rock song with a male singer.", "A saxophone.")
    d = describe(a, llm=llm)
    assert d.caption == (
        "A rock song with a male singer. It moves at about 128 BPM in 4/4 time. "
        "It is in E minor, and the chords move through Em - C - G - D."
    )
    assert d.model == "scripted" and not d.faithfulness.fallback and d.faithfulness.tries == 3
    assert all(c["supported"] for c in d.faithfulness.checked)
    assert {c["concept"] for c in d.faithfulness.checked} >= {"rock", "male vocals", "E minor", "4/4"}
    # without facts a short try is not a description: the template is
    d = describe(a, llm=ScriptedLLM("A rock song with a male singer."), config=DescribeConfig(facts=False))
    assert d.faithfulness.fallback and d.caption.startswith("This is a fast rock piece featuring guitar and drums")


def test_sentences_that_claim_nothing_new_are_dropped():
    """What the guard leaves of a sentence can be true and empty, or a repeat; such sentences go, and are recorded."""
    a = make_analysis(**ROCK)
    text = (
        "This is a rock song with a driving guitar riff and steady drums. The song has a calm atmosphere. "
        "This is a recording. A male vocalist sings. The guitar and the drums play a rock beat. The drums."
    )
    d = describe(a, llm=ScriptedLLM(text), config=DescribeConfig(facts=False))
    assert d.caption == "This is a rock song with a driving guitar riff and steady drums. A male vocalist sings."
    assert [(r["sentence"], r["reason"]) for r in d.faithfulness.dropped if "reason" in r] == [
        ("The song has an atmosphere.", "says nothing"),  # "calm" cut (no mood evidence): nothing left to say
        ("This is a recording.", "says nothing"),
        ("The guitar and the drums play a rock beat.", "says nothing new"),  # guitar, drums, rock: all said
        ("The drums.", "a fragment"),  # no verb: what a repair can leave of "The drums are ..."
    ]


def test_retry_decodes_differently_on_hf_backends():
    class FakeHF(ScriptedLLM):
        gen = object()  # marks a j2a.llm.backends.HFLLM-like backend

    llm = FakeHF("A saxophone.", "A saxophone.", "A saxophone.")
    describe(make_analysis(**ROCK), llm=llm)
    assert [kw for _, kw in llm.calls] == [{}, {"temperature": 0.7, "seed": 1}, {"temperature": 0.9, "seed": 2}]
    assert "Music tags: rock, guitar, drums, male vocal" in llm.calls[0][0]


def test_describe_many_batches_each_try():
    good = "An energetic rock song in E minor with a driving guitar riff, steady drums and a male vocalist at 128 BPM."
    llm = ScriptedLLM("A saxophone quartet with a female singer.", good)
    speech = make_analysis(is_music=False, reason="speech")
    ds = describe_many(
        [make_analysis(**ROCK), speech, make_analysis(**ROCK)], llm=llm, config=DescribeConfig(facts=False)
    )
    assert len(llm.calls) == 2  # one batched call per try, not one per track
    assert [d.caption for d in ds] == [good, not_music_statement(speech), good]
    assert [d.faithfulness.tries for d in ds] == [2, 0, 2]


def test_template_backend_is_faithful():
    a = make_analysis(**ROCK)
    d = describe(a, llm="none")
    assert d.model == "template" and not d.faithfulness.fallback and d.faithfulness.tries == 0
    assert d.caption.startswith("This is a ") and "described as" not in d.caption
    assert "E minor" in d.caption and "4/4" in d.caption and "Em - C - G - D" in d.caption
    assert not check_claims(extract_claims(d.caption), a)[1]
    out = d.to_dict()
    assert set(out) >= {"caption", "sections", "analysis", "model", "faithfulness"}
    json.dumps(out)


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("speech", "This recording does not appear to be music: it sounds like speech."),
        ("silence", "This recording does not appear to be music: it is silent."),
        ("non-musical sound", "This recording does not appear to be music: it sounds like a non-musical sound."),
    ],
)
def test_non_music_statement(reason, expected):
    a = make_analysis(is_music=False, reason=reason)
    assert not_music_statement(a) == expected
    llm = ScriptedLLM("A rock song with guitar.")
    d = describe(a, llm=llm, sections=True)
    assert d.caption == expected and d.sections == [] and not llm.calls


def test_sections_follow_harmony_changes():
    # 60 s: verse loop Am-F for 30 s (sparse, low notes), then C-G with busy high notes
    a = two_sections(**ROCK)
    spans = segment(a)
    assert len(spans) == 2 and abs(spans[0][1] - 28.0) <= 4.0
    d = describe(a, llm="none", sections=True)
    s1, s2 = d.sections
    assert s1["start"] == 0 and s2["end"] == 60.0 and s1["end"] == s2["start"]
    assert set(s1["chords"].split(" - ")) == {"Am", "F"} and set(s2["chords"].split(" - ")) == {"C", "G"}
    assert s2["caption"].startswith("0:") and "the notes get busier and move higher" in s2["caption"].lower()
    assert s2["caption"].endswith(f"The chords move through {s2['chords']}.")


def test_section_words_name_sounding_parts_only():
    """A 'no vocals' tag is not a part that opens, enters or leaves a section."""
    from j2a.text.sections import section_caption, tag_words

    first = make_analysis(instrument=[("violin", 0.55), ("strings", 0.5)], vocals=[("instrumental (no vocals)", 0.2)])
    later = make_analysis(instrument=[("violin", 0.3)], vocals=[("male vocals", 0.4)])
    w1, w2 = tag_words(first.tags), tag_words(later.tags)
    assert w1 == ["violin", "strings"] and w2 == ["violin", "male vocal"]
    s1 = {"start": 0.0, "end": 14.0, "chords": None, "notes_per_s": 5.0, "mean_pitch_midi": 60.0, "_words": w1}
    s2 = {"start": 14.0, "end": 30.0, "chords": None, "notes_per_s": 5.0, "mean_pitch_midi": 60.0, "_words": w2}
    assert section_caption(s1, None) == "0:00-0:14: It opens with violin and strings."
    # full sentences; "strings" does not drop out while the violin, a string instrument, plays on
    assert section_caption(s2, s1) == "0:14-0:30: Male vocal enters."


def test_section_changes_use_hysteresis_and_never_contradict():
    from j2a.text.sections import section_caption

    def sec(start, words, levels):
        return {
            "start": start,
            "end": start + 10,
            "chords": None,
            "notes_per_s": 5.0,
            "mean_pitch_midi": 60.0,
            "_words": words,
            "_levels": levels,
        }

    s1 = sec(0, ["piano", "female vocal"], {"piano": (0.8, True), "female vocal": (0.6, True), "drums": (0.2, False)})
    # drums were weakly heard before and are stated now: no clear change, so no "enter"; the piano is gone
    s2 = sec(10, ["drums", "female vocal"], {"drums": (0.7, True), "female vocal": (0.6, True)})
    assert section_caption(s2, s1) == "0:10-0:20: The piano drops out."
    # vocals stated before, only weakly heard now: neither stated nor said to leave
    s3 = sec(20, ["drums"], {"drums": (0.7, True), "female vocal": (0.2, False)})
    assert section_caption(s3, s2) == "0:20-0:30: It continues in the same way."
    s4 = sec(30, ["drums", "vocals"], {"drums": (0.7, True), "vocals": (0.5, True)})
    assert section_caption(s4, s3) == "0:30-0:40: It continues in the same way."  # a vocal was weakly there


def test_short_track_is_one_section():
    assert segment(make_analysis(**{**ROCK, "duration": 10.0})) == [(0.0, 10.0)]


# ------------------------------------------------------------------------------ real audio
_SHARED = Path(os.environ.get("J2A_SHARED", Path(__file__).resolve().parents[2].parent / "shared")).resolve()
_MANIFEST = _SHARED / "data" / "audio" / "manifest.csv"
_ROWS = list(csv.DictReader(open(_MANIFEST, newline=""))) if _MANIFEST.exists() else []
MUSIC = [r["file"] for r in _ROWS if r["kind"] == "music"]
NOT_MUSIC = {r["file"]: r["kind"] for r in _ROWS if r["kind"] != "music"}
CHECKED = ("instrument", "vocals", "genre")


def test_shared_clips_are_listed():
    assert len(MUSIC) >= 20 and set(NOT_MUSIC) == {"speech_librispeech.ogg", "bird_robin.ogg", "cat_purr.wav"}


@pytest.fixture(scope="module")
def music_descriptions(described_music):
    return {clip: described_music[clip][1] for clip in MUSIC}


@pytest.mark.slow
@pytest.mark.parametrize("clip", MUSIC)
def test_faithful_on_real_music(clip, music_descriptions):
    """0 unsupported instrument / vocal / genre claims; prints each claim with its supporting tag or fact."""
    d = music_descriptions[clip]
    a = d.analysis
    assert a.is_music, f"{clip}: music detector says {a.music.reason}"
    supported, unsupported = check_claims(extract_claims(d.caption), a)
    print(f"\n{clip} [{d.model}, tries {d.faithfulness.tries}, fallback {d.faithfulness.fallback}]: {d.caption}")
    for c, ev in supported:
        print(f"   {c}  <-  {ev}")
    for row in d.faithfulness.dropped:
        print(f"   dropped: {row['sentence']!r} ({', '.join(row['claims'])})")
    assert [str(c) for c in unsupported if c.category in CHECKED] == []
    assert not unsupported  # tempo / key / meter claims too
    assert len(d.caption.split()) >= 8 and not d.caption.startswith("This recording does not appear")
    assert all(row["supported"] == (row["evidence"] is not None) for row in d.faithfulness.checked)
    # the template a listener gets when every try was cut is prose the guard keeps whole (chord names included)
    assert [r["sentence"] for r in d.faithfulness.dropped if r["attempt"] == "template"] == []
    assert "described as" not in d.caption


@pytest.mark.slow
@pytest.mark.parametrize("clip", sorted(NOT_MUSIC))
def test_non_music_clips_are_not_songs(clip, audio_dir, analysis_of, test_model):
    a = analysis_of(audio_dir / clip)
    d = describe(a, sections=True, **test_model)
    assert not a.is_music
    assert d.caption.startswith("This recording does not appear to be music")
    assert not extract_claims(d.caption, closed=False) and d.sections == []
    if NOT_MUSIC[clip] == "speech":
        assert d.caption == "This recording does not appear to be music: it sounds like speech."


def test_cli_describe_reads_saved_analyses_without_analysing_again(tmp_path, monkeypatch, capsys):
    """`j2a describe library.jsonl`: the analyses `j2a analyze --out` saved are described as they are;
    a file that is not one is reported by name and skipped, and --resume works on the audio paths."""
    import j2a.analysis.pipeline
    from j2a.cli import main

    monkeypatch.setattr(j2a.analysis.pipeline, "analyze", lambda *a, **k: pytest.fail("analysed again"))
    rock, speech = make_analysis(**ROCK), make_analysis(is_music=False)
    rock.file, speech.file = "/music/rock.wav", "/music/talk.wav"
    lib = tmp_path / "library.jsonl"
    lib.write_text(rock.to_json() + "\n" + speech.to_json() + "\n")
    bad = tmp_path / "bad.json"
    bad.write_text('{"ytid": "x"}')
    out = tmp_path / "d.jsonl"
    assert main(["describe", str(lib), str(bad), "--llm", "none", "--out", str(out)]) == 1
    assert f"{bad}: entry 1 is not a J2A analysis" in capsys.readouterr().err
    assert [json.loads(x)["file"] for x in (tmp_path / "d.jsonl.errors.jsonl").read_text().splitlines()] == [str(bad)]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["file"] for r in rows] == ["/music/rock.wav", "/music/talk.wav"]
    assert rows[0]["caption"] == describe(rock, llm="none").caption and rows[0]["analysis"] == rock.to_dict()
    assert rows[1]["caption"].startswith("This recording does not appear to be music")
    dmod = importlib.import_module("j2a.text.describe")  # a JSONL library is indexed by line, not held in memory

    assert dmod._SAVED["/music/talk.wav"] == (str(lib), len(rock.to_json()) + 1)
    assert main(["describe", str(lib), "--llm", "none", "--out", str(out), "--resume"]) == 0
    assert len(out.read_text().splitlines()) == 2
    # `j2a describe` output holds its analyses too: it can be described again (say, with another LLM)
    again = tmp_path / "again.jsonl"
    assert main(["describe", str(out), "--llm", "none", "--out", str(again)]) == 0
    assert [json.loads(x)["caption"] for x in again.read_text().splitlines()] == [r["caption"] for r in rows]


@pytest.mark.slow
def test_cli_describe_batch(tmp_path, audio_dir, synth_clip):
    from j2a.cli import main

    out = tmp_path / "d.jsonl"
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    code = main(
        [
            "describe",
            str(synth_clip[0]),
            str(audio_dir / "speech_librispeech.ogg"),
            str(bad),
            "--llm",
            "none",
            "--sections",
            "--out",
            str(out),
        ]
    )
    assert code == 1  # the bad file is reported and skipped, the others are done
    rows = {Path(r["file"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {synth_clip[0].name, "speech_librispeech.ogg"}
    synth = rows[synth_clip[0].name]
    assert (
        synth["model"] == "template"
        and synth["sections"]
        and synth["analysis"]["duration_s"] == pytest.approx(30, abs=0.1)
    )
    assert "sounds like speech" in rows["speech_librispeech.ogg"]["caption"]
    # --resume: nothing left to do
    assert main(["describe", str(synth_clip[0]), "--llm", "none", "--out", str(out), "--resume"]) == 0
    # --format text: for people, the same caption and sections, not the analysis
    txt = tmp_path / "d.txt"
    assert (
        main(["describe", str(synth_clip[0]), "--llm", "none", "--sections", "--format", "text", "-o", str(txt)]) == 0
    )
    lines = txt.read_text().splitlines()
    assert lines[0] == synth_clip[0].name and lines[1] == "  " + synth["caption"]
    assert lines[2:-1] == ["  " + s["caption"] for s in synth["sections"]] and lines[-1] == "  (template)"


def test_model_flag_rejects_a_non_checkpoint(tmp_path, synth_clip):
    with pytest.raises(ValueError, match="no such J2A-2.x checkpoint"):
        describe(str(synth_clip[0]), model=str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match="J2A-2"):
        describe(make_analysis(**ROCK), model=str(junk))  # an Analysis alone: no audio for the model


@pytest.mark.slow
def test_sections_on_real_audio_state_only_section_facts(audio_dir, analysis_of):
    """Sections tile the track, and every instrument / vocal word in a section caption is backed by
    that section's own tags (what enters is tagged there; what is 'now without' is not)."""
    path = audio_dir / "hainsworth_001.flac"
    a = analysis_of(path)
    from j2a.text.sections import describe_sections

    secs = describe_sections(a, audio_path=str(path))
    assert len(secs) >= 2 and secs[0]["start"] == 0 and secs[-1]["end"] == pytest.approx(a.duration_s, abs=0.01)
    assert all(x["end"] == y["start"] for x, y in zip(secs, secs[1:]))
    for sec in secs:
        assert re.match(r"^\d+:\d\d-\d+:\d\d: ", sec["caption"]) and sec["end"] - sec["start"] >= 8.0
        local = make_analysis(
            instrument=[(t["label"], t["score"]) for t in sec["tags"]["instrument"]],
            vocals=[(t["label"], t["score"]) for t in sec["tags"]["vocals"]],
        )
        claims = [c for c in extract_claims(sec["caption"]) if c.category in ("instrument", "vocals")]
        sup, uns = check_claims(claims, local)
        print(sec["caption"], [(str(c), e) for c, e in sup])
        assert not uns, sec


def test_beams_option_reaches_a_local_backend_only():
    """`j2a describe --beams N` sets the first try's beam width on J2A's own backends (they have .gen)."""
    d = importlib.import_module("j2a.text.describe")

    class Local:
        gen = object()

        def __init__(self):
            self.calls = []

        def generate(self, prompts, max_new_tokens=200, **kw):
            self.calls.append(kw)
            return ["x"] * len(prompts)

    class Remote:  # e.g. an OpenAI-compatible server: no GenConfig
        def __init__(self):
            self.calls = []

        generate = Local.generate

    local, remote = Local(), Remote()
    d._generate(local, ["p"], 10, 0, 0.7, num_beams=1)
    d._generate(local, ["p"], 10, 0, 0.7)
    d._generate(remote, ["p"], 10, 0, 0.7, num_beams=1)
    assert local.calls == [{"num_beams": 1}, {}] and remote.calls == [{}]


def test_package_functions_stay_callable():
    """`j2a.describe` / `j2a.ask` stay the functions after use (a lazy wrapper was once replaced by a
    submodule of the same name after its first call: "'module' object is not callable" on the second)."""
    import j2a

    a = make_analysis(**ROCK)
    first = j2a.describe(a, llm="none").caption
    assert j2a.describe(a, llm="none").caption == first and "rock" in first
    assert j2a.ask(a, "What key is it in?", llm="none").answer == j2a.ask(a, "What key is it in?", llm="none").answer
    assert j2a.analyze is j2a.analysis.analyze and callable(j2a.ask)


def test_chords_are_stated_only_where_notes_sound_together():
    """A single line's chords are only implied (a solo singer was described "the chords move through Bb - D - F -
    G"): no description states them; two or more notes at once do; an analysis without the notes keeps them."""
    melody = [(i * 0.5, i * 0.5 + 0.5, 60 + i) for i in range(8)]
    chords = ("C:maj", "G:maj", "A:min", "F:maj")
    line = describe(make_analysis(key="C major", chords=chords, notes=melody, voices=1.1), llm="none").caption
    assert "chord" not in line and "harmony" not in line and "in C major" in line
    for a in (
        make_analysis(key="C major", chords=chords, notes=melody, voices=2.4),
        make_analysis(key="C major", chords=chords),
    ):
        assert "the chords move through C - G - Am - F" in describe(a, llm="none").caption


def test_nothing_is_said_absent_from_a_clip_too_short_for_the_taggers():
    """A 2-s clip of singing that no tagger heard as a voice was called "an instrumental": under one musicnn patch
    (3 s) nothing is absent; at 30 s the same tags make it instrumental."""
    for duration, ok in ((2.0, False), (30.0, True)):
        a = make_analysis(genre=[("electronic", 0.6)], duration=duration)
        assert check_claims(extract_claims("The song is an instrumental."), a)[1] is not ok


def test_playing_chords_needs_notes_sounding_together():
    """The model's "strumming chords", "the bass plays the notes of the chords" and "a guitar harmony" are claims the
    guard judges like J2A's own chord sentence: backed only where notes sound together."""
    melody = [(i * 0.5, i * 0.5 + 0.5, 60 + i) for i in range(8)]
    for voices, ok in ((1.0, False), (2.2, True)):
        a = make_analysis(instrument=[("guitar", 0.8)], chords=("C:maj", "G:maj"), notes=melody, voices=voices)
        for text in (
            "Someone is strumming chords on a guitar.",
            "The guitar plays the notes of the chords.",
            "It has a guitar harmony.",
        ):
            unsupported = check_claims(extract_claims(text), a)[1]
            assert [c.concept for c in unsupported] == ([] if ok else ["chords"]), (voices, text)


def test_a_section_or_an_orchestra_needs_several_players():
    """A solo trumpet (YAMNet's "brass instrument" beside "trumpet") was given "the brass section is playing the
    backing parts": a section, an ensemble or an orchestra needs notes sounding together; the trumpet itself does
    not."""
    line = [(i * 0.5, i * 0.5 + 0.5, 70 + i % 3) for i in range(8)]
    tags = dict(genre=[("classical", 0.7)], instrument=[("trumpet", 0.9), ("brass", 0.8), ("orchestra", 0.5)])
    for voices, ok in ((1.0, False), (2.3, True)):
        a = make_analysis(notes=line, voices=voices, **tags)
        for text in ("The brass section is playing the backing parts.", "An orchestra plays.", "A brass band plays."):
            assert (not check_claims(extract_claims(text), a)[1]) is ok, (voices, text)
        assert not check_claims(extract_claims("A trumpet plays the melody."), a)[1]
