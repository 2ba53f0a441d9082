"""Evidence: whether the analysis backs a claim, and with what (a tag and its score, a measured fact).

A claim is supported when one of its concept's support alternatives holds in the analysis; a negated
claim ("no drums") when a tagger that can hear the thing lists none of it. Non-music supports no musical claim.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..analysis.schema import CHORDAL_VOICES
from ..theory import same_key
from .claims import Claim, extract_claims
from .concepts import (
    BAND_TAGS,
    BEAT_STYLES,
    DRUM_TAGS,
    MOOD_TAGS,
    NO_VOCAL_TAGS,
    NOT_A_VENUE,
    VOCAL_TAGS,
    Concept,
    find_concept,
    support_tags,
)


@dataclass
class EvidenceConfig:
    """Numbers the guard uses; a dataclass so tests and callers can tighten them."""

    tag_min_score: float = 0.0  # listed tags already passed the tagger's threshold (j2a.features.tags)
    raw_tag_min_score: float | None = None  # raw scores: None = the tagger's own threshold
    bpm_tolerance: float = 0.04  # "120 BPM" is fine for 116..124
    slow_max_bpm: float = 95.0
    fast_min_bpm: float = 115.0
    medium_bpm: tuple[float, float] = (80.0, 135.0)
    word_bands: tuple[float, float] = (85.0, 125.0)  # words J2A itself writes: slow < 85 <= medium <= 125 < fast
    # E2: a transcribed note this low counts as a bass part. Not A2: a man's voice reaches A2, and a solo
    # singer tagged "rock" (vocadito_1) was given a bass guitar
    low_note_midi: int = 40
    guitar_low_midi: int = 38  # D2: a drop-D guitar's lowest string; only a bass (or a piano) goes lower
    # Prompt genres: only those within this fraction of the top genre's score. The tagger lists every genre
    # over its threshold, and the LLM would pick a weak runner-up as readily as the leader (Brahms'
    # Hungarian Dance, classical 0.67 / jazz 0.36, came out "a jazz instrumental"). The guard still accepts
    # any listed genre; this only chooses what the description leads with.
    genre_ratio: float = 0.6
    # A genre below this fused score is faint: it carries no instrument (_leading_styles_only) and no prompt
    # leads with it. Why: YAMNet's 'rock' at 0.15-0.23 on a solo cello and on Peking opera, musicnn's
    # 'indian' at 0.28 on flamenco singing (bench/describe_truth.py)
    genre_min: float = 0.3
    # A meter is stated only at this confidence or above. Why: on 124 rendered scores notated in 3/4 or 4/4
    # (bench/RESULTS.md, "When a description may state the meter"), meters at >= 0.9 were right 71 of 73 times;
    # below it a "3/4" was right 5 of 12 times and a "4/4" 32 of 39, no better than always guessing 4/4
    meter_min_confidence: float = 0.9
    # A runner-up key at least this likely is named beside the key (`key_runners_up`: `ask`, the web page). Why: J2A's
    # wrong keys are mostly a near neighbour (the relative or the dominant key); on the rendered search set 14 of its 52
    # wrong keys had a runner-up of 0.15 or more, in 10 of them the score's key (bench/RESULTS.md, "Key from the bass")
    key_runner_up_min: float = 0.15
    # A tempo is stated only where the notes show a pulse: at least this many transcribed notes (three intervals),
    # or a drum or other percussion heard. Why: a single held note has no tempo, yet the beat tracker always finds
    # one; the shared clips labelled as single notes were described "moving at about 63 / 66 / 121 BPM". No
    # clip with a tempo annotation has fewer notes and no percussion (bench/RESULTS.md, "A tempo needs a pulse").
    tempo_min_notes: int = 4
    # Chords are stated only where notes sound together: at least this many at once, on average, while any sounds,
    # a note's own overtones not counted (`Notes.voices`). Why: the chord model names a chord for any pitched sound,
    # so a solo singer was described "the chords move through Bb - D - F - G" and a held flute note "the harmony
    # holds on C". Single lines (sung, blown, bowed, one part of a rendered chorale) count 1.0-1.4 with a few up to
    # 1.9; a guitar, piano or ensemble 1.5-2.8 (bench/RESULTS.md, "Chords need two notes at once"). 1.5 is halfway.
    chords_min_voices: float = CHORDAL_VOICES
    # Nothing is said to be absent ("instrumental", "no drums") from a clip shorter than this: one musicnn patch.
    # Why: on a 2-s excerpt of Carnatic singing neither tagger heard the voice (YAMNet: "electric shaver" 0.44), and
    # the description called it "an instrumental". A tagger that heard too little says nothing of what is missing.
    absence_min_s: float = 3.0


CFG = EvidenceConfig()


def norm_tag(label: str) -> str:
    """Tag names compare lower-case, without a model prefix ('msd:Hip-Hop' -> 'hip-hop')."""
    return label.split(":")[-1].strip().lower()


def tag_scores(analysis) -> dict[str, float]:
    """Every raw tag score in the analysis (max over models when two models share a tag)."""
    out: dict[str, float] = {}
    tags = getattr(analysis, "tags", None)
    if tags is None:
        return out
    for k, v in (tags.scores or {}).items():
        k = norm_tag(k)
        out[k] = max(out.get(k, 0.0), float(v))
    for group in ("genre", "instrument", "mood", "vocals"):
        for t in getattr(tags, group) or []:
            k = norm_tag(t.label)
            out[k] = max(out.get(k, 0.0), float(t.score))
    return out


@functools.lru_cache(maxsize=1)
def _tagger_threshold() -> float:
    try:
        from ..features.tags import TagConfig

        return TagConfig().threshold
    except ImportError:
        return 0.2


def _tag_threshold(cfg: EvidenceConfig) -> float:
    return cfg.raw_tag_min_score if cfg.raw_tag_min_score is not None else _tagger_threshold()


def present_tags(analysis, cfg: EvidenceConfig = CFG) -> dict[str, float]:
    """The tags the analysis asserts, by name: the canonical tags its tagger listed (genre / instrument /
    mood / vocals) at or above the score a description may state (`fusion.Calibration.claim`: a listed
    instrument is what J2A may hear, a claimed one what it is sure of) and not a section member's echo
    (`fusion.echoes`), plus raw musicnn tags that no fused label stands for ("mtt:beat", "msd:80s") at or
    above the tagger's own threshold.

    Analyses written before the fusion (schema 1: tags without `sources`) keep their old reading: every
    listed tag, and every raw tag at the threshold."""
    tags = getattr(analysis, "tags", None)
    if tags is None or not getattr(analysis, "is_music", True):
        return {}
    from ..features.fusion import musicnn_sources, stated_labels

    groups = ("genre", "instrument", "mood", "vocals")
    fused = any(t.sources for g in groups for t in getattr(tags, g) or [])
    out: dict[str, float] = {}
    for group in groups:
        stated = stated_labels(tags, group) if fused else None
        for t in getattr(tags, group) or []:
            if t.score >= cfg.tag_min_score and (stated is None or t.label in stated):
                out[norm_tag(t.label)] = max(out.get(norm_tag(t.label), 0.0), float(t.score))
    if fused:
        out = _families_with_a_member(out)
    thr = _tag_threshold(cfg)
    skip = musicnn_sources() if fused else set()
    for k, v in (tags.scores or {}).items():
        if v >= thr and k not in skip:
            out[norm_tag(k)] = max(out.get(norm_tag(k), 0.0), float(v))
    return out


def leads(score: float, top: float, cfg: EvidenceConfig = CFG) -> bool:
    """Does a genre lead: at or above `cfg.genre_min`, and within `cfg.genre_ratio` of the top genre's score? Only
    a leading genre goes into the prompt (text.aspects) or stands for a part (_leading_styles_only)."""
    return score >= max(cfg.genre_min, cfg.genre_ratio * top)


def _leading_styles_only(analysis, tags: dict[str, float], cfg: EvidenceConfig) -> dict[str, float]:
    """The tags that may stand for a part: a style carries its parts (techno its drums and bass line, rock
    its bass line beside low notes) only when it `leads`. Why: YAMNet lists a faint "rock" (0.15) on a solo
    cello, a sung voice and an acoustic guitar, and it gave them "percussion", "bass line" and "e-guitar"
    (bench/describe_truth.py). And a beat style (techno, hip hop, dance, ...) carries its drums only where the rhythm
    analysis measured a steady pulse (a meter): a 3-s solo electric guitar tagged techno 0.35 came out with "the
    bass guitar is playing the notes of the chords". Schema-1 analyses keep every listed genre."""
    t = getattr(analysis, "tags", None)
    genres = getattr(t, "genre", None) or []
    if not any(g.sources for g in genres):
        return tags
    top = max((g.score for g in genres), default=0.0)
    weak = {norm_tag(g.label) for g in genres if not leads(g.score, top, cfg)}
    meter = getattr(analysis, "meter", None)
    if meter is None or not meter.label:  # a beat style's drums need the beat: no steady pulse was measured
        weak |= set(BEAT_STYLES)  # (the tags that name the drums themselves stay)
    return {k: v for k, v in tags.items() if k not in weak}


def _families_with_a_member(tags: dict[str, float]) -> dict[str, float]:
    """A broad family ("brass", "strings", "woodwinds", ...) is stated only beside a stated member: YAMNet
    puts "Brass instrument" on a tenor saxophone as readily as on a trumpet, and a family with no member
    heard is the taggers' guess at a timbre, not an instrument."""
    from ..features.fusion import FAMILIES

    return {k: v for k, v in tags.items() if k not in FAMILIES or FAMILIES[k] & set(tags)}


def stated_meter(analysis, cfg: EvidenceConfig = CFG) -> str | None:
    """The meter a description may state ("3/4"), or None when none was measured or its confidence is too low to
    be more than a guess (`EvidenceConfig.meter_min_confidence`). The analysis keeps the guess and its confidence:
    search ranks by it and `ask` gives it as a guess; only claims need it sure."""
    m = getattr(analysis, "meter", None)
    return m.label if m is not None and m.label and m.confidence >= cfg.meter_min_confidence else None


def key_fits(asked: str, label: str) -> bool:
    """Does the key `label` ("G minor") answer `asked`: a mode ("minor") or a key ("G minor", "F## minor")?"""
    return label.lower().endswith(asked) if asked in ("major", "minor") else same_key(asked, label)


def key_runners_up(analysis, cfg: EvidenceConfig = CFG) -> list[dict]:
    """The second and third key candidates ({label, score}) likely enough to name beside the key; [] with no key."""
    k = getattr(analysis, "key", None)
    if k is None or not k.label:
        return []
    return [c for c in (k.candidates or [])[1:3] if c["score"] >= cfg.key_runner_up_min]


def compound(analysis) -> bool:
    """Is the meter compound (6/8, 9/8: each beat divided in three)? Then no tempo word is said: a 6/8 at 80 BPM
    has its eighths at 240, and "slow" (the beat) and "fast" (the eighths) would each mislead."""
    m = getattr(analysis, "meter", None)
    return m is not None and (m.label or "").endswith("/8")


def bpm_of(analysis) -> float | None:
    """The measured tempo in BPM, or None."""
    t = getattr(analysis, "tempo", None)
    return float(t.bpm) if t is not None and t.bpm else None


def stated_bpm(analysis, cfg: EvidenceConfig = CFG) -> float | None:
    """The tempo a description may state, or None: none was measured, or the notes show no pulse to have one
    (`EvidenceConfig.tempo_min_notes`). An analysis made without the notes keeps its tempo. The analysis keeps the
    guess: search ranks by it and `ask` gives it as a guess."""
    bpm = bpm_of(analysis)
    notes = getattr(analysis, "notes", None)
    if bpm is None or notes is None or notes.count >= cfg.tempo_min_notes:
        return bpm
    from ..features.fusion import FAMILIES

    drums = FAMILIES["percussion"] | {"percussion"}
    listed = getattr(getattr(analysis, "tags", None), "instrument", None) or []
    return bpm if any(t.label in drums for t in listed) else None


def voices_heard(analysis) -> float | None:
    """Notes sounding at once on average (`Notes.voices`), or None where they were not counted: an analysis made
    without the notes, or before J2A counted them."""
    notes = getattr(analysis, "notes", None)
    return None if notes is None else notes.voices


def sounds_together(analysis, cfg: EvidenceConfig = CFG) -> bool:
    """Do notes sound together (`EvidenceConfig.chords_min_voices`), as chords or several players need? An analysis
    whose notes were not counted is not judged on it (True)."""
    v = voices_heard(analysis)
    return v is None or v >= cfg.chords_min_voices


def stated_chords(analysis, cfg: EvidenceConfig = CFG) -> list:
    """The chords a description may state: the analysis' chords where its notes sound together (`sounds_together`),
    else none. A single line only implies a harmony: `ask` gives its chords as implied."""
    if not sounds_together(analysis, cfg):
        return []
    return [c for c in getattr(analysis, "chords", None) or [] if c.label not in ("N", "X")]


def _fact(name: str, analysis, tags: dict[str, float], cfg: EvidenceConfig) -> str | None:
    """Evaluate an '@fact' support test; returns evidence text or None."""
    bpm = stated_bpm(analysis, cfg)
    if name == "@pitched":
        key = getattr(analysis, "key", None)
        chord = next((c.label for c in getattr(analysis, "chords", None) or [] if c.label not in ("N", "X")), None)
        return f"key {key.label}" if key is not None and key.label else f"chord {chord}" if chord else None
    if name == "@low_notes":
        notes = getattr(analysis, "notes", None)
        low = (notes.pitch_range or {}).get("low") if notes is not None and notes.pitch_range else None
        if not (low and low.get("midi") is not None and int(low["midi"]) <= cfg.low_note_midi):
            return None
        # Low notes alone are no bass player: a solo piano's left hand (pistachio_ragtime.ogg) or a guitar's
        # low strings get there too. Beside a drum part they stand for a bass part; beside a band style alone
        # only below a guitar's reach, since the taggers call a solo electric guitar "rock" (its low D and
        # "rock" 0.55 on msdb_electric-guitar_test-1 came out "the bass guitar is playing the notes of the chords").
        below_guitar = int(low["midi"]) < cfg.guitar_low_midi
        band = [f"'{t}' = {tags[t]:.2f}" for t in (BAND_TAGS if below_guitar else DRUM_TAGS) if t in tags]
        where = "below a guitar's reach" if below_guitar else "bass register"
        return (
            f"lowest transcribed note {low.get('name', low['midi'])} ({where}) with a rhythm section ({', '.join(band)})"
            if band
            else None
        )
    if name in ("@ensemble", "@chords"):  # several players, chords: notes sound together
        v = voices_heard(analysis)
        at_once = "notes at once not counted" if v is None else f"{v:.1f} notes at once"
        if name == "@ensemble":
            return at_once if sounds_together(analysis, cfg) else None
        chords = stated_chords(analysis, cfg)
        return f"{len(chords)} chord segments, {at_once}" if chords else None
    if name == "@mood":  # a mood the taggers hear (not a tempo or loudness impression)
        hits = [f"'{t}' = {tags[t]:.2f}" for t in MOOD_TAGS if t in tags]
        return "mood tag " + ", ".join(hits) if hits else None
    if name == "@several_instruments":
        heard = _specific_instruments(analysis)
        return f"{len(heard)} instruments heard ({', '.join(heard)})" if len(heard) >= 2 else None
    if name == "@vocals":
        hits = [f"'{t}' = {tags[t]:.2f}" for t in VOCAL_TAGS if t in tags]
        return "vocal tag " + ", ".join(hits) if hits else None
    if name.startswith("@tempo_"):
        if bpm is None:  # no measured pulse: musicnn's own 'slow' / 'fast' impression may speak
            word = name[len("@tempo_") :]
            return f"tag '{word}' = {tags[word]:.2f} (no measured tempo)" if word in tags else None
        if compound(analysis):
            return None
        lo, hi = {
            "@tempo_slow": (0, cfg.slow_max_bpm),
            "@tempo_fast": (cfg.fast_min_bpm, 1e9),
            "@tempo_medium": cfg.medium_bpm,
        }[name]
        return f"tempo {bpm:.0f} BPM" if lo <= bpm <= hi else None
    if name.startswith("@meter_"):
        label = stated_meter(analysis, cfg)
        return f"meter {label}" if label and label.split("/")[0] == name[-1] else None
    return None


def _support(concept: Concept, analysis, tags: dict[str, float], cfg: EvidenceConfig) -> str | None:
    for alt in concept.support:
        parts = alt.split("+")
        ev = []
        for p in parts:
            if p.startswith("@"):
                e = _fact(p, analysis, tags, cfg)
            else:
                e = f"tag '{p}' = {tags[p]:.2f}" if p in tags else None
            if e is None:
                break
            ev.append(e)
        else:
            return " + ".join(ev)
    return None


def _value_support(claim: Claim, analysis, cfg: EvidenceConfig) -> str | None:
    if claim.category == "tempo":
        bpm = stated_bpm(analysis, cfg)
        if bpm is not None and abs(claim.value - bpm) <= cfg.bpm_tolerance * bpm:
            return f"tempo {bpm:.1f} BPM"
        return None
    if claim.category == "key":
        key = getattr(analysis, "key", None)
        if key is None or not key.label:
            return None
        return f"key {key.label}" if key_fits(claim.value, key.label) else None
    if claim.category == "meter":
        label = stated_meter(analysis, cfg)
        return f"meter {label}" if label is not None and label == claim.value else None
    return None


def check_claims(claims: list[Claim], analysis, cfg: EvidenceConfig = CFG):
    """Split claims into (supported [(claim, evidence)], unsupported [claim]) against the analysis.

    A negated claim ("no drums", "instrumental") is supported when the positive one is not: J2A
    never states the opposite of what its analysis found. Non-music input supports no musical claim.
    """
    tags = present_tags(analysis, cfg)
    part_tags = _leading_styles_only(analysis, tags, cfg)
    supported, unsupported = [], []
    for cl in claims:
        concept = find_concept(cl.concept)
        if concept is not None:
            negative = concept.negative != cl.negated
            positive = find_concept(concept.positive_of) if concept.negative else concept
            evidence = part_tags if positive.category == "instrument" else tags
            ev = _support(positive, analysis, evidence, cfg) if getattr(analysis, "is_music", True) else None
            if negative:
                ev = None if ev is not None else _absence_evidence(positive, analysis, tags, cfg)
        else:
            ev = _value_support(cl, analysis, cfg) if getattr(analysis, "is_music", True) else None
            if cl.negated:
                ev = None  # "not in C major" / "not 120 BPM": never worth saying; drop
        if ev is None:
            unsupported.append(cl)
        else:
            supported.append((cl, ev))
    genres = [(c, e) for c, e in supported if c.category == "genre" and not c.negated]
    if genres:  # "could be playing at a dance club", "in a jazz bar": a venue of a style the taggers hear
        # (a film, a wedding, a restaurant is no style's venue: those need a mood, as "in a romantic movie" does)
        for cl in [c for c in unsupported if c.category == "usage" and not _NOT_A_VENUE.fullmatch(c.phrase)]:
            unsupported.remove(cl)
            supported.append((cl, f"a venue for '{genres[0][0].phrase}' ({genres[0][1]})"))
    return supported, unsupported


_NOT_A_VENUE = re.compile(NOT_A_VENUE, re.I)


def _absence_evidence(positive: Concept, analysis, tags: dict[str, float], cfg: EvidenceConfig = CFG) -> str | None:
    """Evidence that something is absent, or None. Absence is a claim too: J2A may say "no drums" only
    when a tagger that can hear drums lists none, not even below the score at which it states them
    (a weak tag is doubt, not absence); "no other instruments" only when one instrument is heard at most;
    nothing it cannot hear at all (no support) can be said to be absent."""
    if (getattr(analysis, "duration_s", None) or cfg.absence_min_s) < cfg.absence_min_s:
        return None  # too short for the taggers to have heard what is missing
    if positive.key == "other instruments":
        heard = sorted(set(_specific_instruments(analysis)) | _heard_sometime(analysis, None))
        return f"{len(heard)} instrument heard ({', '.join(heard) or 'none'})" if len(heard) <= 1 else None
    if not positive.support:
        return None
    if _heard_sometime(analysis, support_tags(positive)):
        return None  # a voice in one minute of a three-minute track is no absence, though the track mean is low
    neg = [f"tag '{t}' = {tags[t]:.2f}" for t in NO_VOCAL_TAGS if t in tags] if positive.key == "vocals" else []
    if neg:
        return neg[0]
    names = support_tags(positive)
    weak = [
        t.label
        for g in ("instrument", "vocals", "genre")
        for t in getattr(getattr(analysis, "tags", None), g, None) or []
        if norm_tag(t.label) in names
    ]
    if weak:
        return None
    return f"no tag supports {positive.key}"


def _heard_sometime(analysis, names: set[str] | None) -> set[str]:
    """Instrument / vocal labels (among `names`; all specific ones when None) that the tag timeline lists in
    at least one segment."""
    from ..features.fusion import BROAD, LISTED

    tl = getattr(getattr(analysis, "tags", None), "timeline", None)
    if tl is None:
        return set()
    out = set()
    for key, series in tl.fused.items():
        group, label = key.split(":", 1)
        if (
            group in ("instrument", "vocals")
            and (label in names if names is not None else label not in BROAD)
            and label != "instrumental (no vocals)"
            and max(series, default=0.0) >= LISTED
        ):
            out.add(label)
    return out


def _specific_instruments(analysis) -> list[str]:
    """Specific instruments and voices listed (fusion.BROAD families left out), at any listed score."""
    from ..features.fusion import BROAD

    tags = getattr(analysis, "tags", None)
    return [
        t.label
        for g in ("instrument", "vocals")
        for t in getattr(tags, g, None) or []
        if t.label not in BROAD and t.label != "acoustic instruments"
    ]


def is_supported(text: str, analysis, cfg: EvidenceConfig = CFG) -> bool:
    return not check_claims(extract_claims(text), analysis, cfg)[1]
