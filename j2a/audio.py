"""Decode any audio file to mono float32 at the rate a model needs, with one-line errors.

Why PyAV: its wheel ships ffmpeg, so WAV, FLAC, OGG/Vorbis, Opus, MP3, AAC/M4A and everything else
ffmpeg reads work without a system ffmpeg. Resampling happens in libswresample while decoding.

Memory: `Audio.chunks()` decodes in blocks of `chunk_s` seconds, so a consumer that only keeps
per-frame features holds at most one block (plus overlap) of samples. Short files (up to
`CACHE_LIMIT_S`) are kept decoded per sample rate so several feature extractors do not decode twice.
The bound for long files is therefore ``chunk_s * sr * 4`` bytes of samples per consumer
(30 s at 44.1 kHz = 5.3 MB), independent of the file's length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIN_DURATION_S = 1.0
SILENCE_PEAK = 10 ** (-90 / 20)  # below -90 dBFS everywhere counts as digital silence
CACHE_LIMIT_S = 15 * 60.0


class AudioError(ValueError):
    """A file that cannot be analysed. str() is one line: 'PATH: reason'."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = str(path) if path is not None else "<array>"
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _decode(path: str, sr: int) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks at `sr`; raise AudioError for anything unreadable."""
    import av

    try:
        container = av.open(path)
    except av.error.InvalidDataError:
        raise AudioError(path, "not a readable audio file (unrecognised or corrupt data)") from None
    except av.error.FFmpegError as e:  # other container-level failures
        raise AudioError(path, f"cannot open audio ({e.__class__.__name__}: {getattr(e, 'strerror', e)})") from None
    with container:
        if not container.streams.audio:
            raise AudioError(path, "contains no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1)
        except av.error.FFmpegError as e:
            raise AudioError(path, f"corrupt audio data ({getattr(e, 'strerror', e)})") from None


def _declared_duration(path: str) -> float | None:
    """Duration the container header promises (None when it does not say)."""
    import av

    try:
        with av.open(path) as c:
            s = c.streams.audio[0]
            if s.duration is not None and s.time_base is not None:
                return float(s.duration * s.time_base)
            if c.duration is not None:
                return c.duration / 1e6
    except Exception:
        return None
    return None


@dataclass
class Audio:
    """One audio input: a file path or an in-memory array. Decodes lazily, at any rate, in chunks."""

    path: str | None = None
    array: np.ndarray | None = None
    array_sr: int | None = None
    duration_s: float = 0.0
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path if self.path is not None else "<array>"

    # -- whole-signal access -------------------------------------------------------------------
    def load(self, sr: int) -> np.ndarray:
        """The whole signal at `sr`. Fine for short inputs; long ones should use chunks()."""
        if sr in self._cache:
            return self._cache[sr]
        if self.array is not None:
            y = resample(self.array, self.array_sr, sr)
        else:
            blocks = list(_decode(self.path, sr))
            y = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
        y = np.ascontiguousarray(y, dtype=np.float32)
        if len(y) <= CACHE_LIMIT_S * sr:
            self._cache[sr] = y
        return y

    def chunks(self, sr: int, chunk_s: float = 30.0, overlap_s: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
        """Yield (start_time_s, block) pairs covering the signal; consecutive blocks overlap by overlap_s.

        Memory stays at one block (+ overlap) for files too long to cache.
        """
        size = int(round(chunk_s * sr))
        ov = int(round(overlap_s * sr))
        if sr in self._cache or self.array is not None or self.duration_s <= CACHE_LIMIT_S:
            y = self.load(sr)
            step = max(1, size - ov)
            for start in range(0, max(1, len(y) - ov), step):
                yield start / sr, y[start : start + size]
            return
        buf = np.zeros(0, np.float32)
        offset = 0  # sample index of buf[0]
        for block in _decode(self.path, sr):
            buf = np.concatenate([buf, block])
            while len(buf) >= size:
                yield offset / sr, buf[:size].copy()
                keep = buf[size - ov :]
                offset += size - ov
                buf = keep
        if len(buf) > ov or offset == 0:
            yield offset / sr, buf


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality resampling (soxr)."""
    y = np.asarray(y, dtype=np.float32)
    if sr_in == sr_out:
        return y
    import soxr

    return soxr.resample(y, sr_in, sr_out).astype(np.float32, copy=False)


def open_audio(source: str | os.PathLike | np.ndarray, sr: int | None = None) -> Audio:
    """Validate an input and return an Audio handle.

    Raises AudioError (one line naming the file and the reason) for: missing file, zero bytes,
    non-audio or corrupt data, truncated file, shorter than MIN_DURATION_S, digital silence.
    One full decode pass (at 22.05 kHz, streamed) measures duration and peak, and detects truncation.
    """
    if isinstance(source, np.ndarray):
        if sr is None:
            raise AudioError(None, "an array input needs its sample rate (sr=...)")
        y = np.asarray(source, dtype=np.float32)
        if y.ndim == 2:  # (channels, samples) or (samples, channels): mix down
            y = y.mean(axis=0 if y.shape[0] < y.shape[1] else 1)
        a = Audio(array=y, array_sr=int(sr), duration_s=len(y) / sr)
        _check_signal(a.name, a.duration_s, float(np.max(np.abs(y))) if len(y) else 0.0)
        return a

    path = str(source)
    p = Path(path)
    if not p.exists():
        raise AudioError(path, "no such file")
    if p.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")

    a = Audio(path=path)
    probe_sr = 22050
    n, peak, kept = 0, 0.0, []
    for block in _decode(path, probe_sr):
        n += len(block)
        if len(block):
            peak = max(peak, float(np.max(np.abs(block))))
        if kept is not None and n <= CACHE_LIMIT_S * probe_sr:
            kept.append(block)
        else:
            kept = None  # too long to keep: later passes stream
    a.duration_s = n / probe_sr
    if kept is not None and n:
        a._cache[probe_sr] = np.concatenate(kept).astype(np.float32, copy=False)
    declared = _declared_duration(path)
    if declared is not None and declared > 2.0 and a.duration_s < 0.9 * declared - 0.5:
        raise AudioError(path, f"truncated file: header says {declared:.1f} s but only {a.duration_s:.1f} s decode")
    _check_signal(path, a.duration_s, peak)
    return a


def _check_signal(name: str, duration_s: float, peak: float) -> None:
    if duration_s == 0:
        raise AudioError(name, "no audio samples could be decoded")
    if duration_s < MIN_DURATION_S:
        raise AudioError(name, f"too short ({duration_s:.2f} s; at least {MIN_DURATION_S:.0f} s needed)")
    if peak < SILENCE_PEAK:
        raise AudioError(name, "digital silence (no signal above -90 dBFS)")


AUDIO_EXTENSIONS = {
    ".wav",
    ".wave",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".m4a",
    ".mp4",
    ".aac",
    ".aif",
    ".aiff",
    ".wma",
    ".webm",
    ".mka",
    ".ac3",
    ".amr",
    ".au",
    ".caf",
    ".mp2",
    ".aifc",
    ".alac",
    ".ape",
    ".wv",
}


def find_audio_files(inputs: list[str | os.PathLike]) -> list[str]:
    """Expand files and folders (recursively, sorted) into audio file paths.

    Files named explicitly are kept whatever their extension (so errors get reported for them);
    inside folders only known audio extensions are picked up.
    """
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            out.append(str(p))
    return out
