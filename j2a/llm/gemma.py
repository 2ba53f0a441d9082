"""Gemma 3 text decoder for inference, in plain PyTorch (no transformers at run time).

Why J2A carries its own: `j2a describe` loads the LLM on every call, and importing transformers'
Gemma 3 classes alone took 4.75 s of the 7.5-10 s load (it drags in torch.distributed, dynamo, sympy
and scipy); decoding through its generic modules also costs several Python-level ops per layer per
token. This module is the same network, read from the same safetensors folder (J2A's merged J2A-LLM
copies and the Gemma base built from the GGUF package), with q/k/v and gate/up projections fused
into one matrix product each. tests/test_gemma.py checks its logits against transformers' Gemma 3
on random weights (full, sliding-window and global layers, KV cache, left padding, beam reordering).

The interface is the slice of transformers' that `j2a.llm.backends.HFLLM` decodes with: `get_decoder()(input_ids,
attention_mask, position_ids, past_key_values, use_cache)` -> `.last_hidden_state` (after the final
norm) and `.past_key_values` (with `batch_repeat_interleave` / `reorder_cache` for beam search), and
`get_output_embeddings().weight` (tied to the input embeddings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GemmaConfig:
    """The fields of a transformers Gemma3TextConfig that inference needs (config.json keys)."""

    vocab_size: int = 262144
    hidden_size: int = 640
    intermediate_size: int = 2048
    num_hidden_layers: int = 18
    num_attention_heads: int = 4
    num_key_value_heads: int = 1
    head_dim: int = 256
    rms_norm_eps: float = 1e-6
    query_pre_attn_scalar: float = 256
    sliding_window: int = 512
    layer_types: list[str] = field(default_factory=list)  # "sliding_attention" | "full_attention" per layer
    rope_theta: dict[str, float] = field(default_factory=lambda: {"sliding_attention": 10000.0, "full_attention": 1e6})
    rope_factor: dict[str, float] = field(default_factory=dict)  # linear position scaling per layer type
    final_logit_softcapping: float | None = None
    # attn_logit_softcapping is not read: Gemma 3 replaced it by q/k norms, and transformers' Gemma 3
    # ignores the field too (tests/test_gemma.py compares against transformers)
    hidden_activation: str = "gelu_pytorch_tanh"
    tie_word_embeddings: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> GemmaConfig:
        """From a config.json of transformers 4.5x (rope_theta + rope_local_base_freq) or 5.x (rope_parameters)."""
        if d.get("model_type") not in ("gemma3_text", None):
            raise ValueError(f"not a Gemma 3 text config (model_type {d.get('model_type')!r})")
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k not in ("rope_theta", "layer_types")}
        n = d.get("num_hidden_layers", cls.num_hidden_layers)
        types = d.get("layer_types") or [
            "full_attention"
            if (i + 1) % d.get("sliding_window_pattern", d.get("_sliding_window_pattern", 6)) == 0
            else "sliding_attention"
            for i in range(n)
        ]
        theta, factor = {}, {}
        params = d.get("rope_parameters")
        if isinstance(params, dict) and "full_attention" in params:
            for t, p in params.items():
                theta[t] = float(p.get("rope_theta", 10000.0))
                if p.get("rope_type", "default") == "linear":
                    factor[t] = float(p["factor"])
                elif p.get("rope_type", "default") != "default":
                    raise ValueError(f"rope type {p.get('rope_type')!r} is not supported by j2a.llm.gemma")
        else:
            theta = {
                "full_attention": float(d.get("rope_theta", 1e6)),
                "sliding_attention": float(d.get("rope_local_base_freq", 10000.0)),
            }
            scaling = d.get("rope_scaling") or {}
            if scaling.get("rope_type", scaling.get("type")) == "linear":
                factor["full_attention"] = float(scaling["factor"])
            elif scaling:
                raise ValueError(f"rope scaling {scaling!r} is not supported by j2a.llm.gemma")
        return cls(**kw, layer_types=types, rope_theta=theta, rope_factor=factor)


class RMSNorm(nn.Module):
    """Gemma's RMSNorm: computed in fp32, scaled by (1 + weight)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim))  # filled by load()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * (1.0 + self.weight.float())).type_as(x)


FEW_ROWS = 16  # up to this many rows, an fp32 product is computed as (w @ x.T).T


def _linear(x: torch.Tensor, w: torch.Tensor, small=None) -> torch.Tensor:
    """x @ w.T, with `small` (a low-precision copy of w, see quantize_decode) for decode steps.

    Why the cases: a decode step (one new token per row) reads every weight for a handful of rows, so
    it is bound by memory bandwidth; int8 weights read a quarter of fp32's bytes, and stay faster up to
    64 rows (16 prompts x 4 beams). They serve every decode step, whatever the batch, so a prompt gets
    the same caption alone or in a batch. Prompts (many positions) are compute-bound and stay fp32.
    For a few fp32 rows, (w @ x.T).T beats F.linear: MKL's small-M GEMM is slow on AVX2 CPUs.
    The timings are in bench/RESULTS.md (Describe speed)."""
    b, t, _ = x.shape
    x2 = x.reshape(b * t, -1)
    if small is not None and t == 1:
        if small[0].dtype == torch.int8:
            y = torch.ops.aten._weight_int8pack_mm(x2.bfloat16(), small[0], small[1]).to(x.dtype)
        else:
            y = (x2.to(small[0].dtype) @ small[0].T).to(x.dtype)
    elif b * t <= FEW_ROWS:
        y = (w @ x2.T).T
    else:
        return F.linear(x, w)
    return y.reshape(b, t, -1)


def _quantize(w: torch.Tensor, kind: str):
    """A decoding copy of w: ("int8": int8 rows + one bf16 scale per row; "bf16": bf16)."""
    if kind == "bf16":
        return (w.to(torch.bfloat16),)
    if kind == "int8":
        scale = (w.abs().amax(1) / 127).clamp(min=1e-12)
        return torch.round(w / scale[:, None]).to(torch.int8), scale.to(torch.bfloat16)
    raise ValueError(f"decode precision {kind!r}: use fp32, bf16 or int8")


def _int8_kernel_works() -> bool:
    """Whether torch's weight-only int8 matmul runs here (and agrees with a plain product)."""
    try:
        w = (torch.arange(256, dtype=torch.float32).reshape(8, 32) % 7) - 3
        q, scale = _quantize(w, "int8")
        y = torch.ops.aten._weight_int8pack_mm(torch.ones(1, 32, dtype=torch.bfloat16), q, scale).float()
        return bool(torch.allclose(y, w.sum(1)[None], atol=0.5))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def _inv_freq(cfg: GemmaConfig, kind: str) -> torch.Tensor:
    """RoPE frequencies of a layer type (its own base; linear scaling divides positions by the factor)."""
    hd = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta[kind] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    return inv / cfg.rope_factor.get(kind, 1.0)


class Cache:
    """Per-layer keys and values (B, kv_heads, T, head_dim), all positions kept (sliding layers mask)."""

    def __init__(self, n_layers: int):
        self.k: list[torch.Tensor | None] = [None] * n_layers
        self.v: list[torch.Tensor | None] = [None] * n_layers

    def length(self) -> int:
        return 0 if self.k[0] is None else self.k[0].shape[2]

    def update(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k[i] is not None:
            k, v = torch.cat([self.k[i], k], dim=2), torch.cat([self.v[i], v], dim=2)
        self.k[i], self.v[i] = k, v
        return k, v

    def batch_repeat_interleave(self, n: int) -> None:
        """Each row n times in place (one prompt's prefill shared by its n beams)."""
        self.k = [None if t is None else t.repeat_interleave(n, 0) for t in self.k]
        self.v = [None if t is None else t.repeat_interleave(n, 0) for t in self.v]

    def reorder_cache(self, idx: torch.Tensor) -> None:
        """Rows picked by idx (the beams that survive a step)."""
        self.k = [None if t is None else t.index_select(0, idx) for t in self.k]
        self.v = [None if t is None else t.index_select(0, idx) for t in self.v]


class Layer(nn.Module):
    """One decoder layer: pre/post-normed attention (q/k norms, RoPE, GQA) and pre/post-normed gated MLP."""

    def __init__(self, cfg: GemmaConfig, kind: str):
        super().__init__()
        d, h, kv, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.kind, self.heads, self.kv_heads, self.head_dim = kind, h, kv, hd
        # weight matrices (out, in) left uninitialised: load() assigns them (no seconds of random init)
        self.qkv = nn.Parameter(torch.empty((h + 2 * kv) * hd, d))
        self.o = nn.Parameter(torch.empty(d, h * hd))
        self.gate_up = nn.Parameter(torch.empty(2 * cfg.intermediate_size, d))
        self.down = nn.Parameter(torch.empty(d, cfg.intermediate_size))
        self.q_norm, self.k_norm = RMSNorm(hd, cfg.rms_norm_eps), RMSNorm(hd, cfg.rms_norm_eps)
        self.norms = nn.ModuleList([RMSNorm(d, cfg.rms_norm_eps) for _ in range(4)])  # in, post-attn, pre-ff, post-ff
        self.scale = cfg.query_pre_attn_scalar**-0.5
        self.small: dict[str, tuple] = {}  # decoding copies of the matrices (GemmaForCausalLM.quantize_decode)

    def forward(self, x, cos, sin, mask, cache: Cache | None, i: int) -> torch.Tensor:
        b, t, _ = x.shape
        h, kv, hd = self.heads, self.kv_heads, self.head_dim
        q, k, v = _linear(self.norms[0](x), self.qkv, self.small.get("qkv")).split([h * hd, kv * hd, kv * hd], dim=-1)
        q = self.q_norm(q.view(b, t, h, hd)).transpose(1, 2)
        k = self.k_norm(k.view(b, t, kv, hd)).transpose(1, 2)
        v = v.view(b, t, kv, hd).transpose(1, 2)
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        if cache is not None:
            k, v = cache.update(i, k, v)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale, enable_gqa=kv != h)
        x = x + self.norms[1](_linear(a.transpose(1, 2).reshape(b, t, h * hd), self.o, self.small.get("o")))
        gate, up = _linear(self.norms[2](x), self.gate_up, self.small.get("gate_up")).chunk(2, dim=-1)
        return x + self.norms[3](_linear(F.gelu(gate, approximate="tanh") * up, self.down, self.small.get("down")))


@dataclass
class Output:
    last_hidden_state: torch.Tensor
    past_key_values: Cache | None


class Decoder(nn.Module):
    """Embeddings (scaled by sqrt(hidden)) -> layers -> final norm."""

    def __init__(self, cfg: GemmaConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size, _weight=torch.empty(cfg.vocab_size, cfg.hidden_size))
        self.layers = nn.ModuleList([Layer(cfg, kind) for kind in cfg.layer_types])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        for kind in set(cfg.layer_types):
            self.register_buffer(f"inv_freq_{kind}", _inv_freq(cfg, kind), persistent=False)

    def _rope(self, kind: str, pos: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        f = pos.float()[..., None] * getattr(self, f"inv_freq_{kind}")  # (B, T, hd/2)
        emb = torch.cat([f, f], dim=-1)[:, None]  # (B, 1, T, hd)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def _mask(self, kind: str, attention_mask, past: int, t: int, dtype) -> torch.Tensor | None:
        """Additive mask (B or 1, 1, t, past + t): causal, padding keys and (sliding layers) the window.
        None when nothing is masked: a single new token with every key valid and in its window."""
        n = past + t
        window = self.cfg.sliding_window if kind == "sliding_attention" else None
        if attention_mask is None and t == 1 and (window is None or n <= window):
            return None
        qi = torch.arange(past, n)[:, None]
        ki = torch.arange(n)[None, :]
        ok = ki <= qi
        if window is not None:
            ok = ok & (qi - ki < window)
        ok = ok[None, None]
        if attention_mask is not None:
            ok = ok & attention_mask[:, None, None, -n:].bool()
        # a large finite negative (not -inf): fully masked rows (left padding) stay finite
        return torch.zeros(ok.shape, dtype=dtype).masked_fill(~ok, torch.finfo(dtype).min)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        use_cache: bool = False,
        inputs_embeds=None,
        **_,
    ):
        x = self.embed(input_ids) if inputs_embeds is None else inputs_embeds
        x = x * torch.tensor(self.cfg.hidden_size**0.5, dtype=x.dtype)
        b, t, _ = x.shape
        cache = past_key_values if past_key_values is not None else (Cache(len(self.layers)) if use_cache else None)
        past = cache.length() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + t)[None].expand(b, t)
        ropes = {kind: self._rope(kind, position_ids, x.dtype) for kind in set(self.cfg.layer_types)}
        masks = {kind: self._mask(kind, attention_mask, past, t, x.dtype) for kind in set(self.cfg.layer_types)}
        for i, layer in enumerate(self.layers):
            cos, sin = ropes[layer.kind]
            x = layer(x, cos, sin, masks[layer.kind], cache, i)
        return Output(self.norm(x), cache)


@dataclass
class CausalLMOutput:
    logits: torch.Tensor
    past_key_values: Cache | None


class GemmaForCausalLM(nn.Module):
    """Decoder + output layer tied to the input embeddings; calling it returns logits like transformers'."""

    def __init__(self, cfg: GemmaConfig):
        super().__init__()
        self.config = cfg
        self.model = Decoder(cfg)

    def quantize_decode(self, kind: str = "int8") -> GemmaForCausalLM:
        """Decode steps (one new token per row) use `kind` copies of the layer matrices: "int8" (per-row
        scales, bf16 activations), "bf16", or "fp32" (none). Prompts keep the fp32 weights.
        Their agreement with fp32 (top-1, KL) and their speed: bench/RESULTS.md (Describe speed).
        Where this PyTorch build lacks the int8 kernel, decode steps stay fp32 (with a warning)."""
        if kind == "int8" and not _int8_kernel_works():
            import warnings

            warnings.warn(
                "j2a.llm.gemma: this PyTorch has no working _weight_int8pack_mm; decoding in fp32", stacklevel=2
            )
            kind = "fp32"
        for layer in self.model.layers:
            mats = {} if kind == "fp32" else {n: getattr(layer, n).data for n in ("qkv", "o", "gate_up", "down")}
            # the int8 kernel reads its inner dimension 8 at a time: other widths crash it (K = 4, 12, 20
            # segfaulted with torch 2.13), so such matrices keep fp32 steps
            layer.small = {n: _quantize(w, kind) for n, w in mats.items() if kind != "int8" or w.shape[1] % 8 == 0}
        self.decode_precision = kind
        return self

    def get_decoder(self) -> Decoder:
        return self.model

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed

    def get_output_embeddings(self) -> nn.Embedding:
        return self.model.embed  # tied: its weight is the output layer's (vocab, hidden) matrix

    def forward(self, input_ids=None, **kw) -> CausalLMOutput:
        o = self.model(input_ids, **kw)
        logits = F.linear(o.last_hidden_state, self.model.embed.weight)
        cap = self.config.final_logit_softcapping
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return CausalLMOutput(logits, o.past_key_values)


def load(folder: str | Path, dtype=torch.float32) -> GemmaForCausalLM:
    """A Gemma 3 text model from a transformers-style folder (config.json + model.safetensors).

    Raises ValueError naming the folder when the weights do not fit the config."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg = GemmaConfig.from_dict(json.loads((folder / "config.json").read_text()))
    if not cfg.tie_word_embeddings:
        raise ValueError(f"{folder}: untied output layer is not supported by j2a.llm.gemma")
    state = load_file(str(folder / "model.safetensors"))
    prefix = "model." if any(k.startswith("model.") for k in state) else ""
    model = GemmaForCausalLM(cfg)
    used: set[str] = set()

    def take(name: str) -> torch.Tensor:
        key = prefix + name
        if key not in state:
            raise ValueError(f"{folder}: weights do not match the config (missing {key})")
        used.add(key)
        return state[key].to(dtype)

    new: dict[str, torch.Tensor] = {
        "model.embed.weight": take("embed_tokens.weight"),
        "model.norm.weight": take("norm.weight"),
    }
    for i in range(cfg.num_hidden_layers):
        p = f"layers.{i}."
        a = p + "self_attn."
        new[f"model.{p}qkv"] = torch.cat(
            [take(a + "q_proj.weight"), take(a + "k_proj.weight"), take(a + "v_proj.weight")]
        )
        new[f"model.{p}o"] = take(a + "o_proj.weight")
        new[f"model.{p}gate_up"] = torch.cat([take(p + "mlp.gate_proj.weight"), take(p + "mlp.up_proj.weight")])
        new[f"model.{p}down"] = take(p + "mlp.down_proj.weight")
        new[f"model.{p}q_norm.weight"], new[f"model.{p}k_norm.weight"] = (
            take(a + "q_norm.weight"),
            take(a + "k_norm.weight"),
        )
        for j, n in enumerate(
            ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")
        ):
            new[f"model.{p}norms.{j}.weight"] = take(p + n + ".weight")
    extra = sorted(set(state) - used - {"lm_head.weight"})
    if extra:
        raise ValueError(f"{folder}: weights do not match the config (unexpected {extra[:3]})")
    model.load_state_dict(new, strict=True, assign=True)  # every parameter gets a tensor (built above)
    return model.eval()
