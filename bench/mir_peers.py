"""MIR accuracy and speed: J2A vs madmom's raw processors vs essentia vs librosa, in one run.

Why this design:
* Two test sets with truth: the shared clips that carry tempo / key / meter labels
  (../shared/data/audio/manifest.csv), and pieces rendered from the music21 corpus by
  `j2a data render` (tempo, beats, downbeats, meter, notated key and chords from the score).
* Every system gets the same decoded mono 44.1 kHz array (decoding is not timed); each system's own
  resampling and feature extraction are timed. Models load before the first timed clip.
* Every system is scored by the same code, `j2a.eval.mir.score_item` (mir_eval): tempo Acc1/Acc2,
  beat F / Cemgil / P-score and downbeat F after MIREX's 5-s trim, meter, key (MIREX weighted and
  exact), chords as pooled WCSR (majmin, sevenths). A system that has no answer for a task shows "n/a".
* Peers are used the way their documentation shows:
  - madmom: RNNBeatProcessor + DBNBeatTrackingProcessor, TempoEstimationProcessor on the same beat
    activations, RNNDownBeatProcessor + DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4]) (meter =
    the bar length it picks), CNNKeyRecognitionProcessor, CNNChordFeatureProcessor +
    CRFChordRecognitionProcessor.
  - essentia (AGPL; installed for this bench only, never imported by j2a): RhythmExtractor2013
    (multifeature), KeyExtractor (defaults), HPCP + ChordsDetectionBeats on the beat ticks.
  - librosa: beat.beat_track at 22.05 kHz; key = Krumhansl-Kessler profiles correlated with the mean
    chroma_cqt (librosa ships no key or chord estimator, so that is the usual recipe).
* J2A: `j2a.analyze` as `j2a analyze` runs it, taggers and loudness off (no peer tags); the notes stay on, since
  they inform J2A's key, meter and tempo. "J2A (no notes)": the audio networks alone, the peers' inputs.
* Speed: per clip, wall and CPU seconds per second of audio (median over clips, one pass); and the
  median of --runs runs on one excerpt, models warm. CPU time (all threads of the process) is the
  steadier figure on a machine shared with other jobs.

    nice -n 10 .venv/bin/python bench/mir_peers.py --n 24 --measures 8
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _common import AUDIO as SHARED  # noqa: E402  (and this checkout first on sys.path)

SR = 44100
SYSTEMS = ["J2A", "J2A (no notes)", "madmom", "essentia", "librosa"]
COLS = [
    ("tempo_acc1", "tempo Acc1"),
    ("tempo_acc2", "tempo Acc2"),
    ("beat_f", "beat F"),
    ("beat_cemgil", "Cemgil"),
    ("beat_p_score", "P-score"),
    ("downbeat_f", "downbeat F"),
    ("meter_acc", "meter"),
    ("key_weighted", "key MIREX"),
    ("key_correct", "key exact"),
    ("chords_majmin", "majmin WCSR"),
    ("chords_sevenths", "sevenths WCSR"),
]


# -------------------------------------------------------------------------------------- systems
class J2A:
    """J2A as `j2a analyze` runs it: the transcribed notes inform the key (notes' and bass's profiles), the
    meter (compound or simple) and whether a tempo is stated; only the taggers and loudness are off."""

    name = "J2A"
    notes = True

    def __init__(self):
        from j2a.analysis import AnalyzeConfig, analyze

        self.cfg = AnalyzeConfig(tags=False, notes=self.notes, loudness=False)
        self.analyze = analyze

    def __call__(self, y):
        from j2a.eval.mir import Prediction

        return Prediction.from_analysis(self.analyze(y, sr=SR, config=self.cfg).to_dict())


class J2ANoNotes(J2A):
    """J2A from the audio networks alone (no note transcription), the same inputs the peers use."""

    name = "J2A (no notes)"
    notes = False


class Madmom:
    name = "madmom"

    def __init__(self):
        from j2a.features.madmom_compat import madmom  # the import fix, before any madmom module  # isort: skip

        f = madmom.features
        self.m = madmom
        self.beat_rnn, self.beat_dbn = f.beats.RNNBeatProcessor(), f.beats.DBNBeatTrackingProcessor(fps=100)
        self.tempo = f.tempo.TempoEstimationProcessor(fps=100)
        self.down_rnn = f.downbeats.RNNDownBeatProcessor()
        self.down_dbn = f.downbeats.DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)
        self.key = f.key.CNNKeyRecognitionProcessor()
        self.chord_feat, self.chord_crf = f.chords.CNNChordFeatureProcessor(), f.chords.CRFChordRecognitionProcessor()

    def __call__(self, y):
        from j2a.eval.mir import Prediction

        sig = self.m.audio.signal.Signal(y, sample_rate=SR, num_channels=1)
        act = self.beat_rnn(sig)
        beats = self.beat_dbn(act)
        tempi = self.tempo(act)
        db = self.down_dbn(self.down_rnn(sig))
        meter = f"{int(db[:, 1].max())}/4" if len(db) else None
        key = self.m.features.key.key_prediction_to_label(self.key(sig))
        chords = [(float(s), float(e), str(lab)) for s, e, lab in self.chord_crf(self.chord_feat(sig))]
        return Prediction(
            tempo_bpm=float(tempi[0][0]) if len(tempi) else None,
            meter=meter,
            key=key,
            beats=[float(b) for b in beats],
            downbeats=[float(t) for t, p in db if p == 1],
            chords=chords,
        )


class Essentia:
    name = "essentia"

    def __init__(self):
        import essentia

        essentia.log.infoActive = False
        import essentia.standard as es

        self.es = es
        self.rhythm = es.RhythmExtractor2013(method="multifeature")
        self.key = es.KeyExtractor()
        self.win, self.spec = es.Windowing(type="blackmanharris62"), es.Spectrum()
        self.peaks = es.SpectralPeaks(
            orderBy="magnitude", magnitudeThreshold=1e-5, minFrequency=40, maxFrequency=5000, maxPeaks=100
        )
        self.hpcp = es.HPCP()
        self.chords = es.ChordsDetectionBeats(hopSize=2048)

    def __call__(self, y):
        from j2a.eval.mir import Prediction

        x = y.astype(np.float32)
        bpm, ticks, *_ = self.rhythm(x)
        key, scale, _ = self.key(x)
        frames = [
            self.hpcp(*self.peaks(self.spec(self.win(fr))))
            for fr in self.es.FrameGenerator(x, frameSize=8192, hopSize=2048, startFromZero=True)
        ]
        labels, _ = self.chords(np.array(frames, dtype=np.float32), ticks) if len(ticks) > 1 else ([], [])
        chords = [(float(s), float(e), _harte(lab)) for s, e, lab in zip(ticks[:-1], ticks[1:], labels)]
        return Prediction(tempo_bpm=float(bpm), key=f"{key} {scale}", beats=[float(t) for t in ticks], chords=chords)


def _harte(label: str) -> str:
    """essentia's 'C#m' / 'Bb' chord names -> Harte 'C#:min' / 'Bb:maj'."""
    return f"{label[:-1]}:min" if label.endswith("m") else f"{label}:maj"


class Librosa:
    name = "librosa"
    # Krumhansl-Kessler key profiles (C major / C minor)
    MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

    def __init__(self):
        import librosa

        self.lr = librosa

    def __call__(self, y):
        from j2a.eval.mir import Prediction
        from j2a.theory import NAMES

        lr = self.lr
        y22 = lr.resample(y, orig_sr=SR, target_sr=22050)
        tempo, beats = lr.beat.beat_track(y=y22, sr=22050, units="time")
        chroma = lr.feature.chroma_cqt(y=y22, sr=22050).mean(axis=1)
        best = max(
            (
                (np.corrcoef(np.roll(prof, k), chroma)[0, 1], f"{NAMES[k]} {mode}")
                for mode, prof in (("major", self.MAJOR), ("minor", self.MINOR))
                for k in range(12)
            )
        )
        return Prediction(tempo_bpm=float(np.atleast_1d(tempo)[0]), key=best[1], beats=[float(b) for b in beats])


PEERS = {"J2A": J2A, "J2A (no notes)": J2ANoNotes, "madmom": Madmom, "essentia": Essentia, "librosa": Librosa}


# ------------------------------------------------------------------------------------------ data
def shared_set() -> list:
    """Shared music clips with at least one truth label (tempo, meter or a parseable key)."""
    from j2a.eval.mir import load_truth

    kinds = {r["file"]: r["kind"] for r in csv.DictReader(open(SHARED / "manifest.csv"))}
    return [
        t
        for t in load_truth(SHARED / "manifest.csv")
        if kinds[Path(t.file).name] == "music" and (t.tempo_bpm or t.key or t.meter)
    ]


def rendered_set(out: Path, n: int, seed: int, measures: int, corpus: str = "all") -> list:
    from j2a.data.render import RenderConfig, render_set
    from j2a.eval.mir import load_truth

    man = out / "manifest.jsonl"
    if not (man.is_file() and len(man.read_text().splitlines()) >= n):
        t = time.perf_counter()
        render_set(out, n, seed=seed, cfg=RenderConfig(corpus=corpus, max_measures=measures, workers=2))
        print(f"rendered {n} pieces in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return load_truth(man)


def load_audio(path: str) -> np.ndarray:
    from j2a.audio import open_audio

    return open_audio(path).load(SR).astype(np.float32)


# ----------------------------------------------------------------------------------------- runs
def run_set(truths, systems, max_s: float | None = None) -> tuple[dict, dict, dict, float]:
    """Score every system on every clip: {system: summary}, {system: [wall s per audio s]}, {...CPU...}, audio s.

    max_s crops clips (used for the shared clips, whose truth is whole-track tempo / key / meter only)."""
    from j2a.eval.mir import score_item, summarise

    rows = {s.name: [] for s in systems}
    rtf = {s.name: [] for s in systems}
    cpu = {s.name: [] for s in systems}
    total = 0.0
    for t in truths:
        y = load_audio(t.file)
        if max_s:
            y = y[: int(max_s * SR)]
        dur = len(y) / SR
        total += dur
        for s in systems:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred = s(y)
            except Exception as e:  # a peer failing on a clip scores 0 there, and we say so
                print(f"{s.name} failed on {Path(t.file).name}: {type(e).__name__}: {e}", file=sys.stderr)
                from j2a.eval.mir import Prediction

                pred = Prediction()
            rtf[s.name].append((time.perf_counter() - t0) / dur)
            cpu[s.name].append((time.process_time() - c0) / dur)
            rows[s.name].append(score_item(t, pred))
            print(
                json.dumps(
                    {
                        "clip": Path(t.file).name,
                        "system": s.name,
                        "s_per_audio_s": round(rtf[s.name][-1], 3),
                        **{k: round(v, 3) for k, v in rows[s.name][-1].items() if not k.startswith("_")},
                    }
                ),
                file=sys.stderr,
            )
    return {k: summarise(v) for k, v in rows.items()}, rtf, cpu, total


SUPPORTS = {
    "J2A": {m for m, _ in COLS},
    "J2A (no notes)": {m for m, _ in COLS},
    "madmom": {m for m, _ in COLS},
    "essentia": {
        "tempo_acc1",
        "tempo_acc2",
        "beat_f",
        "beat_cemgil",
        "beat_p_score",
        "key_weighted",
        "key_correct",
        "chords_majmin",
        "chords_sevenths",
    },
    "librosa": {"tempo_acc1", "tempo_acc2", "beat_f", "beat_cemgil", "beat_p_score", "key_weighted", "key_correct"},
}


def table(summ: dict, rtf: dict, cpu: dict) -> list[str]:
    some = next(iter(summ.values()))
    cols = [(m, h) for m, h in COLS if some.get(f"n_{m}")]
    head = (
        "| system | "
        + " | ".join(f"{h} (n={some[f'n_{m}']})" for m, h in cols)
        + " | wall s per audio s (median) | CPU s per audio s (median) |"
    )
    lines = [head, "|" + "---|" * (len(cols) + 3)]
    for name, s in summ.items():
        cells = [f"{s[m]:.3f}" if m in SUPPORTS[name] and s[m] is not None else "n/a" for m, _ in cols]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {statistics.median(rtf[name]):.3f} | {statistics.median(cpu[name]):.3f} |"
        )
    return lines


def speed(systems, y: np.ndarray, runs: int) -> list[str]:
    lines = [
        f"| system | median wall s for {len(y) / SR:.0f} s of audio ({runs} runs) | x real time (wall) | median CPU s |",
        "|---|---|---|---|",
    ]
    for s in systems:
        ts, cs = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s(y)
            ts.append(time.perf_counter() - t0)
            cs.append(time.process_time() - c0)
        m = statistics.median(ts)
        lines.append(f"| {s.name} | {m:.2f} | {len(y) / SR / m:.1f} | {statistics.median(cs):.2f} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=24, help="rendered pieces (default: %(default)s)")
    ap.add_argument(
        "--corpus",
        default="all",
        choices=("all", "bach"),
        help="music21 scores to render: every composer, or Bach chorales only (default: %(default)s)",
    )
    ap.add_argument("--measures", type=int, default=8, help="bars per rendered piece (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3, help="runs for the speed table (default: %(default)s)")
    ap.add_argument(
        "--speed-seconds", type=float, default=10.0, help="excerpt length for the speed table (default: %(default)s)"
    )
    ap.add_argument(
        "--max-seconds", type=float, default=30.0, help="crop the shared clips to this (default: %(default)s)"
    )
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument(
        "--dir", default=None, help="folder for the rendered set (default: a temp dir; reused if it holds one)"
    )
    args = ap.parse_args(argv)

    import tempfile

    t_start = time.perf_counter()
    systems = []
    for name in args.systems.split(","):
        t = time.perf_counter()
        try:
            systems.append(PEERS[name]())
        except ImportError as e:
            print(f"{name} not installed ({e}); see bench/README.md", file=sys.stderr)
            continue
        print(f"{name}: loaded in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    out = Path(args.dir or tempfile.mkdtemp(prefix="j2a-mir-peers-"))
    rendered = rendered_set(out, args.n, args.seed, args.measures, args.corpus)
    shared = shared_set()
    warm = load_audio(rendered[0].file)[: 5 * SR]
    for s in systems:  # load every model before the first timed clip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s(warm)

    lines = [
        "## MIR accuracy and speed: J2A vs madmom, essentia, librosa",
        "",
        f"Same decoded audio for every system; scored by `j2a.eval.mir` (mir_eval; beats after the 5-s MIREX trim). "
        f"Machine: {os.cpu_count()} CPU cores shared with other jobs, so times are indicative. n/a: the system has no estimator for it.",
        "",
    ]
    for title, truths, max_s in (
        (
            f"Rendered set: {len(rendered)} pieces from the music21 corpus (`j2a data render`, seed {args.seed}, "
            f"first {args.measures} bars; truth from the score)",
            rendered,
            None,
        ),
        (
            f"Shared clips with truth labels ({len(shared)}, first {args.max_seconds:g} s of each: tempo from the datasets' "
            "annotations, keys partly doubtful, see ../shared/README.md)",
            shared,
            args.max_seconds,
        ),
    ):
        summ, rtf, cpu, total = run_set(truths, systems, max_s)
        lines += (
            [f"### {title}", "", f"{total / 60:.1f} min of audio; time per clip from one pass.", ""]
            + table(summ, rtf, cpu)
            + [""]
        )
    n = int(args.speed_seconds * SR)
    y = load_audio(rendered[0].file)
    y = np.tile(y, int(np.ceil(n / len(y))))[:n]
    lines += (
        [f"### Speed on one {args.speed_seconds:g}-s excerpt (rendered), models loaded", ""]
        + speed(systems, y, args.runs)
        + [""]
    )
    lines += [f"Whole bench: {time.perf_counter() - t_start:.0f} s."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
