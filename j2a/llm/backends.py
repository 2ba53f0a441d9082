"""Language-model backends that turn a J2A prompt into text.

    load_llm("local")                         J2A-LLM: Gemma 3 270M + the LoRA adapter shipped in j2a/assets
    load_llm("hf:Qwen/Qwen2.5-0.5B", adapter=DIR)   any transformers causal LM (hub id or local path)
    load_llm("openai:llama3@http://localhost:11434/v1")   any OpenAI-compatible HTTP server
    load_llm("none")                          deterministic template, no model at all

Decoding (beam search, greedy, sampling) is `j2a.llm.decoding`; loading and caching the models
`j2a.llm.loading`.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..text import prompts
from .decoding import GenConfig, clean_completion, generate, stop_token_ids
from .loading import (
    ASSET_DIR,
    LOCAL_SPECS,
    adapter_vocab,
    gemma_base_dir,
    load_folder,
    load_hf,
    local_dtype,
    merged_dir,
)


class LLM:
    """A text generator: prompts in, completions (without the prompt) out."""

    name: str = "llm"

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        raise NotImplementedError


class TemplateLLM(LLM):
    """The `none` backend: fills a template from a J2A prompt, so every caller gets an answer."""

    name = "none"

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        return [prompts.template_caption(*prompts.parse_prompt(p)) for p in prompts_]


class HFLLM(LLM):
    """A causal LM — j2a.llm.gemma's Gemma 3 or any transformers model, optionally with a merged LoRA adapter:
    batched beam / greedy decoding on CPU (j2a.llm.decoding).

    generate() accepts GenConfig fields per call (no_repeat_ngram_size, temperature, seed, batch_size,
    restrict_vocab, num_beams, length_penalty, stop_penalty); other keywords are accepted and ignored."""

    def __init__(self, model, tokenizer, name: str, gen: GenConfig | None = None, vocab: list[int] | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.gen = gen or GenConfig()
        self.vocab = vocab
        self.tokenizer.padding_side = "left"  # decoder-only batching: pad on the left
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stops = stop_token_ids(self.tokenizer, self.model)

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        gen = GenConfig(**{**self.gen.__dict__, **{k: v for k, v in kw.items() if k in GenConfig.__dataclass_fields__}})
        return generate(self.model, self.tokenizer, prompts_, max_new_tokens, gen, self.stops, self.vocab)


class OpenAILLM(LLM):
    """Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama): POST {base_url}/completions,
    or /chat/completions with chat=True (for instruction-tuned models served with a chat template)."""

    def __init__(
        self, model: str, base_url: str, chat: bool = False, timeout: float = 120.0, api_key: str | None = None
    ):
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
            raise RuntimeError(
                f"{self.base_url}{path}: HTTP {e.code}: {e.read().decode(errors='replace')[:200]}"
            ) from e
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
            out.append(clean_completion(text))
        return out


_CACHE: dict[tuple, LLM] = {}


def load_llm(spec: str = "local", adapter: str | None = None, **kw) -> LLM:
    """Backend by spec: 'local', 'hf:<id-or-path>', 'openai:<model>@<base_url>', 'none'. Cached per process.
    `decode` (auto | fp32 | bf16 | int8, see decode_precision) applies to the local Gemma backends only."""
    if spec in LOCAL_SPECS and kw.get("dtype") in (None, "auto"):
        kw["dtype"] = local_dtype(kw.get("decode", "auto"))  # before the cache key: one model per real dtype
    key = (spec, str(adapter), tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key in _CACHE:
        return _CACHE[key]
    gen = GenConfig(**{k: kw.pop(k) for k in list(kw) if k in GenConfig.__dataclass_fields__})
    decode = kw.pop("decode", "auto")
    if spec == "none":
        llm: LLM = TemplateLLM()
    elif spec in LOCAL_SPECS:
        if spec == "gemma-base":
            adapter = None
        else:
            adapter = adapter or (str(ASSET_DIR) if (ASSET_DIR / "adapter_config.json").exists() else None)
            if adapter is None:
                raise FileNotFoundError(
                    f"{ASSET_DIR}: J2A-LLM adapter missing (reinstall j2a, or use --llm gemma-base)"
                )
        folder = merged_dir(adapter, dtype=kw["dtype"]) if adapter else gemma_base_dir()
        model, tok = load_folder(folder, decode=decode, **kw)
        # the base model also scores only J2A's output vocabulary (same decoding cost, fair comparison)
        llm = HFLLM(
            model,
            tok,
            "j2a-llm (gemma-3-270m + lora)" if adapter else "gemma-3-270m (base)",
            gen,
            adapter_vocab(adapter or ASSET_DIR),
        )
    elif spec.startswith("hf:"):
        path = spec[3:]
        model, tok = load_hf(path, adapter, **kw)
        llm = HFLLM(
            model, tok, f"hf:{path}" + (f"+{Path(adapter).name}" if adapter else ""), gen, adapter_vocab(adapter)
        )
    elif spec.startswith("openai:"):
        model_name, sep, url = spec[len("openai:") :].partition("@")
        if not sep or not model_name or not url:
            raise ValueError(
                f"{spec}: expected openai:<model>@<base_url>, e.g. openai:llama3@http://localhost:11434/v1"
            )
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
