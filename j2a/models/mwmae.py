"""MW-MAE: a Multi-Window Masked Autoencoder for audio, after Yadav et al. (ICLR 2024).

Why this design: a ViT encoder over log-mel patches learns general audio features by reconstructing
patches it cannot see (80 % masked). MW-MAE's twist is the decoder: each attention head looks at a
different local window of the patch sequence (a few patches ... the whole clip), plus global heads,
so the encoder is pushed to keep both local (onsets, timbre) and global (rhythm, harmony) detail.

Patches are `patch_t` frames x `patch_f` mel bins, ordered time-major, so a local window over the
flattened sequence is a neighbourhood in time. Only the encoder is used downstream
(`MWMAE.features`): one vector per patch column in time, i.e. `sr / hop / patch_t` frames per second.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class MWMAEConfig:
    """Model size and front end. `size` presets fill the transformer dimensions (see SIZES)."""

    size: str = "tiny"
    sample_rate: int = 16000
    n_fft: int = 400
    hop: int = 160  # 100 frames/s
    n_mels: int = 80
    clip_frames: int = 200  # 2 s per encoder window (the paper's input length)
    patch_t: int = 4
    patch_f: int = 16
    mask_ratio: float = 0.8
    dim: int = 192
    depth: int = 12
    heads: int = 3
    dec_dim: int = 384
    dec_depth: int = 4
    dec_heads: int = 8
    # decoder window sizes in patches, one per head (0 = global). Empty: spread automatically.
    dec_windows: list[int] = field(default_factory=list)
    norm_pix_loss: bool = True

    @property
    def grid(self) -> tuple[int, int]:
        return self.clip_frames // self.patch_t, self.n_mels // self.patch_f

    @property
    def n_patches(self) -> int:
        t, f = self.grid
        return t * f

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop / self.patch_t

    def windows(self) -> list[int]:
        """Per-head window sizes: geometric from 2 patch rows up to the clip, last quarter of heads global."""
        if self.dec_windows:
            assert len(self.dec_windows) == self.dec_heads, "dec_windows needs one entry per decoder head"
            return list(self.dec_windows)
        n_global = max(1, self.dec_heads // 4)
        n_local = self.dec_heads - n_global
        _, fp = self.grid
        lo, hi = 2 * fp, self.n_patches // 2
        local = [int(round(lo * (hi / lo) ** (i / max(1, n_local - 1)))) for i in range(n_local)] if n_local else []
        return local + [0] * n_global


SIZES = {
    "tiny": dict(dim=32, depth=2, heads=2, dec_dim=32, dec_depth=1, dec_heads=4),
    "small": dict(dim=384, depth=12, heads=6, dec_dim=384, dec_depth=4, dec_heads=8),
    "base": dict(dim=768, depth=12, heads=12, dec_dim=384, dec_depth=4, dec_heads=8),
}
# a CPU-trainable size between tiny and small, for pretraining here
SIZES["mini"] = dict(dim=128, depth=4, heads=4, dec_dim=128, dec_depth=2, dec_heads=8)


def make_config(size: str = "tiny", **kw) -> MWMAEConfig:
    if size not in SIZES:
        raise ValueError(f"unknown MW-MAE size {size!r} (choose {', '.join(SIZES)})")
    return MWMAEConfig(size=size, **{**SIZES[size], **kw})


# ------------------------------------------------------------------------------------ front end
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """HTK-style triangular mel filters, (n_mels, n_fft//2+1)."""
    fmax = fmax or sr / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    pts = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.maximum(0, np.minimum((freqs - lo) / max(c - lo, 1e-9), (hi - freqs) / max(hi - c, 1e-9)))
    return torch.tensor(fb, dtype=torch.float32)


class LogMel(nn.Module):
    """Waveform (B, N) -> log-mel (B, frames, n_mels), standardised per clip (level-invariant)."""

    def __init__(self, sr: int, n_fft: int, hop: int, n_mels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("fb", mel_filterbank(sr, n_fft, n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave.float(), self.n_fft, self.hop, window=self.window, return_complex=True).abs() ** 2
        x = torch.log(self.fb @ spec + 1e-6).transpose(1, 2)
        x = x[:, : max(1, wave.shape[-1] // self.hop)]  # centred STFT adds one frame: N samples -> N/hop frames
        return (x - x.mean(dim=(1, 2), keepdim=True)) / (x.std(dim=(1, 2), keepdim=True) + 1e-5)


def sincos_2d(t: int, f: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position table (t*f, dim), time-major like the patches."""

    def one(n, d):
        pos = torch.arange(n, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
        out = torch.zeros(n, d)
        out[:, 0::2] = torch.sin(pos * div)
        out[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
        return out

    dt = dim // 2
    pt, pf = one(t, dt), one(f, dim - dt)
    return torch.cat([pt[:, None, :].expand(t, f, dt), pf[None, :, :].expand(t, f, dim - dt)], dim=-1).reshape(
        t * f, dim
    )


# ---------------------------------------------------------------------------------- transformer
class Attention(nn.Module):
    """Multi-head self-attention; `windows[h]` > 0 restricts head h to |i - j| <= window // 2."""

    def __init__(self, dim: int, heads: int, windows: list[int] | None = None):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.windows = windows or [0] * heads

    def _mask(self, n: int, device) -> torch.Tensor | None:
        if not any(self.windows):
            return None
        idx = torch.arange(n, device=device)
        dist = (idx[:, None] - idx[None, :]).abs()
        masks = [dist <= (w // 2) if w > 0 else torch.ones(n, n, dtype=torch.bool, device=device) for w in self.windows]
        return torch.stack(masks)[None]  # (1, H, n, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self._mask(n, x.device))
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, windows: list[int] | None = None):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, windows)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.mlp(self.n2(x))


class MWMAE(nn.Module):
    def __init__(self, cfg: MWMAEConfig):
        super().__init__()
        self.cfg = cfg
        t, f = cfg.grid
        pdim = cfg.patch_t * cfg.patch_f
        self.melspec = LogMel(cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels)
        self.patch_embed = nn.Linear(pdim, cfg.dim)
        self.register_buffer("pos", sincos_2d(t, f, cfg.dim), persistent=False)
        self.blocks = nn.ModuleList([Block(cfg.dim, cfg.heads) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.dim)
        self.dec_embed = nn.Linear(cfg.dim, cfg.dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.dec_dim))
        self.register_buffer("dec_pos", sincos_2d(t, f, cfg.dec_dim), persistent=False)
        self.dec_blocks = nn.ModuleList(
            [Block(cfg.dec_dim, cfg.dec_heads, cfg.windows()) for _ in range(cfg.dec_depth)]
        )
        self.dec_norm = nn.LayerNorm(cfg.dec_dim)
        self.dec_pred = nn.Linear(cfg.dec_dim, pdim)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    # -- patches ------------------------------------------------------------------------------
    def patchify(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, clip_frames, n_mels) -> (B, n_patches, patch_t*patch_f), time-major."""
        c = self.cfg
        t, f = c.grid
        b = mel.shape[0]
        x = mel[:, : t * c.patch_t].reshape(b, t, c.patch_t, f, c.patch_f)
        return x.permute(0, 1, 3, 2, 4).reshape(b, t * f, c.patch_t * c.patch_f)

    def clips(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) waveform -> (B, n_clips, clip_frames, n_mels), zero-padding the last clip."""
        mel = self.melspec(wave)
        cf = self.cfg.clip_frames
        n = max(1, math.ceil(mel.shape[1] / cf))
        mel = F.pad(mel, (0, 0, 0, n * cf - mel.shape[1]))
        return mel.reshape(mel.shape[0], n, cf, mel.shape[2])

    # -- encoder ------------------------------------------------------------------------------
    def encode(self, patches: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        x = self.patch_embed(patches) + self.pos
        if keep is not None:
            x = torch.gather(x, 1, keep[..., None].expand(-1, -1, x.shape[-1]))
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) waveform -> (B, time, dim): encoder tokens averaged over frequency, clips concatenated."""
        clips = self.clips(wave)
        b, n = clips.shape[:2]
        z = self.encode(self.patchify(clips.reshape(b * n, *clips.shape[2:])))
        t, f = self.cfg.grid
        z = z.reshape(b, n, t, f, -1).mean(3)
        return z.reshape(b, n * t, -1)

    # -- masked reconstruction ----------------------------------------------------------------
    def forward(self, mel_clips: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Masked-patch reconstruction loss (MSE on masked patches) for (B, clip_frames, n_mels)."""
        c = self.cfg
        target = self.patchify(mel_clips)
        b, n, _ = target.shape
        n_keep = max(1, int(round(n * (1 - c.mask_ratio))))
        noise = torch.rand(b, n, generator=generator, device=target.device)
        order = noise.argsort(1)
        restore = order.argsort(1)
        keep = order[:, :n_keep]
        z = self.dec_embed(self.encode(target, keep))
        full = torch.cat([z, self.mask_token.expand(b, n - n_keep, -1)], 1)
        full = torch.gather(full, 1, restore[..., None].expand(-1, -1, full.shape[-1])) + self.dec_pos
        for blk in self.dec_blocks:
            full = blk(full)
        pred = self.dec_pred(self.dec_norm(full))
        if c.norm_pix_loss:
            mu, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mu) / (var + 1e-6).sqrt()
        mask = torch.ones(b, n, device=target.device)
        mask[:, :n_keep] = 0
        mask = torch.gather(mask, 1, restore)
        per_patch = ((pred - target) ** 2).mean(-1)
        return (per_patch * mask).sum() / mask.sum()

    # -- files ----------------------------------------------------------------------------------
    def save(self, out_dir: str | Path) -> None:
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "mwmae_config.json").write_text(json.dumps(asdict(self.cfg), indent=2))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(out / "mwmae.safetensors"))

    @classmethod
    def load(cls, path: str | Path) -> MWMAE:
        from safetensors.torch import load_file

        p = Path(path)
        if not (p / "mwmae_config.json").is_file():
            raise ValueError(f"{p}: not an MW-MAE checkpoint (no mwmae_config.json)")
        cfg = MWMAEConfig(**json.loads((p / "mwmae_config.json").read_text()))
        m = cls(cfg)
        m.load_state_dict(load_file(str(p / "mwmae.safetensors")))
        return m.eval()
