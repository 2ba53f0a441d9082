"""Notes: basic-pitch's ONNX model finds the synthetic clip's chord tones and a tenor sax's range."""

from __future__ import annotations

import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.data.synth import chord_pitches
from j2a.features import notes as N


@pytest.fixture(scope="module")
def synth_notes(synth_clip):
    path, spec = synth_clip
    return N.analyze_notes(open_audio(path)), spec


def test_synth_notes_are_the_chord_tones(synth_notes):
    """Every bar plays one chord (C, F, G, C): the notes sounding in a bar are that chord's tones."""
    res, spec = synth_notes
    assert res.count > 40
    on, total = 0.0, 0.0
    for e in res.events:
        mid = (e.start + e.end) / 2
        bar = next(c for c in spec.chord_timeline() if c["start"] <= mid < c["end"] + 1e-9)
        tones = {p % 12 for p in chord_pitches(bar["label"])}
        d = e.end - e.start
        total += d
        on += d * (e.pitch % 12 in tones)
    assert on / total > 0.9, on / total
    top = {c["name"] for c in res.pitch_classes[:3]}
    assert top == {"C", "F", "G"}  # the three chord roots dominate
    assert {c["name"] for c in res.pitch_classes[:6]} <= {"C", "E", "F", "G", "A", "B", "D"}


def test_summary_fields(synth_notes):
    res, spec = synth_notes
    lo, hi = res.pitch_range["low"], res.pitch_range["high"]
    assert lo["name"] == N.note_name(lo["midi"]) and hi["midi"] >= lo["midi"]
    assert res.density_per_s == pytest.approx(res.count / spec.duration_s, rel=0.02)
    assert res.polyphony > 2.0  # triads plus bass
    assert sum(c["weight"] for c in res.pitch_classes) == pytest.approx(1.0, abs=1e-3)
    assert all(0 <= e.velocity <= 1 and e.end > e.start for e in res.events)
    assert [e.start for e in res.events] == sorted(e.start for e in res.events)


@pytest.mark.slow
def test_tenor_sax_range(audio_dir):
    """Sounding range of a tenor sax: about Ab2 (44) to E5 (76); the D-minor line centres on D."""
    res = N.analyze_notes(open_audio(audio_dir / "sax_tenor_d_minor.wav"))
    assert res.count >= 8
    assert 44 <= res.pitch_range["low"]["midi"] and res.pitch_range["high"]["midi"] <= 79
    assert res.pitch_classes[0]["name"] == "D"
    assert res.polyphony < 1.3  # a monophonic instrument


def test_voices_do_not_count_a_notes_own_overtones():
    """A line whose every note the transcriber also hears an octave and a twelfth up (a reed, an organ) is still
    one voice, where `polyphony` counts three; a triad held under it makes four, three where the line's note is an
    octave of the triad's (C4, E4 over C3, E3)."""
    ev = lambda s, e, p: N.NoteEvent(s, e, p, 0.8)  # noqa: E731
    line = [ev(i * 0.5, i * 0.5 + 0.5, p + h) for i, p in enumerate((60, 62, 64, 65)) for h in (0, 12, 19)]
    assert N.voices(line) == 1.0 and N.summarize(line, 2.0).polyphony == 3.0
    triad = [ev(0.0, 2.0, p) for p in (48, 52, 55)]  # C3 E3 G3 under C4 D4 E4 F4: 3, 4, 3, 4 voices
    assert N.voices(line + triad) == 3.5
    assert N.voices([]) == 0.0
    assert N.voices(line, block_s=0.3) == N.voices(line)  # block by block, the same count


def test_a_chord_over_its_root_is_not_taken_for_its_overtones(synth_clip, analysis_of):
    """A major triad over its root in the bass is the harmonic series (C2 C3 C4 E4 G4: 12, 24, 28, 31 above C2).
    Notes as loud as the bass are played notes; only quieter ones may be its overtones. The synthetic clip's pad
    (C-F-G-C, root in the bass; truth from SynthSpec) counted 1.1 notes at once by interval alone, and its
    description lost its chords."""
    from j2a.text.evidence import stated_chords

    chord = [N.NoteEvent(0.0, 2.0, p, v) for p, v in ((36, 0.55), (48, 0.6), (60, 0.66), (64, 0.74), (67, 0.64))]
    assert N.voices(chord) == 5.0
    ghosts = [N.NoteEvent(0.0, 2.0, 36, 0.8)] + [N.NoteEvent(0.0, 2.0, p, 0.3) for p in (48, 60, 64, 67)]
    assert N.voices(ghosts) == 1.0
    a = analysis_of(synth_clip[0])
    assert a.notes.voices >= 2.0 and {c.label for c in stated_chords(a)} >= {"C:maj", "F:maj", "G:maj"}


@pytest.mark.slow
def test_a_single_part_of_a_rendered_chorale_is_one_voice(tmp_path):
    """Bach's chorale BWV 66.6 rendered for woodwinds: each part alone (flute on top, bassoon below: the bassoon's
    overtones made it 1.5 by `polyphony`) counts about one voice and states no chords; all four parts state them
    (truth from the score's part count, not from J2A)."""
    import j2a
    from j2a.data import render as scores
    from j2a.text.evidence import stated_chords

    font = "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3"  # scripts/setup.sh installs it
    for parts, chords in (((0,), False), ((3,), False), (None, True)):
        row = scores.render_piece(scores.Piece("bach/bwv66.6.mxl", 90, "woodwinds", font, 0, parts=parts), tmp_path)
        a = j2a.analyze(row["audio"])
        assert (a.notes.voices >= 2.0) if chords else (a.notes.voices <= 1.2), (parts, a.notes)
        assert bool(stated_chords(a)) is chords and bool(a.chords)


def test_note_names():
    assert N.note_name(60) == "C4" and N.note_name(21) == "A0" and N.note_name(69 + 1) == "A#4"


def test_block_decoding_is_memory_bounded_and_consistent(synth_clip, monkeypatch):
    """Decoding in small blocks (as for long files) finds the same notes, give or take boundary splits."""
    path, _ = synth_clip
    a = open_audio(path)
    ref, n_frames = N.transcribe(a)
    monkeypatch.setattr(N, "BLOCK_FRAMES", 142 * 4)  # ~6.6 s blocks instead of ~33 s
    small, n2 = N.transcribe(a)
    assert n2 == n_frames
    n_blocks = int(np.ceil(n_frames / (142 * 4)))
    assert abs(len(small) - len(ref)) <= 6 * n_blocks

    def key(evs):
        return np.bincount([e.pitch % 12 for e in evs], minlength=12) / len(evs)

    np.testing.assert_allclose(key(small), key(ref), atol=0.05)


def test_note_onsets_line_up_with_the_bars(synth_notes):
    """basic-pitch's frame->time mapping is reproduced: each bar's chord starts at the bar line (+-60 ms)."""
    res, spec = synth_notes
    for bar in spec.chord_timeline()[:-1]:
        tones = {p % 12 for p in chord_pitches(bar["label"])}
        starts = [e.start for e in res.events if e.pitch % 12 in tones and abs(e.start - bar["start"]) < 0.06]
        assert starts, f"no {bar['label']} note starts at {bar['start']:.2f} s"
