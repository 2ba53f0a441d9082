"""Frozen audio encoders behind one interface: waveform (batch, samples) -> (batch, time, dim).

Why one interface: the projector and the training loop only need a feature sequence and its frame
rate, so any encoder (musicnn, MW-MAE, a Hugging Face audio model, a tiny random one for tests)
plugs in by name:

    tiny-random[:SEED]         log-mel -> frame pooling -> random linear (32-d, 10 frames/s); tests
    musicnn[:MODEL[:LAYER[:HOP_S]]]  the pretrained musicnn port (one vector per 3-s window, 1-s hop;
                               LAYER penultimate+rhythm by default; also penultimate, pool ...)
    mwmae:CHECKPOINT_DIR       an MW-MAE encoder from `j2a pretrain-encoder` (25 frames/s)
    mwmae-SIZE                 a randomly initialised MW-MAE encoder (tiny, mini, small, base)
    hf:ID_OR_PATH[@LAYER]      any transformers audio model (MERT, CLAP audio tower, Whisper encoder,
                               AST, wav2vec2 ...); LAYER indexes hidden_states (default -1)

Encoders whose weights are not reachable by name elsewhere (tiny-random, mwmae) are saved inside
a J2A-2.x checkpoint (`weights_in_checkpoint`), so a checkpoint is self-contained.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class Encoder(nn.Module):
    """Base class. Subclasses set spec, dim, frame_rate, sample_rate and implement forward()."""

    spec: str = ""
    dim: int = 0
    frame_rate: float = 0.0
    sample_rate: int = 16000
    weights_in_checkpoint: bool = False

    def config(self) -> dict:
        """What build_encoder needs (besides the spec) to rebuild this encoder before loading weights."""
        return {}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, T, D)
        raise NotImplementedError

    def n_frames(self, n_samples: int) -> int:
        """Sequence length for an input of n_samples (used to size caches and pooling)."""
        with torch.no_grad():
            return int(self(torch.zeros(1, n_samples)).shape[1])


class TinyRandomEncoder(Encoder):
    """Log-mel frames averaged in groups of `pool`, through a fixed random linear map + tanh."""

    weights_in_checkpoint = True

    def __init__(self, seed: int = 0, dim: int = 32, n_mels: int = 40, pool: int = 10):
        super().__init__()
        from .mwmae import LogMel

        self.spec, self.dim, self.sample_rate = f"tiny-random:{seed}", dim, 16000
        self.pool = pool
        self.frame_rate = self.sample_rate / 160 / pool
        self.mel = LogMel(self.sample_rate, 400, 160, n_mels)
        g = torch.Generator().manual_seed(seed)
        self.proj = nn.Linear(n_mels, dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(dim, n_mels, generator=g) / n_mels**0.5)
            self.proj.bias.zero_()

    def forward(self, wave):
        m = self.mel(wave)
        t = max(1, m.shape[1] // self.pool)
        m = (
            m[:, : t * self.pool].reshape(m.shape[0], t, self.pool, -1).mean(2)
            if m.shape[1] >= self.pool
            else m.mean(1, keepdim=True)
        )
        return torch.tanh(self.proj(m))


class MWMAEEncoder(Encoder):
    """The encoder half of an MW-MAE (j2a.models.mwmae); the decoder is dropped."""

    weights_in_checkpoint = True

    def __init__(self, spec: str, model):
        super().__init__()
        self.spec, self.model = spec, model
        self.dim, self.sample_rate, self.frame_rate = model.cfg.dim, model.cfg.sample_rate, model.cfg.frame_rate
        # the decoder is not needed downstream
        for name in ("dec_embed", "dec_blocks", "dec_norm", "dec_pred"):
            setattr(model, name, nn.Identity())
        model.mask_token = None

    def config(self):
        from dataclasses import asdict

        return {"mwmae": asdict(self.model.cfg)}

    def forward(self, wave):
        return self.model.features(wave)


class MusicnnEncoder(Encoder):
    """musicnn (Pons & Serra) as a sequence encoder: one feature vector per 3-s window, 1-s hop.

    LAYER names one part or several joined by "+" (concatenated in that order):
      penultimate  200-d dense layer before the tag logits (the usual transfer embedding)
      mean_pool / max_pool  753-d temporal mean / max of the mid-level maps; pool = both (1506-d)
      rhythm       61-d periodicity summary of the frame-level maps (see `rhythm_features`)
    MTT_musicnn (default) was trained on MagnaTagATune, whose tags name instruments (piano,
    strings, flute, harp ...). Why `rhythm`: every musicnn output above pools its 187 frames
    (16 ms each) over the window, which keeps timbre but throws away *when* things happen; a linear
    probe on penultimate features tells slow / medium / fast renditions of the same score apart
    only 58% of the time, on penultimate+rhythm (the default) 79% (bench/encoder_probe.py), and a
    J2A-2.1 model's captions get the tempo class right 0.60 of the time instead of 0.48
    (bench/RESULTS.md, J2A-2.x end to end).
    """

    PARTS = {"penultimate": 200, "mean_pool": 753, "max_pool": 753, "rhythm": 61}

    def __init__(self, name: str = "MTT_musicnn", layer: str = "penultimate+rhythm", hop_s: float = 1.0):
        super().__init__()
        from ..features.musicnn_net import load_musicnn

        parts = [q for p in layer.split("+") for q in (("mean_pool", "max_pool") if p == "pool" else (p,))]
        bad = [p for p in parts if p not in self.PARTS]
        if bad or not parts:
            raise ValueError(f"unknown musicnn layer {layer!r} (parts: {', '.join(self.PARTS)}, pool; join with +)")
        hop_s = float(hop_s)
        self.spec = f"musicnn:{name}:{layer}:{hop_s:g}"
        self.net, self.layer, self.parts, self.hop_s = load_musicnn(name), layer, parts, hop_s
        self.sample_rate = 16000
        self.frame_rate = 1.0 / hop_s
        self.dim = sum(self.PARTS[p] for p in parts)

    def _one(self, y: torch.Tensor) -> torch.Tensor:
        from ..features.musicnn_net import musicnn_windows

        batch, _ = musicnn_windows(y.detach().cpu().numpy(), hop_s=self.hop_s)
        out = self.net(batch.to(y.device), return_maps="rhythm" in self.parts)
        if "rhythm" in self.parts:
            out["rhythm"] = rhythm_features(out)
        return torch.cat([out[p] for p in self.parts], -1)

    def forward(self, wave):
        seqs = [self._one(w) for w in wave]
        t = max(s.shape[0] for s in seqs)  # equal-length inputs give equal lengths; pad defensively
        return torch.stack([torch.cat([s, s[-1:].expand(t - len(s), -1)]) for s in seqs])


RHYTHM_LAGS = range(15, 70)  # 16-ms frames: 0.24-1.10 s, beat periods of 55-250 BPM
MAP_GROUPS = (
    ("timbral", 0, 204),
    ("timbral", 204, 408),
    ("temporal", 0, 153),
    ("cnn1", 0, 64),
    ("cnn2", 0, 64),
    ("cnn3", 0, 64),
)


def rhythm_features(out: dict[str, torch.Tensor]) -> torch.Tensor:
    """(W, 61) per window from musicnn's frame-level maps (`return_maps=True`).

    An onset curve is the half-wave-rectified frame-to-frame rise of all 753 map channels, averaged;
    its normalised autocorrelation at lags 0.24-1.10 s (55 values) peaks at the beat period and its
    multiples. Six onset densities (mean rise per frame of each front-end / mid-end map group, x10 to
    unit scale) say how busy the window is, which separates a beat period from twice it.
    """
    rises = []
    for name, a, b in MAP_GROUPS:
        m = out[name][..., a:b]
        rises.append((m[:, 1:] - m[:, :-1]).clamp(min=0))  # (W, T-1, C)
    dens = torch.stack([r.mean((1, 2)) for r in rises], 1) * 10.0
    oc = torch.cat(rises, -1).mean(2)
    oc = oc - oc.mean(1, keepdim=True)
    var = oc.pow(2).mean(1, keepdim=True) + 1e-6
    ac = torch.stack([(oc[:, :-lag] * oc[:, lag:]).mean(1) for lag in RHYTHM_LAGS], 1) / var
    return torch.cat([ac, dens], 1)


class HFEncoder(Encoder):
    """Any transformers audio model; hidden_states[layer] is the sequence.

    Loads from the hub when there is internet, or from a local folder. Whisper-style
    encoder-decoders use their encoder; CLAP uses its audio tower.
    """

    def __init__(self, name: str, layer: int = -1):
        super().__init__()
        from transformers import AutoFeatureExtractor, AutoModel

        self.spec = f"hf:{name}@{layer}"
        self.fe = AutoFeatureExtractor.from_pretrained(name, trust_remote_code=True)
        model = AutoModel.from_pretrained(name, trust_remote_code=True)
        if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
            model = model.get_encoder()
        elif hasattr(model, "audio_model"):  # CLAP
            model = model.audio_model
        self.model, self.layer = model.eval(), layer
        self.sample_rate = int(getattr(self.fe, "sampling_rate", 16000))
        with torch.no_grad():
            t2 = self(torch.zeros(1, 2 * self.sample_rate)).shape
            t4 = self(torch.zeros(1, 4 * self.sample_rate)).shape
        self.dim = int(t2[-1])
        if t4[1] != t2[1]:
            self.frame_rate = (t4[1] - t2[1]) / 2.0
        else:  # fixed-length input (Whisper pads to 30 s, AST to ~10 s)
            self.frame_rate = t2[1] / float(
                getattr(self.fe, "chunk_length", None) or getattr(self.fe, "max_length", 1024) / 100
            )

    def forward(self, wave):
        inputs = self.fe(
            [w.cpu().numpy() for w in wave], sampling_rate=self.sample_rate, return_tensors="pt", padding=True
        )
        inputs = {
            k: v.to(wave.device)
            for k, v in inputs.items()
            if k != "attention_mask" or "whisper" not in self.spec.lower()
        }
        out = self.model(**inputs, output_hidden_states=True)
        h = out.hidden_states[self.layer]
        if h.dim() == 4:  # (B, C, F, T) conv-style hidden states
            h = h.mean(2).transpose(1, 2)
        return h


def build_encoder(spec: str, config: dict | None = None) -> Encoder:
    """Build an encoder from its name (see module docstring); `config` comes from a saved checkpoint."""
    spec = spec.strip()
    if spec == "tiny-random" or spec.startswith("tiny-random:"):
        seed = int(spec.split(":", 1)[1]) if ":" in spec else 0
        return TinyRandomEncoder(seed).eval()
    if spec.startswith("mwmae"):
        from .mwmae import MWMAE, MWMAEConfig, make_config

        if config and "mwmae" in config:  # rebuilt from a J2A-2.x checkpoint; weights follow
            return MWMAEEncoder(spec, MWMAE(MWMAEConfig(**config["mwmae"]))).eval()
        if spec.startswith("mwmae:"):
            return MWMAEEncoder(spec, MWMAE.load(spec.split(":", 1)[1])).eval()
        size = spec.split("-", 1)[1] if "-" in spec else "tiny"
        torch.manual_seed(0)
        return MWMAEEncoder(spec, MWMAE(make_config(size))).eval()
    if spec == "musicnn" or spec.startswith("musicnn:"):
        parts = spec.split(":")
        return MusicnnEncoder(*(parts[1:] or [])).eval()
    if spec.startswith("hf:"):
        name, _, layer = spec[3:].partition("@")
        return HFEncoder(name, int(layer) if layer else -1).eval()
    raise ValueError(f"unknown encoder {spec!r} (use tiny-random, musicnn, mwmae:DIR, mwmae-SIZE or hf:ID)")
