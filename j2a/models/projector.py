"""Audio projectors: encoder features (B, T, D_enc) -> LLM input embeddings (B, N, D_llm).

The only trained part of a J2A-2.x model. Three kinds:
    j2a-2.0  mean over time -> linear -> LayerNorm         (K = n_tokens audio tokens)
    j2a-2.1  sequence -> linear -> LayerNorm -> avg-pool over time with `stride` (T / stride tokens)
    mlp      sequence -> linear -> GELU -> linear -> LayerNorm -> avg-pool with `stride`

Why `scale`: a frozen LLM expects inputs at the size of its own token embeddings; Gemma's embedding
layer multiplies looked-up rows by sqrt(hidden_size) inside its forward, so rows taken from the
weight matrix are far too small. We measure the RMS of what the LLM's input-embedding module
actually outputs (`embedding_rms`) and scale the unit-RMS LayerNorm output to it.

Why `in_mean` / `in_std`: some encoders' feature dimensions differ wildly in scale; `j2a train
--input-stats` sets them once from the training features (`set_input_stats`) so every dimension
reaches the linear layer centred and at unit scale. Off by default: on musicnn penultimate+rhythm
features centring removed the shared offset through which the projector first learns the caption
format, and the loss fell far slower (3.5 vs 1.0 after 100 steps, bench/RESULTS.md). They are
buffers, saved with the weights; zeros / ones (the identity) when never set, as in checkpoints
written before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

KINDS = ("j2a-2.0", "j2a-2.1", "mlp")


@dataclass
class ProjectorConfig:
    kind: str = "j2a-2.1"
    in_dim: int = 0
    out_dim: int = 0
    n_tokens: int = 1  # j2a-2.0: K audio tokens from the mean vector
    stride: int = 2  # j2a-2.1 / mlp: pooling stride over time
    hidden: int = 0  # mlp hidden width (0: same as out_dim)
    scale: float = 1.0  # RMS of the LLM's input embeddings


class Projector(nn.Module):
    def __init__(self, cfg: ProjectorConfig):
        super().__init__()
        if cfg.kind not in KINDS:
            raise ValueError(f"unknown projector {cfg.kind!r} (choose {', '.join(KINDS)})")
        self.cfg = cfg
        if cfg.kind == "j2a-2.0":
            self.net = nn.Linear(cfg.in_dim, cfg.out_dim * cfg.n_tokens)
        elif cfg.kind == "j2a-2.1":
            self.net = nn.Linear(cfg.in_dim, cfg.out_dim)
        else:
            h = cfg.hidden or cfg.out_dim
            self.net = nn.Sequential(nn.Linear(cfg.in_dim, h), nn.GELU(), nn.Linear(h, cfg.out_dim))
        self.norm = nn.LayerNorm(cfg.out_dim)
        self.register_buffer("in_mean", torch.zeros(cfg.in_dim))
        self.register_buffer("in_std", torch.ones(cfg.in_dim))

    @torch.no_grad()
    def set_input_stats(self, feats: torch.Tensor) -> None:
        """Per-dimension mean and std of encoder features (…, D_enc); a constant dimension keeps std 1."""
        x = feats.reshape(-1, feats.shape[-1]).float()
        std = x.std(0) if len(x) > 1 else torch.ones(x.shape[1])
        self.in_mean.copy_(x.mean(0))
        self.in_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def n_tokens(self, t: int) -> int:
        """Audio tokens produced for a T-frame input."""
        if self.cfg.kind == "j2a-2.0":
            return self.cfg.n_tokens
        return max(1, -(-t // self.cfg.stride))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        feats = (feats - self.in_mean.to(feats.dtype)) / self.in_std.to(feats.dtype)
        if c.kind == "j2a-2.0":
            x = self.net(feats.mean(1)).reshape(feats.shape[0], c.n_tokens, c.out_dim)
            return self.norm(x) * c.scale
        x = self.norm(self.net(feats))
        if c.stride > 1:  # ceil so a short tail still gets a token
            x = F.avg_pool1d(x.transpose(1, 2), c.stride, c.stride, ceil_mode=True).transpose(1, 2)
            # averaging shrinks the vectors; bring each pooled token back to unit RMS (no parameters)
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        return x * c.scale


def load_projector_weights(projector: Projector, path: str | Path) -> None:
    """Load projector.safetensors; files from before the input statistics existed load as identity."""
    from safetensors.torch import load_file

    sd = load_file(str(path))
    missing = {"in_mean", "in_std"} - set(sd)
    for k in missing:
        sd[k] = getattr(projector, k).clone()
    projector.load_state_dict(sd)


def embedding_rms(llm) -> float:
    """RMS of the LLM's input-embedding outputs over a spread of vocabulary ids (includes Gemma's sqrt(d))."""
    emb = llm.get_input_embeddings()
    n = emb.num_embeddings if hasattr(emb, "num_embeddings") else emb.weight.shape[0]
    ids = torch.linspace(0, n - 1, min(n, 4096)).long()
    with torch.no_grad():
        return float(emb(ids[None]).float().pow(2).mean().sqrt())
