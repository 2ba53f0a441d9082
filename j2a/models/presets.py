"""Named J2A-2.x presets: the projector shape each model version uses (see the model-versions note).

j2a-2.0  encoder features averaged over time -> linear -> LayerNorm: K audio tokens (default 4)
j2a-2.1  the full feature sequence -> linear -> LayerNorm -> average pooling over time (stride 2)
mlp      like j2a-2.1 with a two-layer MLP
"""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "j2a-2.0": {"kind": "j2a-2.0", "n_tokens": 4},
    "j2a-2.1": {"kind": "j2a-2.1", "stride": 2},
    "mlp": {"kind": "mlp", "stride": 2},
}


def projector_dict(preset: str, n_tokens: int | None = None, stride: int | None = None) -> dict:
    """ProjectorConfig fields for a preset, with optional overrides (dims and scale are filled in later)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose {', '.join(PRESETS)})")
    d = dict(PRESETS[preset])
    if n_tokens:
        d["n_tokens"] = n_tokens
    if stride:
        d["stride"] = stride
    return d
