"""is_music: is this input music at all, or speech / a nature sound / near-silence?

Why: every later stage (tempo, key, captions) would happily describe a podcast or a bird as a song.
We ask for *positive musical evidence* and, separately, whether a trained speech detector fires,
rather than training a classifier on the handful of clips we have.

Evidence, each measured on up to EXCERPTS x EXCERPT_S seconds spread over the file (so the cost is
bounded whatever the length):

* tonal    — tuning coherence. Music played on tuned instruments puts its spectral peaks on one
             common semitone grid; speech, bird calls and noise glide or are unpitched, so their
             peak frequencies are spread uniformly modulo a semitone. We take every spectral peak
             (80 Hz–5 kHz, parabolic refinement), map its frequency to an angle 2π·(cents mod 100)/100,
             and compute the Rayleigh statistic z = N_eff·R² of the amplitude-weighted mean vector
             per 5 s window (median over windows). Under the null of no common tuning z ~ Exp(1),
             so z ≥ 8 (p < 0.0004) is strong evidence of tuned pitched music. Robust to polyphony.
* melodic  — steady pitch. The share of voiced frames (YIN, 60–1000 Hz) that lie in runs of
             ≥ 160 ms holding one pitch (±0.3 semitone). Sung or played notes hold their pitch;
             speech glides through syllables. This is what tells solo singing from speech.
* rhythmic — beat periodicity. The autocorrelation peak (lags 0.3–1.5 s) of madmom's beat-tracking
             RNN activation (one of its BLSTMs, on at most 30 s of the excerpts). Drum loops and electronic music with little tuned
             content have a strong, regular beat; speech, bird song and purring do not. Only computed
             when the tonal and melodic evidence is not already conclusive (it is the costly one).
* speech   — the share of 32 ms frames where Silero VAD (silero-vad's ONNX model, MIT; J2A ships a
             copy, run with onnxruntime by j2a.features.vad) says speech. It is a voice detector, so it
             also fires on singing and rap: it only names the *reason* when the musical evidence is missing.

Decision rule: each evidence value goes through a logistic centred on its threshold (z = 8,
melodic = 0.3, rhythmic = 0.55); music_evidence is the maximum of the three. is_music =
music_evidence ≥ 0.5, confidence = music_evidence (or 1 − it). Non-music gets the reason
"silence" (excerpt RMS below −60 dBFS), else "speech" if the VAD fires on ≥ 30 % of frames, else
"non-musical sound". musicnn's tag scores, when present, are reported in `scores` but not used:
musicnn has no "not music" class and assigns confident music tags to speech too.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..analysis.schema import MusicDetection

SR = 44100  # excerpts are taken at madmom's rate (shared decode cache), then resampled for VAD / YIN
LOW_SR = 16000
EXCERPTS = 4
EXCERPT_S = 15.0
TONAL_Z = 8.0
MELODIC_MIN = 0.3
RHYTHM_MIN = 0.55
SPEECH_MIN = 0.3
SILENCE_DBFS = -60.0
BEAT_BUDGET_S = 30.0  # seconds of audio, in total, given to the beat RNN


def _logistic(x: float, centre: float, scale: float) -> float:
    return float(1.0 / (1.0 + np.exp(-(x - centre) / scale)))


# ------------------------------------------------------------------------------------- excerpts
def excerpts(audio, sr: int = SR, n: int = EXCERPTS, length_s: float = EXCERPT_S) -> list[np.ndarray]:
    """Up to n windows of length_s seconds, evenly spread; the whole signal when it is short."""
    from ..audio import CACHE_LIMIT_S

    if audio.duration_s <= n * length_s:
        return [audio.load(sr)]
    total = int(audio.duration_s // length_s)
    want = set(np.linspace(0, max(total - 1, 0), n).round().astype(int).tolist())
    if audio.array is not None or audio.duration_s <= CACHE_LIMIT_S:
        y = audio.load(sr)
        size = int(length_s * sr)
        return [y[i * size : (i + 1) * size] for i in sorted(want)]
    out = []  # long file: stream, keep only the chosen windows
    for i, (_, block) in enumerate(audio.chunks(sr, chunk_s=length_s)):
        if i in want:
            out.append(block.copy())
    return out


# ------------------------------------------------------------------------------------ evidence
def tuning_z(y: np.ndarray, sr: int = LOW_SR, nfft: int = 4096, hop: int = 1024, win_s: float = 5.0) -> list[float]:
    """Rayleigh z of spectral-peak positions modulo one semitone, per win_s window."""
    n = 1 + (len(y) - nfft) // hop
    if n < 1:
        return []
    idx = np.arange(nfft)[None, :] + hop * np.arange(n)[:, None]
    L = 20 * np.log10(np.abs(np.fft.rfft(y[idx] * np.hanning(nfft), axis=1)) + 1e-10)
    f = np.arange(L.shape[1]) * sr / nfft
    c = L[:, 1:-1]
    peak = (c > L[:, :-2]) & (c >= L[:, 2:]) & (c > L.max(1, keepdims=True) - 50)
    peak &= ((f >= 80) & (f <= 5000))[1:-1][None, :]
    fr, k = np.nonzero(peak)
    k = k + 1
    a, b, d = L[fr, k - 1], L[fr, k], L[fr, k + 1]
    freq = (k + 0.5 * (a - d) / (a - 2 * b + d - 1e-12)) * sr / nfft
    w = 10 ** ((b - L.max(1)[fr]) / 20)
    z = w * np.exp(2j * np.pi * 12 * np.log2(freq / 440.0))
    per = max(1, int(win_s * sr / hop))
    out = []
    for s in range(0, n, per):
        m = (fr >= s) & (fr < s + per)
        if w[m].sum() > 0:
            n_eff = w[m].sum() ** 2 / (w[m] ** 2).sum()
            r = np.abs(z[m].sum()) / w[m].sum()
            out.append(float(n_eff * r * r))
    return out


def yin(
    y: np.ndarray,
    sr: int = LOW_SR,
    frame: int = 1024,
    hop: int = 256,
    fmin: float = 60.0,
    fmax: float = 1000.0,
    threshold: float = 0.15,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised YIN (de Cheveigné & Kawahara 2002): f0 (Hz), aperiodicity and RMS per frame."""
    n = 1 + (len(y) - frame) // hop
    if n < 1:
        return np.zeros(0), np.ones(0), np.zeros(0)
    x = y[np.arange(frame)[None, :] + hop * np.arange(n)[:, None]].astype(np.float64)
    W = frame // 2
    F = np.fft.rfft(x, 2 * frame)
    ac = np.fft.irfft(F * np.conj(F))[:, :W]
    cs = np.concatenate([np.zeros((n, 1)), np.cumsum(x**2, 1)], 1)
    taus = np.arange(W)
    d = (cs[:, W : W + 1] - cs[:, :1]) + (cs[:, taus + W] - cs[:, taus]) - 2 * ac
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * np.arange(1, W) / np.maximum(np.cumsum(d[:, 1:], 1), 1e-12)
    lo, hi = int(sr / fmax), min(int(sr / fmin), W)
    c = cmnd[:, lo:hi]
    below = c < threshold
    t = np.where(below.any(1), below.argmax(1), c.argmin(1))
    rows = np.arange(n)
    for _ in range(32):  # walk down to the local minimum after the first dip
        nxt = np.minimum(t + 1, c.shape[1] - 1)
        t = np.where(c[rows, nxt] < c[rows, t], nxt, t)
    return sr / (t + lo), c[rows, t], np.sqrt(np.mean(x**2, 1))


def steady_pitch_share(y: np.ndarray, sr: int = LOW_SR, hop: int = 256) -> tuple[float, float]:
    """(share of voiced frames inside steady-pitch runs >= 160 ms, voiced share of sounding frames)."""
    from scipy.ndimage import median_filter

    f0, aper, rms = yin(y, sr, hop=hop)
    if not len(f0):
        return 0.0, 0.0
    sounding = rms > max(1e-4, 0.05 * np.percentile(rms, 95))
    voiced = (aper < 0.2) & sounding
    midi = 69 + 12 * np.log2(f0 / 440.0)
    step = np.abs(np.diff(midi, prepend=midi[0]))
    steady = voiced & (step < 0.25) & (np.abs(midi - median_filter(midi, 7)) < 0.3)
    min_run = int(np.ceil(0.16 * sr / hop))
    edges = np.diff(np.concatenate([[0], steady.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    in_runs = int(sum(e - s for s, e in zip(starts, ends) if e - s >= min_run))
    return in_runs / max(int(voiced.sum()), 1), float(voiced.sum() / max(int(sounding.sum()), 1))


@lru_cache(maxsize=1)
def vad_model():
    """Silero VAD on the shipped sequence model (j2a/assets/models), loaded once per process."""
    import onnxruntime as ort

    from .model_files import model_file
    from .vad import SileroVAD

    ort.set_default_logger_severity(3)
    return SileroVAD(str(model_file("silero_vad/silero_vad_16k_sequence.onnx")))


def speech_share(y: np.ndarray) -> float:
    """Share of 32 ms frames (16 kHz) that Silero VAD calls speech (p > 0.5)."""
    if len(y) < 512:
        return 0.0
    p = vad_model().probs(np.ascontiguousarray(y, dtype=np.float32))
    return float(np.mean(p > 0.5))


@lru_cache(maxsize=1)
def _beat_net():
    from .madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.beats import RNNBeatProcessor
    from madmom.models import BEATS_BLSTM

    return RNNBeatProcessor(nn_files=[BEATS_BLSTM[0]])


def beat_periodicity(y: np.ndarray, sr: int = SR) -> float:
    """Highest autocorrelation of the beat-RNN activation at lags 0.3–1.5 s (100 frames/s)."""
    from .madmom_compat import madmom  # the import fix, before any madmom module  # isort: skip

    if len(y) < sr:
        return 0.0
    act = np.asarray(_beat_net()(madmom.audio.signal.Signal(y.astype(np.float32), sample_rate=sr)), dtype=np.float64)
    x = act - act.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1 :]
    ac = ac / (ac[0] + 1e-12)
    lo, hi = 30, min(150, len(ac) - 1)
    return float(ac[lo : hi + 1].max()) if hi > lo else 0.0


# ------------------------------------------------------------------------------------- decision
def signal_evidence(audio) -> dict[str, float]:
    """The signal measurements (tonal, melodic, speech VAD, and the beat when those are inconclusive),
    plus `music_evidence`, the largest of their logistic scores (0..1)."""
    from ..audio import resample

    clips = [c for c in excerpts(audio) if len(c)]
    low = [resample(c, SR, LOW_SR) for c in clips]
    rms_db = 10 * np.log10(np.mean(np.concatenate([c**2 for c in clips])) + 1e-20)
    zs = [z for y in low for z in tuning_z(y)]
    tonal = float(np.median(zs)) if zs else 0.0
    steady = [steady_pitch_share(y) for y in low]
    weights = [len(y) for y in low]
    melodic = float(np.average([s for s, _ in steady], weights=weights))
    speech = float(np.average([speech_share(y) for y in low], weights=weights))

    s_tonal = _logistic(np.log(max(tonal, 1e-3)), np.log(TONAL_Z), 0.25)
    s_melodic = _logistic(melodic, MELODIC_MIN, 0.04)
    scores = {
        "tonal_z": round(tonal, 2),
        "melodic": round(melodic, 3),
        "speech": round(speech, 3),
        "rms_dbfs": round(float(rms_db), 1),
    }
    evidence = max(s_tonal, s_melodic)
    if evidence < 0.95:  # not conclusive yet: measure the beat (costlier)
        per_clip = int(BEAT_BUDGET_S / len(clips) * SR)  # the beat RNN costs ~0.07 CPU s per audio s
        rhythmic = float(np.average([beat_periodicity(c[:per_clip]) for c in clips], weights=weights))
        scores["rhythmic"] = round(rhythmic, 3)
        evidence = max(evidence, _logistic(rhythmic, RHYTHM_MIN, 0.04))
    scores["music_evidence"] = round(evidence, 3)
    return scores


def decide(scores: dict[str, float], heard: dict | None = None, cal=None) -> MusicDetection:
    """Music or not, from the signal evidence and (when given) YAMNet's `fusion.music_evidence`.

    Order: near-silence first; then YAMNet's music classes (a noisy-OR of Music, singing, chant and
    every instrument / style class) at or above the calibrated `music` threshold say music, which is
    what rescues solo singing that the signal evidence calls speech; then a sound source (speech, an
    animal, a vehicle, a machine, weather) at or above the calibrated `source` threshold says not
    music, and the reason names it, which is what catches a fan's steady hum that the tuning test calls
    tonal; otherwise the signal evidence decides as before. Thresholds: j2a/assets/fusion.json."""
    from .fusion import calibration

    cal = cal or calibration()
    evidence = scores["music_evidence"]
    if heard is not None:
        scores.update(
            {
                "yamnet_music": round(heard["music"], 3),
                "yamnet_speech": round(heard["speech"], 3),
                "yamnet_source": round(heard["source"], 3),
            }
        )
    if scores["rms_dbfs"] < SILENCE_DBFS:
        return MusicDetection(False, round(max(1 - evidence, 0.9), 3), "silence", scores)
    if heard is not None:
        t_music, t_source = cal.music.get("music", 0.06), cal.music.get("source", 0.15)
        if heard["music"] >= t_music:
            return MusicDetection(
                True, round(max(evidence, min(1.0, heard["music"] / (2 * t_music))), 3), "music", scores
            )
        source, label, name = max((heard["speech"], "speech", "Speech"), (heard["source"], *heard["source_label"]))
        if source >= t_source:
            kind = "speech" if label == "speech" else "non-musical sound"
            return MusicDetection(
                False,
                round(min(1.0, source / (2 * t_source)), 3),
                f"{kind}: {name} {source:.2f}",
                scores,
                {"label": label, "audioset_class": name, "score": round(source, 3)},
            )
    if evidence >= 0.5:
        return MusicDetection(True, round(evidence, 3), "music", scores)
    reason = "speech" if scores["speech"] >= SPEECH_MIN else "non-musical sound"
    return MusicDetection(False, round(1 - evidence, 3), reason, scores)


def detect(audio, yamnet_windows: np.ndarray | None = None) -> MusicDetection:
    """Decide music vs speech / non-musical sound / near-silence (see the module docstring and `decide`)."""
    from .fusion import music_evidence

    heard = music_evidence(yamnet_windows.mean(0)) if yamnet_windows is not None and len(yamnet_windows) else None
    return decide(signal_evidence(audio), heard)
