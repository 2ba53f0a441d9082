"""Loudness: integrated LUFS (ITU-R BS.1770-4), loudness range (EBU Tech 3342), peak and crest.

Why not call `pyloudnorm.Meter.integrated_loudness` on the whole signal: it copies the signal into
float64 and loops in Python over blocks, so an hour of audio costs >1 GB and minutes of CPU. We use
pyloudnorm's own K-weighting filter coefficients, run them chunk by chunk with the filter state
carried across chunks (exactly the same filtered signal), and keep only the mean square of each
100 ms sub-block. A 400 ms gating block is the mean of 4 sub-blocks (75 % overlap, as BS.1770) and a
3 s short-term block the mean of 30 (10 Hz rate, as Tech 3342), so memory is one chunk of samples
plus 10 floats per second, whatever the length. tests/features/test_loudness.py checks the result
against pyloudnorm itself.

The measurement is on the mono downmix that J2A analyses: a stereo file whose two channels are
identical reads about 3 LU lower than a two-channel BS.1770 meter would report.
"""

from __future__ import annotations

import numpy as np

from ..analysis.schema import Loudness

SR = 44100  # the rate madmom also uses, so the decoded signal is shared through Audio's cache
SUB_S = 0.1  # sub-block length; BS.1770 blocks (0.4 s, hop 0.1 s) and Tech 3342 blocks (3 s) are built from it
ABS_GATE = -70.0
REL_GATE_INTEGRATED = -10.0
REL_GATE_LRA = -20.0


def _k_weighting(sr: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(b, a) of the two K-weighting biquads, taken from pyloudnorm."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)  # K-weighting: high shelf then high pass
    return [(f.b, f.a) for f in meter._filters.values()]


def subblock_power(chunks, sr: int = SR) -> tuple[np.ndarray, float, float, int]:
    """Mean square of the K-weighted signal per 100 ms sub-block, plus peak, sum of squares, n samples.

    `chunks` yields consecutive, non-overlapping float arrays. The filter state carries over.
    """
    from scipy.signal import lfilter, lfilter_zi

    filters = _k_weighting(sr)
    zi = [lfilter_zi(b, a) * 0.0 for b, a in filters]
    sub = int(round(SUB_S * sr))
    powers: list[np.ndarray] = []
    rest = np.zeros(0)
    peak, sumsq, n = 0.0, 0.0, 0
    for y in chunks:
        y = np.asarray(y, dtype=np.float64)
        if not len(y):
            continue
        peak = max(peak, float(np.max(np.abs(y))))
        sumsq += float(np.dot(y, y))
        n += len(y)
        for i, (b, a) in enumerate(filters):
            y, zi[i] = lfilter(b, a, y, zi=zi[i])
        y = np.concatenate([rest, y])
        m = len(y) // sub
        powers.append(np.mean(np.square(y[: m * sub]).reshape(m, sub), axis=1))
        rest = y[m * sub :]
    p = np.concatenate(powers) if powers else np.zeros(0)
    return p, peak, sumsq, n


def _block_loudness(p: np.ndarray, n_sub: int) -> np.ndarray:
    """Loudness (LUFS) of every block of n_sub consecutive sub-blocks, hop one sub-block."""
    if len(p) < n_sub:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(p)])
    z = (c[n_sub:] - c[:-n_sub]) / n_sub
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(z)


def integrated_lufs(p: np.ndarray) -> float | None:
    """BS.1770-4 gated loudness from sub-block powers (None when nothing passes the gates)."""
    lb = _block_loudness(p, 4)
    lb = lb[lb > ABS_GATE]
    if not len(lb):
        return None
    rel = 10 * np.log10(np.mean(10 ** (lb / 10))) + REL_GATE_INTEGRATED
    lb = lb[lb > rel]
    return float(10 * np.log10(np.mean(10 ** (lb / 10)))) if len(lb) else None


def loudness_range(p: np.ndarray) -> float | None:
    """EBU Tech 3342 LRA: spread (10th to 95th percentile) of gated 3 s short-term loudness."""
    st = _block_loudness(p, int(round(3.0 / SUB_S)))
    st = st[st >= ABS_GATE]
    if not len(st):
        return None
    rel = 10 * np.log10(np.mean(10 ** (st / 10))) + REL_GATE_LRA
    st = st[st >= rel]
    if not len(st):
        return None
    return float(np.percentile(st, 95) - np.percentile(st, 10))


def analyze_loudness(audio) -> Loudness:
    """Integrated LUFS, loudness range (LU), sample peak (dBFS) and crest factor (dB) of an Audio."""
    p, peak, sumsq, n = subblock_power((y for _, y in audio.chunks(SR, chunk_s=30.0)), SR)
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    rms = np.sqrt(sumsq / n) if n else 0.0
    crest = float(peak_db - 20 * np.log10(rms)) if rms > 0 else None
    return Loudness(
        integrated_lufs=_round(integrated_lufs(p)),
        loudness_range_lu=_round(loudness_range(p)),
        peak_dbfs=round(float(peak_db), 2),
        crest_db=_round(crest),
    )


def _round(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 2)
