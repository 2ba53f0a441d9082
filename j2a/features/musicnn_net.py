"""musicnn (Pons & Serra, 2019) in PyTorch, with the weights of the TF1 checkpoints that ship in the
`musicnn` PyPI package (ISC) — no TensorFlow, and no musicnn package, at run time.

Three parts, each short:

* **Checkpoint reader** (`read_checkpoint`). A TF1 checkpoint is a *tensor bundle*: `<prefix>.index`
  is a LevelDB-format SSTable mapping each variable name to a `BundleEntryProto` (dtype, shape, shard,
  byte offset, size), and `<prefix>.data-00000-of-00001` holds the raw little-endian tensor bytes.
  We parse the table (blocks, prefix-compressed keys, footer) and the few protobuf fields we need by
  hand, because both formats are small and stable and pulling in TensorFlow for them costs ~500 MB.
  scripts/convert_models.py uses it once to write the tensors the network reads, under their TF names
  and with unchanged values, to j2a/assets/models/musicnn/<model>.safetensors, which J2A ships and loads.
* **Front-end** (`log_mel`, `musicnn_windows`). musicnn's own `extractor.batch_data` computes a
  librosa mel spectrogram (16 kHz, n_fft 512, hop 256, 96 Slaney mel bands, power 2), rounds it to
  float16 and applies log10(10000 x + 1) in float32, then cuts non-overlapping 187-frame (3 s) patches. We
  reproduce each step in numpy, including the float16 rounding, so the network sees the same numbers.
* **Network** (`MusiCNN`). The musically-motivated front-end (timbral 7x38 / 7x67 convs, temporal
  128/64/32x1 convs), the dense-connected 1-D mid-end and the mean/max-pool + dense back-end, all in
  inference mode. TF layouts are kept in mind: conv kernels are HWIO, inputs NHWC, and padding
  "same" in TF pads asymmetrically (the extra row goes *after*), which we do explicitly.

`load_musicnn("MSD_musicnn")` returns a cached, eval-mode module; its forward returns a dict with
per-window `logits`, `probs`, and feature vectors (`penultimate`, `mean_pool`, `max_pool`, ...).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------
# Constants of musicnn's own pipeline (musicnn/configuration.py, extractor.py)
SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
WINDOW_S = N_FRAMES * HOP / SR  # 2.992 s of signal per patch
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default epsilon (not stored in the checkpoint)

MODELS = ("MTT_musicnn", "MSD_musicnn")

MTT_LABELS = [
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
]
MSD_LABELS = [
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
]
LABELS = {"MTT_musicnn": MTT_LABELS, "MSD_musicnn": MSD_LABELS}


def load_weights(name: str) -> dict[str, np.ndarray]:
    """The checkpoint tensors of musicnn model `name` that MusiCNN.load_tf reads (TF variable names),
    from the safetensors file shipped in j2a/assets/models/musicnn/ (see scripts/convert_models.py)."""
    from safetensors.numpy import load_file

    from .model_files import model_file

    return load_file(str(model_file(f"musicnn/{name}.safetensors")))


# ---------------------------------------------------------------------------------------------
# TF tensor-bundle reader
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _block_entries(block: bytes):
    """Yield (key, value) of one SSTable block (keys are prefix-compressed against the previous key)."""
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        yield key, block[pos : pos + vlen]
        pos += vlen


def _read_block(data: bytes, handle: bytes) -> bytes:
    offset, p = _varint(handle, 0)
    size, _ = _varint(handle, p)
    if data[offset + size] != 0:  # trailer: 1 byte compression type + 4 bytes crc
        raise ValueError("compressed checkpoint index blocks are not supported")
    return data[offset : offset + size]


def _proto_fields(buf: bytes):
    """Yield (field_number, value) of a protobuf message; length-delimited values stay bytes."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field_no, wire = tag >> 3, tag & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field_no, val


# tensorflow/core/framework/types.proto
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 19: np.float16}


@dataclass
class BundleEntry:
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int


def read_index(index_path: str | Path) -> dict[str, BundleEntry]:
    """Parse a tensor-bundle .index file into {tensor name: BundleEntry} (the header entry is skipped)."""
    data = Path(index_path).read_bytes()
    magic = struct.unpack_from("<Q", data, len(data) - 8)[0]
    if magic != 0xDB4775248B80FB57:
        raise ValueError(f"{index_path}: not a TF tensor-bundle index (bad table magic)")
    footer = data[-48:]
    _, p = _varint(footer, 0)  # metaindex handle: offset, size (unused)
    _, p = _varint(footer, p)
    index_block = _read_block(data, footer[p:])
    out: dict[str, BundleEntry] = {}
    for _, handle in _block_entries(index_block):
        for key, value in _block_entries(_read_block(data, handle)):
            if key == b"":
                continue  # BundleHeaderProto
            f = {"dtype": 0, "shard_id": 0, "offset": 0, "size": 0, "shape": ()}
            for no, val in _proto_fields(value):
                if no == 1:
                    f["dtype"] = val
                elif no == 2:
                    dims = []
                    for dno, dval in _proto_fields(val):
                        if dno == 2:
                            dims.append(dict(_proto_fields(dval)).get(1, 0))
                    f["shape"] = tuple(dims)
                elif no == 3:
                    f["shard_id"] = val
                elif no == 4:
                    f["offset"] = val
                elif no == 5:
                    f["size"] = val
                elif no == 7:
                    raise ValueError(f"{index_path}: sliced tensor {key!r} is not supported")
            out[key.decode()] = BundleEntry(**f)
    return out


def read_checkpoint(folder: str | Path, prefix: str = "") -> dict[str, np.ndarray]:
    """All tensors of a TF1 checkpoint `folder/prefix.index` + `.data-*` as numpy arrays."""
    folder = Path(folder)
    entries = read_index(folder / f"{prefix}.index")
    n_shards = 1 + max((e.shard_id for e in entries.values()), default=0)
    shards = [(folder / f"{prefix}.data-{i:05d}-of-{n_shards:05d}").read_bytes() for i in range(n_shards)]
    out = {}
    for name, e in entries.items():
        if e.dtype not in _DTYPES:
            continue  # e.g. string tensors; musicnn has none that we need
        dt = np.dtype(_DTYPES[e.dtype]).newbyteorder("<")
        raw = shards[e.shard_id][e.offset : e.offset + e.size]
        n = int(np.prod(e.shape)) if e.shape else 1
        if len(raw) != n * dt.itemsize:
            raise ValueError(f"{folder}: tensor {name} has {len(raw)} bytes, expected {n * dt.itemsize}")
        out[name] = np.frombuffer(raw, dtype=dt).reshape(e.shape).astype(dt.newbyteorder("="))
    return out


# ---------------------------------------------------------------------------------------------
# Front-end: librosa-style log-mel, reproduced in numpy
@functools.cache
def mel_filterbank(sr: int = SR, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, 1 + n_fft/2) Slaney-style mel filters with Slaney area normalisation, as
    librosa.filters.mel(sr, n_fft, n_mels) builds them (htk=False, norm='slaney', fmin=0, fmax=sr/2)."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
        mel = f / f_sp
        return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
        min_log_mel = min_log_hz / f_sp
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)  # librosa's default dtype


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window('hann', n, fftbins=True))."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def _frames_to_mel(samples: np.ndarray) -> np.ndarray:
    """Mel power of every complete 512-sample frame at hop 256 in `samples` (no padding)."""
    n = 1 + (len(samples) - N_FFT) // HOP
    if n <= 0:
        return np.zeros((0, N_MELS), np.float32)
    x = np.ascontiguousarray(samples, dtype=np.float32)
    frames = np.lib.stride_tricks.as_strided(x, (n, N_FFT), (x.strides[0] * HOP, x.strides[0]), writeable=False)
    spec = np.fft.rfft(frames * _hann(N_FFT), axis=1)  # complex128 (librosa: complex64; diff << float16 step)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    return power @ mel_filterbank().T


def mel_power(y: np.ndarray) -> np.ndarray:
    """(frames, n_mels) mel power spectrogram of a 16 kHz signal, librosa.feature.melspectrogram(
    y, sr=16000, n_fft=512, hop_length=256, n_mels=96): centred frames (zero padding of n_fft/2 at
    both ends, librosa >= 0.10's default), periodic Hann window, |STFT|^2, Slaney mel filters."""
    return _frames_to_mel(np.pad(np.asarray(y, dtype=np.float32), N_FFT // 2))


class MelStream:
    """The same frames as `mel_power(whole_signal)`, computed block by block.

    Feed consecutive blocks with `push()`; each call returns the mel frames that became complete, and
    `finish()` returns the rest (the final frames see the end-of-signal zero padding, as librosa's
    centring does). Only n_fft samples are carried between blocks, so memory is one block.
    """

    def __init__(self):
        self._buf = np.zeros(N_FFT // 2, np.float32)  # the left centring pad

    def push(self, block: np.ndarray) -> np.ndarray:
        self._buf = np.concatenate([self._buf, np.asarray(block, np.float32)])
        mel = _frames_to_mel(self._buf)
        self._buf = self._buf[len(mel) * HOP :]
        return mel

    def finish(self) -> np.ndarray:
        mel = self.push(np.zeros(N_FFT // 2, np.float32))
        self._buf = np.zeros(0, np.float32)
        return mel


def log_compress(mel: np.ndarray) -> np.ndarray:
    """musicnn's compression of mel power: rounded to float16 (musicnn stores and feeds float16
    spectrograms), then log10(10000 x + 1). Under numpy 1.x, which musicnn was written for,
    `10000 * float16_array` promotes to float32, so the log is taken in float32; we do the same (in
    float16 the product would overflow to inf on loud music). Values beyond float16's range are clipped
    to its max rather than becoming inf."""
    m = np.minimum(mel, np.finfo(np.float16).max).astype(np.float16).astype(np.float32)
    return np.log10(np.float32(10000) * m + np.float32(1))


def log_mel(y: np.ndarray) -> np.ndarray:
    """musicnn's input representation of a 16 kHz signal: (frames, 96) log-compressed mel power."""
    return log_compress(mel_power(y))


def musicnn_windows(y16k: np.ndarray, hop_s: float | None = None) -> tuple[torch.Tensor, float]:
    """Cut a 16 kHz mono signal into musicnn's 3-s input patches.

    Returns (batch, windows_per_second): batch is a float32 tensor (n_windows, 187, 96) of log-mel
    patches; window i starts at frame i * hop, i.e. at i * hop * 256 / 16000 s, with hop = 187 frames
    (2.992 s, musicnn's own non-overlapping default) when hop_s is None, else the whole number of
    16-ms frames nearest to hop_s; windows_per_second = 16000 / (hop * 256). Like musicnn, only full
    patches are kept; a signal shorter than one patch is repeated to fill one (musicnn's training
    used repeat-padding too).
    """
    y = np.asarray(y16k, dtype=np.float32)
    mel = log_mel(y)
    if len(mel) < N_FRAMES:
        reps = int(np.ceil(N_FRAMES / max(1, len(mel))))
        mel = np.tile(mel, (reps, 1))[:N_FRAMES]
    hop = N_FRAMES if hop_s is None else max(1, int(round(hop_s * SR / HOP)))
    starts = range(0, len(mel) - N_FRAMES + 1, hop)
    batch = np.stack([mel[s : s + N_FRAMES] for s in starts])
    return torch.from_numpy(batch), SR / (hop * HOP)


# ---------------------------------------------------------------------------------------------
# Network
class _BN(nn.Module):
    """Inference-mode batch norm over axis `dim`, with TF's moving statistics and epsilon."""

    def __init__(self, n: int):
        super().__init__()
        for k in ("gamma", "beta", "mean", "var"):
            self.register_buffer(k, torch.zeros(n))

    def forward(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[dim] = -1
        scale = self.gamma / torch.sqrt(self.var + BN_EPS)
        return x * scale.view(shape) + (self.beta - self.mean * scale).view(shape)


def _same_pad_time(x: torch.Tensor, k: int) -> torch.Tensor:
    """TF 'SAME' padding along time (dim 2 of NCHW) for stride 1: the odd extra row goes at the end."""
    total = k - 1
    return F.pad(x, (0, 0, total // 2, total - total // 2))


def _relu_bn_maxfreq(z: torch.Tensor, bn: _BN) -> torch.Tensor:
    """max over frequency of BN(relu(z)) for z (B, C, T, F), computed on the reduced tensor.

    BN in inference is a per-channel affine a*x + b and relu is monotonic, so the max over frequency
    is a*relu(max z) + b where a >= 0 and a*relu(min z) + b where a < 0. Same numbers as TF's order
    (conv+relu, BN, max-pool), without three passes over the large (B, 204, 187, 59) maps.
    """
    lo, hi = torch.aminmax(z, dim=3)
    scale = bn.gamma / torch.sqrt(bn.var + BN_EPS)
    shift = bn.beta - bn.mean * scale
    pick = torch.where((scale >= 0).view(1, -1, 1), hi, lo)
    return F.relu(pick) * scale.view(1, -1, 1) + shift.view(1, -1, 1)


class MusiCNN(nn.Module):
    """musicnn (build_musicnn in musicnn/models.py) in inference mode, NCHW with H = time, W = mel.

    forward(x: (B, 187, 96) log-mel) -> dict of per-window tensors:
      logits (B, n_classes), probs = sigmoid(logits),
      penultimate (B, 200): the batch-normalised penultimate dense layer (musicnn's 'penultimate'),
      mean_pool, max_pool (B, 753): temporal mean / max of the dense-connected mid-end features,
      and, when `return_maps=True`, timbral (B, T, 408), temporal (B, T, 153), cnn1..cnn3 (B, T, 64).
    """

    def __init__(self, n_classes: int = 50, n_midend: int = 64, n_backend: int = 200):
        super().__init__()
        nf = int(1.6 * 128)  # 204 timbral filters
        nt = int(1.6 * 32)  # 51 temporal filters
        self.bn_in = _BN(1)
        self.timbral = nn.ModuleList(
            [nn.Conv2d(1, nf, (7, int(0.4 * N_MELS))), nn.Conv2d(1, nf, (7, int(0.7 * N_MELS)))]
        )
        self.temporal = nn.ModuleList([nn.Conv2d(1, nt, (k, 1)) for k in (128, 64, 32)])
        self.bn_front = nn.ModuleList([_BN(nf), _BN(nf), _BN(nt), _BN(nt), _BN(nt)])
        n_front = 2 * nf + 3 * nt  # 561
        self.mid = nn.ModuleList(
            [nn.Conv1d(n_front, n_midend, 7, padding=3)]
            + [nn.Conv1d(n_midend, n_midend, 7, padding=3) for _ in range(2)]
        )
        self.bn_mid = nn.ModuleList([_BN(n_midend) for _ in range(3)])
        n_pool = n_front + 3 * n_midend  # 753
        self.bn_pool = _BN(2 * n_pool)
        self.dense = nn.Linear(2 * n_pool, n_backend)
        self.bn_dense = _BN(n_backend)
        self.out = nn.Linear(n_backend, n_classes)

    def forward(self, x: torch.Tensor, return_maps: bool = False) -> dict[str, torch.Tensor]:
        x = self.bn_in(x.unsqueeze(1))  # (B, 1, T, 96)
        xp = F.pad(x, (0, 0, 3, 3))  # timbral: pad time only, 'valid' convs
        front = [_relu_bn_maxfreq(conv(xp), bn) for conv, bn in zip(self.timbral, self.bn_front[:2])]
        front += [
            _relu_bn_maxfreq(conv(_same_pad_time(x, conv.kernel_size[0])), bn)
            for conv, bn in zip(self.temporal, self.bn_front[2:])
        ]
        h = torch.cat(front, dim=1)  # (B, 561, T)
        feats = [h]
        for i, (conv, bn) in enumerate(zip(self.mid, self.bn_mid)):
            z = bn(F.relu(conv(feats[-1] if i else h)))
            feats.append(z if i == 0 else z + feats[-1])
        m = torch.cat(feats, dim=1)  # (B, 753, T): dense connections
        max_pool, mean_pool = m.amax(dim=2), m.mean(dim=2)
        # TF concatenates [max, mean] on a trailing axis and flattens: features interleave max_i, mean_i
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        pen = self.bn_dense(F.relu(self.dense(self.bn_pool(pooled))))
        logits = self.out(pen)
        out = {
            "logits": logits,
            "probs": torch.sigmoid(logits),
            "penultimate": pen,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
        }
        if return_maps:
            t = lambda a: a.transpose(1, 2)  # noqa: E731  (B, T, C) like musicnn's feature maps
            out.update(
                timbral=t(torch.cat(front[:2], 1)),
                temporal=t(torch.cat(front[2:], 1)),
                cnn1=t(feats[1]),
                cnn2=t(feats[2]),
                cnn3=t(feats[3]),
            )
        return out

    # -- weights from the TF checkpoint ----------------------------------------------------------
    def load_tf(self, tensors: dict[str, np.ndarray]) -> MusiCNN:
        """Copy TF1 variables (names as tf.compat.v1.layers numbers them in build_musicnn) into place."""

        def t(name):
            if name not in tensors:
                raise KeyError(f"checkpoint has no variable {name}")
            return torch.from_numpy(np.ascontiguousarray(tensors[name], dtype=np.float32))

        def bn(mod, i):
            p = "batch_normalization" + (f"_{i}" if i else "")
            for ours, theirs in (
                ("gamma", "gamma"),
                ("beta", "beta"),
                ("mean", "moving_mean"),
                ("var", "moving_variance"),
            ):
                buf = getattr(mod, ours)
                buf.copy_(t(f"{p}/{theirs}").reshape(buf.shape))

        def conv(mod, i):
            p = "conv2d" + (f"_{i}" if i else "")
            k = t(f"{p}/kernel")  # HWIO
            w = k.permute(3, 2, 0, 1) if mod.weight.dim() == 4 else k[:, :, 0, :].permute(2, 1, 0)
            if w.shape != mod.weight.shape:
                raise ValueError(f"{p}/kernel: shape {tuple(k.shape)} does not fit {tuple(mod.weight.shape)}")
            mod.weight.copy_(w)
            mod.bias.copy_(t(f"{p}/bias"))

        def dense(mod, name):
            mod.weight.copy_(t(f"{name}/kernel").T)
            mod.bias.copy_(t(f"{name}/bias"))

        with torch.no_grad():
            # creation order in build_musicnn: input BN; (conv, BN) x 5 front-end; (conv, BN) x 3 mid-end;
            # back-end BN, dense, BN, dense
            bn(self.bn_in, 0)
            for i, c in enumerate(list(self.timbral) + list(self.temporal)):
                conv(c, i)
                bn(self.bn_front[i], i + 1)
            for i, c in enumerate(self.mid):
                conv(c, 5 + i)
                bn(self.bn_mid[i], 6 + i)
            bn(self.bn_pool, 9)
            dense(self.dense, "dense")
            bn(self.bn_dense, 10)
            dense(self.out, "dense_1")
        return self


_CACHE: dict[str, MusiCNN] = {}


def load_musicnn(name: str = "MSD_musicnn") -> MusiCNN:
    """The pretrained musicnn `name` ('MTT_musicnn' or 'MSD_musicnn') as an eval-mode MusiCNN, with the
    weights J2A ships (load_weights). Cached per process (~3 MB of weights each).

    Encoder use (issue 5): `batch, fps = musicnn_windows(y16k)`; `out = load_musicnn()(batch)` gives
    per-window `penultimate` (200-d) and `mean_pool`/`max_pool` (753-d) features at `fps` windows/s.
    """
    if name not in MODELS:
        raise ValueError(f"unknown musicnn model {name!r}; choose one of {', '.join(MODELS)}")
    if name not in _CACHE:
        net = MusiCNN(n_classes=len(LABELS[name])).load_tf(load_weights(name))
        net.eval().requires_grad_(False)
        _CACHE[name] = net
    return _CACHE[name]
