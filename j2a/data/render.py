"""Render real compositions from the music21 corpus to audio, with truth taken from the score.

Why: key, chord, beat and meter accuracy need music whose answers are known. Scores give them
exactly: the tempo is ours (we choose it), beats and downbeats follow from the bars (pickup bars
included), the key from the key signature, chords from the notes. fluidsynth renders each piece with
a General MIDI soundfont (Debian's FluidR3), with the tempo, instrument and soundfont chosen per
piece from a seeded random generator, so a set is reproducible.

Truth per piece (JAMS, validated against the JAMS schema):
- tempo: the chosen BPM of the time signature's beat (quarter in 4/4 and 3/4, dotted quarter in 6/8);
  the render is metronomic (fermatas are not held), so beats are exact.
- beats / downbeats: `beat` and `beat_position` annotations (position 1 = downbeat). A pickup bar
  (music21's `paddingLeft`) starts mid-bar: its first note falls on the beat it is written on, and it
  has no downbeat.
- meter: the first time signature ("4/4"); `sandbox.meter_changes` lists later ones.
- key (`key_mode`): the *notated* key. The tonic is the pitch class of the final bass note (tonal
  pieces end on the tonic): the bass part's last note, so a cello that stops a beat before the
  violins still counts; the mode is major when the key signature's scale holds the major third
  above that tonic, else minor (so a chorale in G minor notated with one flat is G minor, and a
  Picardy-third ending does not make a minor piece major). `sandbox.key_modal` is true when the
  tonic is none of the signature's major or relative-minor tonic, nor the Baroque Dorian-signature
  minor (G minor with one flat) — e.g. Phrygian chorales ending on E with no sharps, and pieces ending
  on the dominant of their signature's major key (G with no sharps), which is a Mixolydian melody or
  a piece whose notation stops on its dominant (an exposition, a da capo aria, a movement that runs
  attacca into the next): those keys are doubtful and the benchmark reports them apart.
- chords (`chord`, annotator "music21 chordify"): every vertical slice of the score named by the
  triad / seventh template that explains most of its pitch classes (non-chord tones dropped; a slice
  that fits no chord continues the previous chord); Harte labels (maj, min, dim, aug, 7, maj7, min7,
  hdim7, dim7), all reducible to mir_eval's majmin / sevenths vocabularies.
- for the 20 chorales music21 ships a human Roman-numeral analysis of (Tymoczko et al., rntxt), a
  second `chord` annotation from it (annotator "human roman-numeral analysis") and `chord_roman`.

DIR/manifest.jsonl: one row per piece {audio, text (a factual caption built only from the truth),
truth {...}}; captions never say more than the truth holds.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..theory import CHORD_TONES, NAMES

SCORE_FORMATS = (".mxl", ".xml", ".musicxml", ".krn")  # preferred first where a piece comes in several
SOUNDFONT_DIRS = ["/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts"]
SR = 44100

# instrument families: (caption phrase, GM programs for the voices from top to bottom)
FAMILIES = {
    "strings": ("a string ensemble", [40, 40, 41, 42]),  # violin, violin, viola, cello
    "string_pad": ("a string orchestra", [48, 48, 48, 48]),
    "organ": ("a church organ", [19, 19, 19, 19]),
    "piano": ("a piano", [0, 0, 0, 0]),
    "choir": ("a synthesised choir", [52, 52, 52, 52]),
    "brass": ("a brass ensemble", [56, 56, 60, 57]),  # trumpet, trumpet, horn, trombone
    "woodwinds": ("a woodwind quartet", [73, 68, 71, 70]),  # flute, oboe, clarinet, bassoon
}
OTHER_COMPOSERS = [
    "handel",
    "haydn",
    "mozart",
    "beethoven",
    "schubert",
    "schumann_robert",
    "chopin",
    "joplin",
    "corelli",
    "monteverdi",
    "palestrina",
    "weber",
    "cpebach",
]
# (quality, intervals above the root), most specific first
_TEMPLATES = [(q, CHORD_TONES[q]) for q in ("7", "maj7", "min7", "hdim7", "dim7", "maj", "min", "dim", "aug")]


@dataclass
class RenderConfig:
    corpus: str = "bach"  # "bach" (chorales) or "all" (chorales plus other composers' pieces)
    bpm_range: tuple[float, float] = (56.0, 144.0)
    max_measures: int = 40  # longer pieces are cut to their first bars (keeps a 50-piece set fast)
    max_file_kb: int = 150  # skip huge scores (symphonies): parsing them costs minutes
    audio_format: str = "flac"
    gain: float = 0.5
    workers: int = 2
    renditions: int = 1  # renderings per score: same instruments, another soundfont and tempo (similarity truth)


@dataclass
class Piece:
    source: str  # corpus path relative to music21's corpus folder
    bpm: float
    family: str
    soundfont: str
    seed: int
    rendition: int = 0  # 0 = the first rendering of this score
    parts: tuple[int, ...] | None = None  # only these parts of the score (0 = the top voice); None = all of them
    truth: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------- choosing pieces
def soundfonts() -> list[str]:
    """General MIDI soundfonts installed on this machine (deduplicated by real path)."""
    seen, out = set(), []
    for d in SOUNDFONT_DIRS:
        for p in sorted(Path(d).glob("*.sf[23]")) if Path(d).is_dir() else []:
            real = os.path.realpath(p)
            if real not in seen and os.path.exists(real):
                seen.add(real)
                out.append(str(p))
    if not out:
        raise RuntimeError(f"no soundfont found in {SOUNDFONT_DIRS} (install fluidr3-gm-soundfont: scripts/setup.sh)")
    return out


def candidate_scores(corpus: str = "bach", max_file_kb: int = 150) -> list[str]:
    """Score files in music21's corpus, as paths relative to the corpus folder (sorted, stable)."""
    from music21 import corpus as m21corpus

    root = Path(m21corpus.__file__).parent
    composers = ["bach"] + (OTHER_COMPOSERS if corpus == "all" else [])
    if corpus not in ("bach", "all"):
        raise ValueError(f"unknown corpus {corpus!r} (use bach or all)")
    out = []
    for comp in composers:
        for p in m21corpus.getComposer(comp):
            p = Path(p)
            if p.suffix not in SCORE_FORMATS or p.stat().st_size > max_file_kb * 1024:
                continue
            out.append(str(p.relative_to(root)))
    # one score per piece: music21 ships some in two formats (beethoven/opus18no1/movement4 as .krn and .mxl),
    # which would render to the same file name
    by_piece: dict[str, str] = {}
    for path in sorted(set(out), key=lambda p: (p.rsplit(".", 1)[0], SCORE_FORMATS.index(Path(p).suffix))):
        by_piece.setdefault(path.rsplit(".", 1)[0], path)
    return sorted(by_piece.values())


def plan(n: int, seed: int = 0, cfg: RenderConfig | None = None) -> list[Piece]:
    """Choose n pieces and, per piece, tempo, instrument family and soundfont (seeded)."""
    cfg = cfg or RenderConfig()
    rng = random.Random(seed)
    pool = candidate_scores(cfg.corpus, cfg.max_file_kb)
    if n > len(pool):
        raise ValueError(f"asked for {n} pieces but the {cfg.corpus} corpus has {len(pool)} usable scores")
    # round-robin over composers (each shuffled), so "all" is not dominated by whoever has most files
    groups: dict[str, list[str]] = {}
    for path in pool:
        groups.setdefault(Path(path).parts[0], []).append(path)
    if len(groups) > 1:
        for g in groups.values():
            rng.shuffle(g)
    order = sorted(groups)
    if len(groups) > 1:
        rng.shuffle(order)
    picks = rng.sample(pool, n) if len(groups) == 1 else []
    while len(picks) < n:
        for comp in order:
            if groups[comp] and len(picks) < n:
                picks.append(groups[comp].pop())
    return pieces_for(picks, cfg, rng)


def pieces_for(sources: list[str], cfg: RenderConfig, rng: random.Random) -> list[Piece]:
    """A Piece per score (tempo, instruments and soundfont drawn from rng), each followed by its renditions."""
    fonts = soundfonts()
    pieces = [
        Piece(
            source=s,
            bpm=round(rng.uniform(*cfg.bpm_range)),
            family=rng.choice(sorted(FAMILIES)),
            soundfont=rng.choice(fonts),
            seed=rng.randrange(2**31),
        )
        for s in sources
    ]
    return [r for p in pieces for r in renditions(p, cfg, rng)]


def renditions(first: Piece, cfg: RenderConfig, rng: random.Random) -> list[Piece]:
    """`first` and cfg.renditions - 1 further renderings of its score: the same instruments played from another
    soundfont (where the machine has more than one) at a tempo 8-20% away, as another performance would be."""
    fonts = [f for f in soundfonts() if f != first.soundfont] or [first.soundfont]
    out = [first]
    for k in range(1, cfg.renditions):
        factor = rng.uniform(1.08, 1.2) ** rng.choice((-1, 1))
        bpm = min(max(round(first.bpm * factor), cfg.bpm_range[0]), cfg.bpm_range[1])
        out.append(
            replace(first, bpm=bpm, soundfont=fonts[(k - 1) % len(fonts)], seed=rng.randrange(2**31), rendition=k)
        )
    return out


# --------------------------------------------------------------------------------- score → truth
def chord_label(pcs: set[int], bass: int | None) -> str | None:
    """Harte label of a pitch-class set, or None when no template explains at least 2 of its notes.

    Each pitch class is tried as root; the template matching most notes wins (ties: fewer unexplained
    notes, then root = bass, then the more specific template). Non-chord tones are thus ignored.
    """
    best = None
    for root in sorted(pcs):
        rel = {(p - root) % 12 for p in pcs}
        for rank, (qual, ivs) in enumerate(_TEMPLATES):
            hit = rel & set(ivs)
            if not hit & {3, 4} or (len(ivs) == 4 and ivs[3] not in hit) or len(hit) < 2:
                continue  # a third must tell the quality; a seventh chord needs its seventh
            extra = len(rel - set(ivs))
            key = (len(hit) - extra, len(hit) - len(ivs), root == bass, -rank)
            if best is None or key > best[0]:
                best = (key, f"{NAMES[root]}:{qual}")
    return best[1] if best else None


def _measure_grid(score):
    """Measures of the top part: [(number, offset_ql, actual_ql, padding_left_ql, TimeSignature)]."""
    part = score.parts[0]
    out, ts = [], None
    for m in part.getElementsByClass("Measure"):
        ts = m.timeSignature or ts or m.getContextByClass("TimeSignature")
        pad = float(m.paddingLeft or 0.0)
        actual = float(m.duration.quarterLength)
        if not out and pad == 0 and ts is not None and actual < ts.barDuration.quarterLength - 1e-6:
            pad = ts.barDuration.quarterLength - actual  # unmarked pickup
        out.append((m.number, float(m.offset), actual, pad, ts))
    return out


def _beats(grid, spq: float):
    """Beat times (s), their bar positions, bar numbers and meters from the measure grid."""
    beats = []
    for num, off, actual, pad, ts in grid:
        bq = float(ts.beatDuration.quarterLength)
        nb = int(ts.beatCount)
        k = 0
        while True:
            pos_ql = k * bq - pad  # position relative to this measure's first written note
            if pos_ql >= actual - 1e-6:
                break
            if pos_ql >= -1e-6:
                beats.append(
                    {
                        "time": (off + pos_ql) * spq,
                        "position": k + 1,
                        "measure": int(num),
                        "num_beats": nb,
                        "beat_units": int(ts.denominator),
                    }
                )
            k += 1
    return beats


def _final_bass(score):
    """The bass part's final note: the lowest pitch among the last notes of the part that lies lowest on average,
    of the parts that play into the last two bars (a part that rests through the ending says nothing about it).
    Why the bass part and not whatever sounds last: a cello may stop a beat before the violins, and its final note
    may leap above the viola's. A score without parts is one part."""
    parts = list(getattr(score, "parts", [])) or [score]
    ends = []
    for part in parts:
        notes = list(part.flatten().notes)
        pitches = [p.ps for n in notes for p in n.pitches]
        if pitches:
            end = max(n.offset + n.quarterLength for n in notes)  # not highestTime: trailing rests
            final = [p for n in notes if n.offset + n.quarterLength >= end - 1e-6 for p in n.pitches]
            ends.append((end, sum(pitches) / len(pitches), final))
    if not ends:
        return None
    last_end = max(e for e, _, _ in ends)
    sigs = list(score.recurse().getElementsByClass("TimeSignature"))
    bar = float(sigs[-1].barDuration.quarterLength) if sigs else 4.0
    _, _, final = min((x for x in ends if x[0] >= last_end - 2 * bar), key=lambda x: x[1])
    return min(final, key=lambda p: p.ps)


def notated_key(score) -> dict:
    """Key from the key signature and the final bass note (see the module docstring)."""
    from music21 import key as m21key

    sigs = list(score.recurse().getElementsByClass("KeySignature"))
    sharps = int(sigs[0].sharps) if sigs else 0
    bass = _final_bass(score)
    major_tonic = m21key.KeySignature(sharps).asKey("major").tonic.pitchClass
    scale_pcs = {(major_tonic + i) % 12 for i in (0, 2, 4, 5, 7, 9, 11)}
    if bass is None:
        raise ValueError("score has no final note")
    tonic_pc = bass.pitchClass
    mode = "major" if (tonic_pc + 4) % 12 in scale_pcs else "minor"
    k = m21key.Key(bass.name, mode)  # spelled as the score spells the bass
    name = k.tonic.name.replace("-", "b")
    if len(name) > 2:  # double sharps/flats: respell
        name = NAMES[tonic_pc]
    # The Baroque "Dorian" signature (minor, one flat fewer) is an ordinary notation of a tonal key; any
    # other tonic is flagged modal: the notated key is then doubtful. That includes a major ending a fifth
    # above the signature's major tonic: in the 100 scores of the search set (bench/RESULTS.md, "Search
    # quality") that was 5 Renaissance Mixolydian pieces and 4 whose notation stops on the dominant (an
    # exposition, a da capo aria, two movements that run on into the next), none a tonal key written one
    # sharp short.
    tonal = {(major_tonic, "major"), ((major_tonic + 9) % 12, "minor"), ((major_tonic + 2) % 12, "minor")}
    modal = (tonic_pc, mode) not in tonal
    return {"tonic": name, "mode": mode, "label": f"{name} {mode}", "key_signature_sharps": sharps, "key_modal": modal}


def score_chords(score, spq: float) -> list[dict]:
    """Chord timeline from music21's chordify, merged; times in seconds."""
    out = []
    cs = score.chordify()
    for c in cs.recurse().getElementsByClass("Chord"):
        start = float(c.getOffsetInHierarchy(cs))
        pcs = {p.pitchClass for p in c.pitches}
        label = chord_label(pcs, c.bass().pitchClass if c.pitches else None)
        if label is None:
            label = out[-1]["label"] if out else "N"
        end = start + float(c.quarterLength)
        if out and out[-1]["label"] == label and abs(out[-1]["end"] - start * spq) < 1e-6:
            out[-1]["end"] = end * spq
        else:
            out.append({"start": start * spq, "end": end * spq, "label": label})
    return out


def roman_chords(source: str, grid, spq: float, end_s: float) -> list[dict] | None:
    """Human Roman-numeral analysis for this chorale, if music21 ships one: Harte + roman labels."""
    from music21 import corpus as m21corpus

    bwv = Path(source).stem.replace("bwv", "")
    rn_files = _rntxt_index()
    if bwv not in rn_files:
        return None
    rn = m21corpus.parse(rn_files[bwv])
    starts = {num: off for num, off, _, _, _ in grid}
    out = []
    for r in rn.recurse().getElementsByClass("RomanNumeral"):
        if r.measureNumber not in starts:
            continue
        t = (starts[r.measureNumber] + float(r.offset)) * spq
        pcs = {p.pitchClass for p in r.pitches}
        label = chord_label(pcs, r.bass().pitchClass) or "X"
        tonic = r.key.tonic.name.replace("-", "b") if r.key is not None else None
        out.append({"start": t, "label": label, "roman": r.figure, "tonic": tonic})
    out.sort(key=lambda x: x["start"])
    for a, b in zip(out, out[1:] + [None]):
        a["end"] = b["start"] if b else end_s
    return [c for c in out if c["end"] > c["start"]]


_RN_INDEX: dict[str, str] = {}


def _rntxt_index() -> dict[str, str]:
    """BWV number → shipped rntxt analysis (read from each file's 'BWV:' header line)."""
    if not _RN_INDEX:
        from music21 import corpus as m21corpus

        root = Path(m21corpus.__file__).parent
        for p in sorted((root / "bach" / "choraleAnalyses").glob("*.rntxt")):
            for line in p.read_text(errors="replace").splitlines()[:10]:
                if line.startswith("BWV:"):
                    _RN_INDEX[line.split(":", 1)[1].strip()] = str(p)
    return _RN_INDEX


def analysed_chorales() -> list[str]:
    """Corpus paths of the chorales with a shipped human Roman-numeral analysis."""
    have = set(candidate_scores("bach", 10**6))
    out = [f"bach/bwv{b}.mxl" for b in _rntxt_index()]
    return [p for p in out if p in have]


# ------------------------------------------------------------------------------------- rendering
def _load_score(source: str, max_measures: int):
    from music21 import corpus as m21corpus

    s = m21corpus.parse(source)
    if hasattr(s, "scores"):  # an Opus: take its first score
        s = s.scores[0]
    full_key = notated_key(s)
    n_measures = len(s.parts[0].getElementsByClass("Measure"))
    if n_measures > max_measures:
        first = s.parts[0].getElementsByClass("Measure")[0].number
        s = s.measures(first, first + max_measures - 1)
    return s.stripTies(), full_key, n_measures > max_measures


def _write_midi(score, path: str, spq: float, programs: list[int]) -> float:
    """One GM track per part (program by voice), metronomic timing; returns the last note-off (s)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=60.0 / spq)
    end = 0.0
    for i, part in enumerate(score.parts):
        prog = programs[min(i, len(programs) - 1)]
        inst = pretty_midi.Instrument(program=prog, name=f"voice{i}")
        for n in part.flatten().notes:
            if n.quarterLength <= 0:
                continue  # grace notes
            s, e = (
                float(n.getOffsetInHierarchy(score)) * spq,
                float(n.getOffsetInHierarchy(score) + n.quarterLength) * spq,
            )
            for p in n.pitches:
                inst.notes.append(pretty_midi.Note(velocity=80, pitch=int(p.midi), start=s, end=e - 0.01))
            end = max(end, e)
        pm.instruments.append(inst)
    pm.write(path)
    return end


def _fluidsynth(midi: str, wav: str, soundfont: str, gain: float) -> None:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RuntimeError("fluidsynth not found (install it: scripts/setup.sh)")
    cmd = [exe, "-ni", "-q", "-g", str(gain), "-r", str(SR), "-F", wav, "-T", "wav", soundfont, midi]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(wav):
        raise RuntimeError(f"fluidsynth failed on {midi}: {r.stderr.strip()[:200]}")


def tempo_class(bpm: float) -> str:
    return "slow" if bpm < 76 else "medium" if bpm <= 120 else "fast"


def render_piece(piece: Piece, out_dir: str | Path, cfg: RenderConfig | None = None) -> dict:
    """Render one piece: audio + JAMS truth in out_dir; returns its manifest row."""
    import soundfile as sf

    cfg = cfg or RenderConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    score, key, excerpt = _load_score(piece.source, cfg.max_measures)
    programs = FAMILIES[piece.family][1]
    if piece.parts is not None:  # a single line (or a few): each part keeps its instrument from the full score
        programs = [programs[min(i, len(programs) - 1)] for i in piece.parts]
        for i, part in reversed(list(enumerate(score.parts))):
            if i not in piece.parts:
                score.remove(part)
    grid = _measure_grid(score)
    ts0 = grid[0][4]
    spb = 60.0 / piece.bpm  # seconds per beat
    spq = spb / float(ts0.beatDuration.quarterLength)
    stem = f"{Path(piece.source).parent.name}_{Path(piece.source).stem}".replace(".", "-")
    stem += f"_r{piece.rendition}" if cfg.renditions > 1 else ""
    stem += "_part" + "-".join(map(str, piece.parts)) if piece.parts is not None else ""
    audio_path = out_dir / f"{stem}.{cfg.audio_format}"
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = os.path.join(tmp, "p.mid"), os.path.join(tmp, "p.wav")
        notes_end = _write_midi(score, midi, spq, programs)
        _fluidsynth(midi, wav, piece.soundfont, cfg.gain)
        y, sr = sf.read(wav, dtype="float32")
    y = y.mean(axis=1) if y.ndim == 2 else y
    sf.write(audio_path, y, sr)
    duration = len(y) / sr
    beats = [b for b in _beats(grid, spq) if b["time"] < notes_end - 1e-6]
    chords = score_chords(score, spq)
    roman = roman_chords(piece.source, grid, spq, notes_end) if not excerpt else None
    meters = [g[4].ratioString for g in grid]
    composer = Path(piece.source).parts[0]
    truth = {
        "key": key["label"],
        "tonic": key["tonic"],
        "mode": key["mode"],
        "key_signature_sharps": key["key_signature_sharps"],
        "key_modal": key["key_modal"],
        "tempo_bpm": float(piece.bpm),
        "tempo_class": tempo_class(piece.bpm),
        "meter": meters[0],
        "beats_per_bar": int(ts0.beatCount),
        "instrument_family": piece.family,
        "instrument": FAMILIES[piece.family][0],
        "programs": FAMILIES[piece.family][1],
        "soundfont": Path(piece.soundfont).name,
        "composer": composer,
        "chorale": composer == "bach" and len(score.parts) == 4,
        "source": piece.source,
        "rendition": piece.rendition,
        "parts": list(piece.parts) if piece.parts is not None else None,
        "excerpt": excerpt,
        "duration_s": round(duration, 3),
        "has_roman_analysis": roman is not None,
    }
    jam = _jams(truth, beats, chords, roman, duration, meters)
    jam_path = out_dir / f"{stem}.jams"
    jam.save(str(jam_path))
    truth["jams"] = jam_path.name
    return {"audio": str(audio_path), "text": caption(truth), "truth": truth}


def _jams(truth, beats, chords, roman, duration, meters):
    import jams

    jam = jams.JAMS()
    jam.file_metadata.duration = duration
    jam.file_metadata.title = truth["source"]
    jam.file_metadata.artist = truth["composer"]
    jam.sandbox.update(
        meter=truth["meter"],
        meter_changes=sorted(set(meters) - {truth["meter"]}),
        key_signature_sharps=truth["key_signature_sharps"],
        key_modal=truth["key_modal"],
        instrument_family=truth["instrument_family"],
        programs=truth["programs"],
        soundfont=truth["soundfont"],
        excerpt=truth["excerpt"],
    )
    meta = dict(data_source="score (music21 corpus)", curator=jams.Curator(name="j2a data render"))

    def ann(ns, annotator="score"):
        a = jams.Annotation(
            namespace=ns,
            time=0,
            duration=duration,
            annotation_metadata=jams.AnnotationMetadata(annotator={"name": annotator}, **meta),
        )
        jam.annotations.append(a)
        return a

    ann("tempo").append(time=0.0, duration=duration, value=truth["tempo_bpm"], confidence=1.0)
    ann("key_mode").append(time=0.0, duration=duration, value=f"{truth['tonic']}:{truth['mode']}", confidence=1.0)
    bt, bp = ann("beat"), ann("beat_position")
    for b in beats:
        bt.append(time=b["time"], duration=0.0, value=b["position"], confidence=1.0)
        bp.append(
            time=b["time"],
            duration=0.0,
            confidence=1.0,
            value={k: b[k] for k in ("position", "measure", "num_beats", "beat_units")},
        )
    ch = ann("chord", "music21 chordify")
    for c in chords:
        ch.append(time=c["start"], duration=c["end"] - c["start"], value=c["label"], confidence=1.0)
    if roman:
        hr = ann("chord", "human roman-numeral analysis")
        rr = ann("chord_roman", "human roman-numeral analysis")
        for c in roman:
            hr.append(time=c["start"], duration=c["end"] - c["start"], value=c["label"], confidence=1.0)
            fig = _roman_for_jams(c["roman"])
            if fig and c["tonic"]:
                rr.append(
                    time=c["start"],
                    duration=c["end"] - c["start"],
                    confidence=1.0,
                    value={"tonic": c["tonic"], "chord": fig},
                )
    jam.validate()
    return jam


def _roman_for_jams(fig: str) -> str | None:
    """Map a music21 figure ('V6/5', 'viio7', 'ii/o7') to the JAMS chord_roman pattern, or None."""
    import re

    f = fig.replace("/o", "h").replace("ø", "h").replace("°", "o")
    f = re.sub(r"(\d)/(\d)", r"\1\2", f)  # 6/5 -> 65
    m = re.fullmatch(
        r"([b#]?(?:VII|vii|VI|vi|IV|iv|V|v|III|iii|II|ii|I|i))([osdhx+]?)(\d{0,2})(?:/([b#]?(?:VII|vii|VI|vi|IV|iv|V|v|III|iii|II|ii|I|i)))?",
        f,
    )
    if not m:
        return None
    return f"{m.group(1)}{m.group(2)}{m.group(3)}" + (f"/{m.group(4)}" if m.group(4) else "")


def caption(t: dict) -> str:
    """A factual one-sentence caption built only from the truth."""
    who = (
        "A Bach chorale"
        if t.get("chorale")
        else "A piece by Bach"
        if t["composer"] == "bach"
        else f"A piece by {t['composer'].split('_')[0].capitalize()}"
    )
    return f"{who} in {t['key']} played by {t['instrument']} at {t['tempo_bpm']:g} BPM in {t['meter']}."


# --------------------------------------------------------------------------------------- the set
def _render_job(args):
    import resource

    piece, out_dir, cfg = args
    t, c = time.perf_counter(), _cpu_s(resource)
    try:
        row = render_piece(piece, out_dir, cfg)
        row["truth"]["render_s"] = round(time.perf_counter() - t, 2)
        row["truth"]["render_cpu_s"] = round(_cpu_s(resource) - c, 2)  # this process + fluidsynth
        return row, None
    except Exception as e:  # one bad score must not stop the set
        return None, f"{piece.source}: {type(e).__name__}: {e}"


def _cpu_s(resource) -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def render_set(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    corpus: str = "bach",
    workers: int = 2,
    cfg: RenderConfig | None = None,
    progress: bool = False,
    sources: list[str] | None = None,
) -> list[dict]:
    """Render n pieces into out_dir (audio + .jams each) and write out_dir/manifest.jsonl.

    Pieces that fail to parse or render are reported on stderr and replaced by further picks, so
    the set has n pieces whenever the corpus allows. `sources` (corpus paths such as
    "bach/bwv269.mxl") renders those pieces, in order, instead of a random pick.
    """
    import sys
    from concurrent.futures import ProcessPoolExecutor

    cfg = cfg or RenderConfig(corpus=corpus, workers=workers)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pool_size = len(candidate_scores(cfg.corpus, cfg.max_file_kb)) if not sources else 0
    scores = -(-n // max(1, cfg.renditions))
    pieces = plan(min(pool_size, scores + max(4, scores // 5)), seed, cfg) if not sources else []  # spares
    if sources:
        pieces = pieces_for(sources, cfg, random.Random(seed))
        n = len(pieces)
    rows: list[dict] = []
    todo = iter(pieces)
    with ProcessPoolExecutor(max_workers=max(1, cfg.workers)) as ex, open(out_dir / "manifest.jsonl", "w") as f:
        while len(rows) < n:
            batch = [p for _, p in zip(range(n - len(rows)), todo)]
            if not batch:
                break
            for row, err in ex.map(_render_job, [(p, out_dir, cfg) for p in batch]):
                if err:
                    print(f"skipped {err}", file=sys.stderr)
                    continue
                rows.append(row)
                f.write(json.dumps(row) + "\n")
                f.flush()
                if progress:
                    print(f"[{len(rows)}/{n}] {row['audio']}", file=sys.stderr)
    if len(rows) < n:
        print(f"warning: only {len(rows)} of {n} pieces rendered", file=sys.stderr)
    return rows


def add_cli(data_subparsers) -> None:
    from ..cli import sub

    p = sub(
        data_subparsers,
        "render",
        "render real compositions (music21 corpus) to audio with truth (JAMS)",
        "j2a data render --out rendered --n 50 --seed 0 --corpus bach\n"
        "j2a data render --out search-set --n 200 --renditions 2 --corpus all   # truth for j2a eval search",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (audio, .jams, manifest.jsonl)")
    p.add_argument("--n", type=int, default=10, help="number of pieces (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed for pieces, tempi, instruments (default: 0)")
    p.add_argument(
        "--corpus", choices=["bach", "all"], default="bach", help="Bach chorales only, or other composers too"
    )
    p.add_argument("--workers", "-j", type=int, default=2, help="parallel render processes (default: 2)")
    p.add_argument("--format", choices=["flac", "wav"], default="flac", help="audio format (default: flac)")
    p.add_argument(
        "--renditions",
        type=int,
        default=1,
        metavar="K",
        help="render each score K times (another soundfont, a tempo 8-20%% away): truth for `j2a eval search` "
        "similarity queries (default: %(default)s)",
    )
    p.set_defaults(func=_cli)


def _cli(a) -> int:
    import sys

    if a.n < 1:
        print("error: --n must be at least 1", file=sys.stderr)
        return 2
    t = time.perf_counter()
    cfg = RenderConfig(corpus=a.corpus, workers=a.workers, audio_format=a.format, renditions=max(1, a.renditions))
    rows = render_set(a.out, a.n, seed=a.seed, cfg=cfg, progress=sys.stderr.isatty())
    print(
        f"rendered {len(rows)} pieces to {a.out} in {time.perf_counter() - t:.1f} s ({Path(a.out) / 'manifest.jsonl'})",
        file=sys.stderr,
    )
    return 0 if len(rows) == a.n else 1
