"""MIR accuracy of J2A's analysis (tempo, beats, downbeats, meter, key, chords) through `mir_eval`.

Why mir_eval: it is what MIREX and the papers use, so a number here means what it means there.
Conventions kept from MIREX: beats and downbeats are scored after dropping the first 5 s
(`mir_eval.beat.trim_beats`; set `trim_s=0` for short clips), key with the MIREX weighted score,
chords as duration-weighted chord-symbol recall (WCSR) pooled over the set, with mir_eval's majmin
and sevenths vocabularies. Tempo: Acc1 = within 4 % of the truth, Acc2 = also at ×2, ×3, ×½, ×⅓.

Truth per clip comes from the manifest row (`tempo_bpm`, `meter`, `key`, as in ../shared/data/audio/
manifest.csv) and from annotation files: the renderer's JAMS (tempo, key_mode, beat/beat_position,
chord), `.beats` (time [position]) and `.lab` (start end chord). Files sit beside the audio with the
same stem, or are named in the row (`jams`, `beats`, `chords`/`lab` columns). A missing prediction
scores 0 where the truth exists; a metric with no truth for a clip is not counted for it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.manifests import read_jsonl

TEMPO_TOL = 0.04
ACC2_FACTORS = (1.0, 2.0, 3.0, 1 / 2, 1 / 3)


@dataclass
class Truth:
    """What is known about one clip; None / empty = unknown (not scored)."""

    file: str
    tempo_bpm: float | None = None
    meter: str | None = None
    key: str | None = None  # "C major" (mir_eval key format)
    beats: list[float] | None = None
    downbeats: list[float] | None = None
    chords: list[tuple[float, float, str]] | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Prediction:
    """The parts of a J2A Analysis that are scored (or any tracker's output in the same shape)."""

    tempo_bpm: float | None = None
    meter: str | None = None
    key: str | None = None
    beats: list[float] = field(default_factory=list)
    downbeats: list[float] = field(default_factory=list)
    chords: list[tuple[float, float, str]] = field(default_factory=list)

    @classmethod
    def from_analysis(cls, d: dict) -> Prediction:
        """From `Analysis.to_dict()` / a line of `j2a analyze --out x.jsonl`."""

        def g(k, sub):
            return (d.get(k) or {}).get(sub)

        return cls(
            tempo_bpm=g("tempo", "bpm"),
            meter=g("meter", "label"),
            key=g("key", "label"),
            beats=list(d.get("beats") or []),
            downbeats=list(d.get("downbeats") or []),
            chords=[(c["start"], c["end"], c["label"]) for c in d.get("chords") or []],
        )


# ------------------------------------------------------------------------------------------- truth
def normalise_key(label) -> str | None:
    """'F# minor', 'C:major', 'a minor', 'Bb' -> mir_eval's 'F# minor' / 'C major' / 'A minor' / 'Bb major';
    anything else (modal, 'F (blues/dorian)', empty) -> None, i.e. not scored."""
    if not label:
        return None
    m = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*[: ]?\s*(major|minor|maj|min)?\s*", str(label))
    if not m:
        return None
    mode = {"maj": "major", "min": "minor", None: "major"}.get(m.group(3), m.group(3))
    return f"{m.group(1).upper()}{m.group(2)} {mode}"


def _num(x) -> float | None:
    """A positive number, or the leading one of a cell like '87.5 (or 175)'; else None."""
    m = re.match(r"\s*(\d+(?:\.\d*)?)", str(x)) if x is not None else None
    if not m:
        return None
    v = float(m.group(1))
    return v if np.isfinite(v) and v > 0 else None


def read_beats(path: str | Path) -> tuple[list[float], list[float]]:
    """`.beats`: one beat per line, `time [position]`; position 1 marks a downbeat."""
    beats, downs = [], []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.replace(",", " ").split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            t = float(parts[0])
            pos = float(parts[1]) if len(parts) > 1 else None
        except ValueError:
            raise ValueError(f"{path}: line {i}: expected `time [beat position]`") from None
        beats.append(t)
        if pos == 1:
            downs.append(t)
    return beats, downs


def read_lab(path: str | Path) -> list[tuple[float, float, str]]:
    """`.lab`: `start end label` per line (Harte syntax)."""
    out = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            out.append((float(parts[0]), float(parts[1]), parts[2]))
        except (ValueError, IndexError):
            raise ValueError(f"{path}: line {i}: expected `start end label`") from None
    return out


def read_jams(path: str | Path, chord_annotator: str | None = None) -> dict:
    """Tempo, key, beats, downbeats, meter and chords from a JAMS file (as `j2a data render` writes it).

    Chords: the annotation whose annotator is `chord_annotator`, else the first `chord` annotation.
    """
    import jams

    try:
        jam = jams.load(str(path), validate=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable JAMS file ({type(e).__name__}: {e})") from None
    out: dict = {}
    if a := jam.search(namespace="tempo"):
        out["tempo_bpm"] = float(a[0].data[0].value)
    if a := jam.search(namespace="key_mode"):
        out["key"] = normalise_key(a[0].data[0].value)
    if a := jam.search(namespace="beat"):
        obs = a[0].data
        out["beats"] = [float(o.time) for o in obs]
        if any(o.value is not None for o in obs):
            out["downbeats"] = [float(o.time) for o in obs if o.value == 1]
    if a := jam.search(namespace="beat_position"):
        obs = a[0].data
        out["downbeats"] = [float(o.time) for o in obs if o.value["position"] == 1]
        if obs:
            out["meter"] = f"{obs[0].value['num_beats']}/{obs[0].value['beat_units']}"
    if meter := getattr(jam.sandbox, "meter", None):
        out["meter"] = meter
    chords = jam.search(namespace="chord")
    if chords:
        pick = [
            a
            for a in chords
            if chord_annotator and (a.annotation_metadata.annotator or {}).get("name") == chord_annotator
        ]
        a = (pick or chords)[0]
        out["chords"] = [(float(o.time), float(o.time + o.duration), str(o.value)) for o in a.data]
    return out


def _find(base: Path, audio: Path | None, name: str | None, suffix: str) -> Path | None:
    """An existing file: `name` as given, beside the manifest, or beside the audio; else the audio's
    namesake with `suffix`. (The renderer writes audio paths relative to where it ran.)"""
    cands = []
    if name:
        q = Path(name)
        cands += [q] if q.is_absolute() else [base / q, q, base / q.name] + ([audio.parent / q.name] if audio else [])
    elif audio is not None:
        cands.append(audio.with_suffix(suffix))
    return next((c for c in cands if c.is_file()), None)


def load_truth(manifest: str | Path, chord_annotator: str | None = None) -> list[Truth]:
    """Truth for every clip of a manifest: CSV (`file`/`audio` column) or the renderer's manifest.jsonl."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: no such file")
    base = manifest.parent
    if manifest.suffix.lower() == ".csv":
        with open(manifest, newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = [
            {**(r.get("truth") or {}), **{k: v for k, v in r.items() if k != "truth"}} for _, r in read_jsonl(manifest)
        ]
    truths = []
    for i, r in enumerate(rows, 1):
        name = r.get("file") or r.get("audio") or r.get("path")
        if not name:
            raise ValueError(f"{manifest}: row {i}: no `file` / `audio` column")
        audio = _find(base, None, name, "") or base / name
        t = Truth(
            file=str(audio),
            tempo_bpm=_num(r.get("tempo_bpm")),
            meter=(r.get("meter") or None),
            key=normalise_key(r.get("key")),
        )
        ann = {}
        jams_path = _find(base, audio, r.get("jams"), ".jams")
        if jams_path:
            ann = read_jams(jams_path, chord_annotator)
        if beats_path := _find(base, audio, r.get("beats"), ".beats"):
            ann["beats"], downs = read_beats(beats_path)
            if downs:
                ann["downbeats"] = downs
        if lab_path := _find(base, audio, r.get("chords") or r.get("lab"), ".lab"):
            ann["chords"] = read_lab(lab_path)
        for k, v in ann.items():  # annotation files are more precise than manifest cells, except for unset ones
            if v not in (None, []) or getattr(t, k) is None:
                setattr(t, k, v)
        truths.append(t)
    return truths


# ----------------------------------------------------------------------------------------- metrics
def tempo_scores(ref: float, est: float | None) -> dict:
    """Acc1 / Acc2 (1.0 or 0.0) for one clip."""
    if not est:
        return {"tempo_acc1": 0.0, "tempo_acc2": 0.0}

    def ok(f):
        return abs(est - ref * f) <= TEMPO_TOL * ref * f

    return {"tempo_acc1": float(ok(1.0)), "tempo_acc2": float(any(ok(f) for f in ACC2_FACTORS))}


def beat_scores(ref: list[float], est: list[float], trim_s: float = 5.0, prefix: str = "beat") -> dict:
    """mir_eval F-measure, Cemgil and P-score (P-score for beats only: it needs a beat period)."""
    import warnings

    import mir_eval

    r, e = np.asarray(ref, float), np.asarray(est, float)
    if trim_s:
        r, e = r[r >= trim_s], e[e >= trim_s]
    with warnings.catch_warnings():  # empty estimates warn; they score 0, which is what we want
        warnings.simplefilter("ignore")
        out = {f"{prefix}_f": mir_eval.beat.f_measure(r, e)}
        if prefix == "beat":
            out["beat_cemgil"] = mir_eval.beat.cemgil(r, e)[0]
            out["beat_p_score"] = mir_eval.beat.p_score(r, e)
    return {k: float(v) for k, v in out.items()}


def key_score(ref: str, est: str | None) -> dict:
    import mir_eval

    est = normalise_key(est)
    return {
        "key_weighted": float(mir_eval.key.weighted_score(ref, est)) if est else 0.0,
        "key_correct": float(est == ref),
    }


def chord_scores(ref: list[tuple[float, float, str]], est: list[tuple[float, float, str]]) -> dict:
    """majmin / sevenths recall for one clip, with the durations needed to pool them (WCSR)."""
    import mir_eval

    ref_int = np.array([[s, e] for s, e, _ in ref], float)
    ref_lab = [lab for *_, lab in ref]
    if est:
        est_int = np.array([[s, e] for s, e, _ in est], float)
        est_lab = [lab for *_, lab in est]
    else:
        est_int, est_lab = np.array([[ref_int.min(), ref_int.max()]]), [mir_eval.chord.NO_CHORD]
    est_int, est_lab = mir_eval.util.adjust_intervals(
        est_int, est_lab, ref_int.min(), ref_int.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD
    )
    ints, r, e = mir_eval.util.merge_labeled_intervals(ref_int, ref_lab, est_int, est_lab)
    dur = mir_eval.util.intervals_to_durations(ints)
    out = {}
    for name, fn in (("majmin", mir_eval.chord.majmin), ("sevenths", mir_eval.chord.sevenths)):
        cmp = fn(r, e)
        valid = cmp >= 0
        out[f"chords_{name}"] = float(mir_eval.chord.weighted_accuracy(cmp, dur))
        out[f"_chords_{name}_dur"] = float(dur[valid].sum())  # pooled WCSR weights
    return out


def meter_score(ref: str, est: str | None) -> dict:

    def norm(m):
        return re.sub(r"\s+", "", str(m)) if m else None

    return {"meter_acc": float(norm(est) == norm(ref))}


def score_item(truth: Truth, pred: Prediction, trim_s: float = 5.0) -> dict:
    """Every metric the truth allows for one clip."""
    s: dict = {}
    if truth.tempo_bpm:
        s |= tempo_scores(truth.tempo_bpm, pred.tempo_bpm)
    if truth.beats:
        s |= beat_scores(truth.beats, pred.beats, trim_s)
    if truth.downbeats:
        s |= beat_scores(truth.downbeats, pred.downbeats, trim_s, prefix="downbeat")
    if truth.meter:
        s |= meter_score(truth.meter, pred.meter)
    if truth.key:
        s |= key_score(truth.key, pred.key)
    if truth.chords:
        s |= chord_scores(truth.chords, pred.chords)
    return s


METRICS = [
    "tempo_acc1",
    "tempo_acc2",
    "beat_f",
    "beat_cemgil",
    "beat_p_score",
    "downbeat_f",
    "meter_acc",
    "key_weighted",
    "key_correct",
    "chords_majmin",
    "chords_sevenths",
]


def summarise(rows: list[dict]) -> dict:
    """Mean of each metric over the clips that have its truth; chords pooled by duration (WCSR)."""
    out = {"n": len(rows)}
    for m in METRICS:
        vals = [r[m] for r in rows if m in r]
        if m.startswith("chords_"):
            w = [r[f"_{m}_dur"] for r in rows if m in r]
            out[m] = float(np.dot(vals, w) / sum(w)) if vals and sum(w) > 0 else None
        else:
            out[m] = float(np.mean(vals)) if vals else None
        out[f"n_{m}"] = len(vals)
    return out


def score_mir(truths: list[Truth], preds: dict[str, Prediction], trim_s: float = 5.0) -> dict:
    """Score predictions (keyed by audio path, or by file name) against truths: {summary..., rows}."""
    by_name = {Path(k).name: v for k, v in preds.items()}
    rows, missing = [], []
    for t in truths:
        p = preds.get(t.file) or by_name.get(Path(t.file).name)
        if p is None:
            missing.append(t.file)
            continue
        rows.append({"file": t.file, **score_item(t, p, trim_s)})
    out = summarise(rows)
    out["missing"] = missing
    out["rows"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    return out


def read_analysis(path: str | Path) -> dict[str, Prediction]:
    """Predictions from `j2a analyze --out analysis.jsonl` (the full JSON form)."""
    preds = {}
    for i, d in read_jsonl(path):
        if "error" in d and "tempo" not in d:
            continue  # a file the batch could not analyse: it counts as missing
        if "file" not in d:
            raise ValueError(f"{path}:{i}: no `file` field (need `j2a analyze --format jsonl` output)")
        preds[d["file"]] = Prediction.from_analysis(d)
    return preds


def analyze_files(files: list[str]) -> dict[str, Prediction]:
    """Run J2A's rhythm + harmony analysis (what is scored here) on each file."""
    from ..analysis import AnalyzeConfig, analyze

    cfg = AnalyzeConfig(notes=False, loudness=False)
    return {f: Prediction.from_analysis(analyze(f, config=cfg).to_dict()) for f in files}


def evaluate_mir(
    manifest: str | Path, analysis: str | Path | None = None, trim_s: float = 5.0, chord_annotator: str | None = None
) -> dict:
    """Truth from the manifest; predictions from an analysis JSONL, or J2A run here."""
    truths = load_truth(manifest, chord_annotator)
    if analysis:
        preds = read_analysis(analysis)
    else:
        for t in truths:
            if not Path(t.file).is_file():
                raise FileNotFoundError(f"{manifest}: audio file {t.file} not found")
        preds = analyze_files([t.file for t in truths])
    return score_mir(truths, preds, trim_s)


def format_table(s: dict) -> str:
    lines = [f"{'metric':16s} {'value':>7s} {'n':>4s}"]
    for m in METRICS:
        if s.get(f"n_{m}"):
            lines.append(f"{m:16s} {100 * s[m]:7.1f} {s[f'n_{m}']:4d}")
    return "\n".join(lines)
