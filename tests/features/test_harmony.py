"""Harmony: key and chords on synthetic, real and atonal audio; the torch port equals madmom."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from j2a.audio import open_audio
from j2a.features import harmony as H


def _majmin_wcsr(ref: list[dict], est) -> float:
    ri = np.array([[c["start"], c["end"]] for c in ref])
    ei = np.array([[c.start, c.end] for c in est])
    el = [c.label for c in est]
    ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), "N", "N")
    iv, r, e = mir_eval.util.merge_labeled_intervals(ri, [c["label"] for c in ref], ei, el)
    return mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(r, e), mir_eval.util.intervals_to_durations(iv))


def _label_at(chords, t: float) -> str:
    return next(c.label for c in chords if c.start <= t < c.end)


@pytest.fixture(scope="module")
def synth_harmony(synth_clip):
    path, spec = synth_clip
    return H.analyze_harmony(open_audio(path)), spec


def test_synth_clip_key_is_c_major(synth_harmony):
    h, spec = synth_harmony
    assert h.key.label == "C major" and h.key.tonic == "C" and h.key.mode == "major"
    assert h.key.confidence > 0.5
    assert h.key.candidates[0]["label"] == "C major"


def test_synth_clip_chords_per_bar(synth_harmony):
    h, spec = synth_harmony
    ref = spec.chord_timeline()
    assert _majmin_wcsr(ref, h.chords) >= 0.8
    # the chord in the middle of each of the first four bars: C F G C
    got = [_label_at(h.chords, (i + 0.5) * spec.bar_s) for i in range(4)]
    assert got == ["C:maj", "F:maj", "G:maj", "C:maj"]
    # timeline is contiguous, ordered, merged and within the clip
    assert all(a.end == b.start and a.label != b.label for a, b in zip(h.chords, h.chords[1:]))
    assert h.chords[0].start == 0.0 and h.chords[-1].end <= spec.duration_s + 0.05


@pytest.mark.slow
def test_sax_is_d_minor(audio_dir):
    h = H.analyze_harmony(open_audio(audio_dir / "sax_tenor_d_minor.wav"))
    assert h.key.label == "D minor"


@pytest.mark.slow
def test_dubstep_formats_agree_on_key(audio_dir):
    keys = {
        f: H.analyze_harmony(open_audio(audio_dir / f"dubstep.{f}")).key.label
        for f in ("wav", "flac", "mp3", "ogg", "aac")
    }
    assert len(set(keys.values())) == 1 and None not in keys.values(), keys


def _clusters(seed: int, sr: int = 44100, seconds: float = 15.0) -> np.ndarray:
    """Random chromatic clusters (4-9 random pitches from E2 to F#6, a new set every 0.25 s): atonal."""
    rng = np.random.default_rng(seed)
    seg = int(0.25 * sr)
    t = np.arange(seg) / sr
    out = []
    for _ in range(int(seconds / 0.25)):
        ps = rng.choice(np.arange(40, 90), int(rng.integers(4, 10)), replace=False)
        out.append(sum(np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in ps) * np.hanning(seg) * 0.05)
    return np.concatenate(out).astype(np.float32)


@pytest.mark.parametrize("kind", ["clusters", "noise"])
def test_atonal_input_gets_no_key(kind):
    y = (
        _clusters(3)
        if kind == "clusters"
        else np.random.default_rng(0).standard_normal(44100 * 10).astype(np.float32) * 0.1
    )
    h = H.analyze_harmony(open_audio(y, 44100))
    assert h.key.label is None and h.key.tonic is None and h.key.mode is None
    assert h.key.confidence < 0.5
    assert len(h.key.candidates) == 5  # still reported, for whoever wants to look


def _melody(pitches, step=0.5):
    from j2a.analysis.schema import NoteEvent

    return [NoteEvent(i * step, (i + 1) * step, p, 0.8) for i, p in enumerate(pitches)]


# a tune in D minor (tonic and dominant most, C# as the leading note) and a C major scale walked up and down
D_MINOR_TUNE = [62, 65, 69, 67, 65, 64, 62, 61, 62, 69, 70, 69, 67, 65, 64, 62, 57, 62]
C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 67, 60]


def test_the_notes_key_profile_names_the_key_of_a_tune():
    for tune, key in ((D_MINOR_TUNE, "D minor"), (C_MAJOR_SCALE, "C major")):
        scores = H.notes_key_scores(_melody(tune))
        assert H.MADMOM_KEYS[int(np.argmax(scores))] == key
    assert not H.notes_key_scores(_melody([60, 67] * 10)).any()  # a drone and its fifth: no scale, no vote
    assert not H.notes_key_scores([]).any()


def test_a_tonal_tune_names_the_key_the_cnn_is_unsure_of():
    flat = np.full(24, 1 / 24)  # the CNN hears no key (entropy 1)
    assert H.estimate_key(flat, []).label is None
    assert H.estimate_key(flat, [], notes=_melody(D_MINOR_TUNE)).label == "D minor"
    assert H.estimate_key(flat, [], notes=_melody(D_MINOR_TUNE[:8])).label is None  # too few notes to name it
    # a sure CNN is not overruled by a weaker profile: C major posterior, a tune that leans to A minor
    sure = np.full(24, 0.002)
    sure[H.key_index(0, False)] = 1 - 23 * 0.002
    tune = [57, 60, 64, 62, 60, 59, 57, 60, 64, 67, 65, 64, 62, 60]
    assert H.estimate_key(sure, [], notes=_melody(tune)).label == "C major"


def test_the_bass_line_is_the_lowest_sounding_note_by_duration():
    from j2a.analysis.schema import NoteEvent

    # a held A2 under a tune, then C3 alone; G3 overlaps the C3 and is never the lowest; a gap counts nothing
    events = [NoteEvent(0.0, 2.0, 45, 0.8), NoteEvent(0.5, 1.5, 72, 0.8), NoteEvent(2.0, 3.0, 48, 0.8)]
    events += [NoteEvent(2.5, 3.5, 55, 0.8), NoteEvent(4.0, 4.5, 52, 0.8)]
    hist = H.bass_pitch_classes(events)
    assert hist[9] == pytest.approx(2.0) and hist[0] == pytest.approx(1.0)  # A, C
    assert hist[7] == pytest.approx(0.5) and hist[4] == pytest.approx(0.5)  # G once C3 ends, E
    assert hist.sum() == pytest.approx(4.0)
    assert not H.bass_pitch_classes([]).any()


def test_the_bass_tells_a_minor_key_from_its_relative_major():
    from j2a.analysis.schema import NoteEvent

    # upper voices on C major's notes; under them, a bass line on A and E (A minor) or on C and G (C major)
    mel = [72, 71, 72, 74, 76, 74, 72, 67, 72, 71, 72, 74, 76, 79, 76, 72, 69, 67, 65, 64]
    upper = [NoteEvent(i * 0.5, (i + 1) * 0.5, p, 0.8) for i, p in enumerate(mel)]
    inner = [(64, 60), (67, 64), (64, 60), (65, 62), (64, 60)]
    upper += [NoteEvent(i * 2.0, (i + 1) * 2.0, p, 0.8) for i, pair in enumerate(inner) for p in pair]
    assert H.MADMOM_KEYS[int(np.argmax(H.notes_key_scores(upper)))] == "C major"
    flat = np.full(24, 1 / 24)
    for line, key in (
        ([45, 52, 45, 48, 45, 52, 50, 52, 45, 45], "A minor"),
        ([48, 55, 48, 52, 48, 55, 53, 55, 48, 48], "C major"),
    ):
        bass = [NoteEvent(i * 1.0, (i + 1) * 1.0, p, 0.8) for i, p in enumerate(line)]
        assert H.MADMOM_KEYS[int(np.argmax(H.bass_key_scores(upper + bass)))] == key
        assert H.estimate_key(flat, [], notes=upper + bass).label == key


def test_own_viterbi_is_madmoms_crf(synth_harmony, audio_dir):
    """decode_chords runs the CRF's Viterbi itself (so the notes can join its frame scores): the same path as madmom's
    ConditionalRandomField.process, on a synthetic and a real clip."""
    crf = H._models()["crf"]
    for feats in (synth_harmony[0].feats, H.extract(open_audio(audio_dir / "pistachio_ragtime.ogg"))[0]):
        assert np.array_equal(H._viterbi(crf, feats @ crf.W), crf.process(feats))


def _notes(chords, voices=3.0, step=1.0):
    from j2a.analysis.schema import NoteEvent, Notes

    ev = [NoteEvent(i * step, (i + 1) * step, p, 0.8) for i, ch in enumerate(chords) for p in ch]
    return Notes(count=len(ev), events=ev, voices=voices)


def test_notes_chord_scores_favour_the_triad_that_sounds():
    c_major, a_minor_7 = (48, 52, 55, 60), (45, 48, 52, 55)  # C E G C; A C E G (fits A minor and C major alike)
    s = H.notes_chord_scores(_notes([c_major, a_minor_7, (60,)]).events, 40)  # 10 frames a second
    c, am, n = H.key_index(0, False), H.key_index(9, True), 24  # the CRF's states share the key order: C:maj, A:min, N
    assert int(np.argmax(s[5, :24])) == c and s[5, c] > 0
    assert s[15, c] == pytest.approx(s[15, am])  # three of four notes each
    assert s[5, n] == s[5, :24].max()  # "no chord" keeps its place against the best triad
    assert not s[25].any() and not s[30:].any()  # one pitch class, then silence: no say


def test_the_notes_re_rank_the_chords_where_notes_sound_together(synth_harmony):
    h, spec = synth_harmony  # C F G C, one chord a bar
    bars = int(spec.duration_s // spec.bar_s)
    a_minor = [(57, 60, 64)] * bars  # notes that say A minor all along, against the features' C F G C
    strong = H.HarmonyConfig(chord_notes_weight=50.0)
    heard = H.decode_chords(h.feats, spec.duration_s, notes=_notes(a_minor, step=spec.bar_s), cfg=strong)
    assert _label_at(heard, 0.5 * spec.bar_s) == "A:min"  # C major's bar: A minor shares two of its notes
    assert {c.label for c in heard} <= {"A:min", "N"}  # F, G: the notes deny them; what the notes say, or no chord
    # a single line's overlapping notes are no chord: the features decide, as without notes
    single = H.decode_chords(h.feats, spec.duration_s, notes=_notes(a_minor, voices=1.1, step=spec.bar_s), cfg=strong)
    assert [c.label for c in single] == [c.label for c in h.chords]
    # the default weight keeps the features' chords where they are clear and the notes agree
    agree = [(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)] * (bars // 4 + 1)
    same = H.decode_chords(h.feats, spec.duration_s, notes=_notes(agree[:bars], step=spec.bar_s))
    assert [_label_at(same, (i + 0.5) * spec.bar_s) for i in range(4)] == ["C:maj", "F:maj", "G:maj", "C:maj"]


def test_the_notes_never_make_a_chord_of_no_chord():
    rng = np.random.default_rng(0)
    y = 0.01 * rng.standard_normal(44100 * 6)  # quiet noise: the CRF hears no chord
    feats, _ = H.extract(open_audio(y, 44100))
    plain = H.decode_chords(feats, 6.0)
    assert {c.label for c in plain} == {"N"}
    triads = _notes([(48, 52, 55)] * 6)
    assert {
        c.label for c in H.decode_chords(feats, 6.0, notes=triads, cfg=H.HarmonyConfig(chord_notes_weight=50.0))
    } == {"N"}


def test_atonal_clusters_get_no_key_from_their_notes_either():
    from j2a.features import notes as N

    audio = open_audio(_clusters(3), 44100)
    h = H.analyze_harmony(audio)
    events = N.analyze_notes(audio).events
    assert len(events) >= 12 and H.notes_key_scores(events).max() < H.HarmonyConfig().notes_gate
    assert H.estimate_key(np.array(h.key_probs), h.chords, notes=events).label is None


def test_cadence_breaks_a_tie_between_tonic_and_dominant():
    # a CNN posterior split between C major and its dominant G major; a timeline ending V-I in C
    probs = np.full(24, 0.01)
    probs[H.key_index(0, False)] = probs[H.key_index(7, False)] = 0.39
    probs /= probs.sum()
    seq = ["C:maj", "A:min", "D:maj", "G:maj", "C:maj", "F:maj", "G:maj", "C:maj"]
    chords = [H.Chord(i * 2.0, i * 2.0 + 2.0, lab) for i, lab in enumerate(seq)]
    assert H.estimate_key(probs, chords).label == "C major"
    assert H.estimate_key(probs, chords, H.HarmonyConfig(refine_key=False)).label in ("C major", "G major")
    # the same posterior with the timeline ending on G names G major: the chords decide, not a bias
    assert H.estimate_key(probs, chords[:4]).label == "G major"


@pytest.mark.slow
def test_torch_port_matches_madmom_processors(audio_dir):
    """J2A runs madmom's own networks through torch; outputs equal madmom's processors."""
    from j2a.features.madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.chords import CNNChordFeatureProcessor
    from madmom.features.key import CNNKeyRecognitionProcessor

    y = open_audio(audio_dir / "madmom_sample.wav").load(44100)[: int(1.5 * 44100)]  # madmom is slow: 1.5 s
    feats, probs = H.extract(open_audio(y, 44100))
    ref_feats = CNNChordFeatureProcessor()(y)
    ref_probs = CNNKeyRecognitionProcessor()(y).reshape(-1)
    assert feats.shape == ref_feats.shape
    np.testing.assert_allclose(feats, ref_feats, atol=1e-4)
    np.testing.assert_allclose(probs, ref_probs, atol=1e-4)


@pytest.mark.slow
def test_chunked_features_equal_whole_signal(audio_dir, monkeypatch):
    """Block-wise processing (for bounded memory) stitches to the same features as one pass."""
    a = open_audio(audio_dir / "cuidado_falla_cancion.flac")  # 20 s
    whole, _ = H._block_features(a.load(44100))
    monkeypatch.setattr(H, "CHUNK_S", 8.0)  # 20 s in 5 overlapping blocks
    chunked, probs = H.extract(a)
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-4)
    assert probs.shape == (24,) and abs(probs.sum() - 1) < 1e-6
