"""Decoding a J2A prompt with a causal LM: one loop for beam search, greedy decoding and seeded sampling,
and one stop rule.

Why J2A decodes itself instead of calling transformers' generate(): only the output vocabulary the
J2A-LLM was trained with (plus the prompt's own tokens) is scored, which makes each step several times
cheaper than Gemma's 262k-way head; the n-gram block looks at the generated tokens only; and the same
loop runs on j2a.llm.gemma (no transformers) and on any transformers model.

The J2A-2.x models (j2a.models.adapted) keep their own greedy loop: their prompt is audio embeddings, they
score the full vocabulary with no token banned, and their captions are not cut like completions;
routing them through this loop would change what they write. They share the stop rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..text.prompts import PROMPT_END


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
    # 4 beams, length penalty 1.5 beat greedy (bench/RESULTS.md). It costs more time per caption than
    # greedy (bench/describe_speed.py); `j2a describe --beams 1`.
    num_beams: int = 4
    length_penalty: float = 1.5  # beam scores are sum(log p) / length**length_penalty
    stop_penalty: float = 0.0  # subtracted from the stop tokens' logits: > 0 writes longer captions


def stop_token_ids(tokenizer, model=None) -> list[int]:
    """The tokens that end a completion: the tokenizer's EOS, the end-of-turn tokens of the chat formats it
    knows (Gemma, ChatML, Llama 3), and every EOS the model's generation config names."""
    ids = {tokenizer.eos_token_id}
    for t in ("<end_of_turn>", "<|im_end|>", "<|eot_id|>"):
        tid = tokenizer.convert_tokens_to_ids(t)
        if tid is not None and tid != tokenizer.unk_token_id:
            ids.add(tid)
    gc = getattr(model, "generation_config", None)
    extra = getattr(gc, "eos_token_id", None) if gc is not None else None
    ids |= set(extra if isinstance(extra, (list, tuple)) else [extra] if extra is not None else [])
    return sorted(i for i in ids if i is not None)


def clean_completion(text: str) -> str:
    """Cut a completion at the point a base model starts a new example or section."""
    for stop in ("\nMusic tags:", "\n\n", PROMPT_END):
        text = text.split(stop)[0]
    return text.strip()


def generate(
    model,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int,
    gen: GenConfig,
    stops: list[int],
    vocab: list[int] | None = None,
) -> list[str]:
    """Completions of `prompts`, decoded in batches of gen.batch_size; the tokenizer pads on the left."""
    # Sort by length so each batch pads little; restore the order at the end.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: dict[int, str] = {}
    for s in range(0, len(order), gen.batch_size):
        idx = order[s : s + gen.batch_size]
        texts = decode(model, tokenizer, [prompts[i] for i in idx], max_new_tokens, gen, stops, vocab)
        results.update(zip(idx, texts))
    return [results[i] for i in range(len(prompts))]


def decode(
    model,
    tokenizer,
    batch: list[str],
    max_new_tokens: int,
    gen: GenConfig,
    stops: list[int],
    vocab: list[int] | None = None,
) -> list[str]:
    """One batch, with a KV cache, scoring only the output vocabulary (+ the prompts' tokens): beam search
    (gen.num_beams > 1 at temperature 0), else greedy or seeded sampling. Each step: next-token logits
    (`_step_logits`), the search's choice, then the chosen tokens through the model."""
    import torch

    body = model.get_decoder()
    ids, mask, sub, w, stop, banned = _setup(model, tokenizer, batch, gen, stops, vocab)
    # Without left padding the causal mask is implied: passing none spares transformers building
    # full and sliding-window masks at every step (batch-1 describe, the beams of one prompt).
    padded = not bool(mask.all())
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if gen.num_beams > 1 and gen.temperature <= 0:
        search = _Beam(len(batch), gen, stop, sub)
    else:
        search = _Greedy(len(batch), gen, stop, sub, tokenizer.pad_token_id)
    with torch.inference_mode():
        o = body(input_ids=ids, attention_mask=mask if padded else None, position_ids=pos, use_cache=True)
        past, h = o.past_key_values, o.last_hidden_state[:, -1]
        if search.k > 1:  # the beams of a prompt share its prefill
            past.batch_repeat_interleave(search.k)
            mask, pos = mask.repeat_interleave(search.k, 0), pos.repeat_interleave(search.k, 0)
            h = h.repeat_interleave(search.k, 0)
        for t in range(max_new_tokens):
            step = search.step(_step_logits(h, w, cap, t, gen, banned, search.outs, stop), t)
            if step is None:  # every prompt is finished
                break
            tokens, rows, new_mask = step
            if rows is not None:  # the beams that survive
                past.reorder_cache(rows)
                mask, pos = mask[rows], pos[rows]
            mask = torch.cat([mask, new_mask[:, None]], dim=1)
            pos = pos[:, -1:] + 1
            o = body(
                input_ids=tokens[:, None],
                attention_mask=mask if padded else None,
                position_ids=pos,
                past_key_values=past,
                use_cache=True,
            )
            past, h = o.past_key_values, o.last_hidden_state[:, -1]
    return [_decode_ids(tokenizer, sub, toks) for toks in search.result()]


class _Greedy:
    """One running sequence per prompt: the top token (or a seeded sample at temperature > 0); a prompt
    stops at its first stop token, and is fed padding (masked out) from then on."""

    k = 1

    def __init__(self, n: int, gen: GenConfig, stop, sub, pad_id: int):
        import torch

        self.gen, self.stop, self.sub, self.pad_id = gen, stop, sub, pad_id
        self.outs: list[list[int]] = [[] for _ in range(n)]
        self.done = torch.zeros(n, dtype=torch.bool)
        self.rng = torch.Generator().manual_seed(gen.seed)

    def step(self, logits, t: int):
        import torch

        if self.gen.temperature > 0:
            probs = torch.softmax(logits / self.gen.temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=self.rng)[:, 0]
        else:
            nxt = logits.argmax(-1)
        for b in range(len(self.outs)):
            if self.done[b]:
                continue
            if self.stop[nxt[b]]:
                self.done[b] = True
                continue
            self.outs[b].append(int(nxt[b]))
        if self.done.all():
            return None
        tok = self.sub[nxt]
        tok[self.done] = self.pad_id
        return tok, None, (~self.done).long()

    def result(self) -> list[list[int]]:
        return self.outs


class _Beam:
    """gen.num_beams hypotheses per prompt, with the same sub-vocabulary, n-gram block and stop rule as
    greedy decoding. A prompt is finished when it has num_beams ended hypotheses or none of its running
    beams can beat its best ended one; its answer is the best ended hypothesis by length-penalised score."""

    def __init__(self, nb: int, gen: GenConfig, stop, sub):
        import torch

        self.nb, self.k, self.lp, self.stop, self.sub = nb, gen.num_beams, gen.length_penalty, stop, sub
        self.outs: list[list[int]] = [[] for _ in range(nb * self.k)]
        self.scores = torch.full((nb, self.k), float("-inf"))
        self.scores[:, 0] = 0.0  # all beams start identical: expand only the first
        self.finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(nb)]
        self.closed = [False] * nb

    def step(self, logits, t: int):
        import torch

        nb, k, lp, outs, finished, closed = self.nb, self.k, self.lp, self.outs, self.finished, self.closed
        logp = torch.log_softmax(logits, -1)
        v = logp.shape[-1]
        cand = (self.scores[:, :, None] + logp.view(nb, k, v)).view(nb, k * v)
        top_s, top_i = cand.topk(2 * k, dim=-1)
        src, new_outs, new_scores, new_tok = [], [], [], []
        for b in range(nb):
            row_src, row_tok, row_sc = [], [], []
            if not closed[b]:
                for sc, ix in zip(top_s[b].tolist(), top_i[b].tolist()):
                    beam, tok = divmod(ix, v)
                    if sc == float("-inf"):
                        break
                    if self.stop[tok]:
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
            return None
        self.outs = new_outs
        self.scores = torch.tensor(new_scores).view(nb, k)
        return self.sub[torch.tensor(new_tok)], torch.tensor(src), torch.ones(nb * k, dtype=torch.long)

    def result(self) -> list[list[int]]:
        k, lp, outs = self.k, self.lp, self.outs
        best = []
        for b in range(self.nb):
            pool = self.finished[b] or [
                (float(self.scores[b, j]) / max(len(outs[b * k + j]), 1) ** lp, outs[b * k + j]) for j in range(k)
            ]
            best.append(max(pool, key=lambda f: f[0])[1])
        return best


def _setup(model, tokenizer, batch: list[str], gen: GenConfig, stops: list[int], vocab: list[int] | None):
    """Tokenised batch, output sub-vocabulary and its weights, stop / early-stop masks."""
    import torch

    head = model.get_output_embeddings()
    enc = tokenizer(batch, return_tensors="pt", padding=True)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    if vocab is not None and gen.restrict_vocab:
        sub = torch.unique(torch.cat([torch.tensor(vocab + stops), ids[mask.bool()]]))
    else:
        sub = torch.arange(head.weight.shape[0])
    stop = torch.isin(sub, torch.tensor(stops))
    # pad / bos / unk are never text (and vanish when decoded, hiding repeats around them)
    special = [
        i
        for i in (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id)
        if i is not None and i not in stops
    ]
    never = torch.isin(sub, torch.tensor(special, dtype=torch.long))
    # what may not come before min_new_tokens: the stop tokens and anything with a newline
    # (a completion cut at a blank line would end just as early)
    early = (
        stop | torch.tensor(["\n" in t for t in tokenizer.convert_ids_to_tokens(sub.tolist())])
        if gen.min_new_tokens
        else None
    )
    banned = ((early | never) if early is not None else never, never)  # before / after min_new_tokens
    return ids, mask, sub, head.weight[sub], stop, banned


def _step_logits(h, w, cap, t: int, gen: GenConfig, banned_masks, outs: list[list[int]], stop):
    """Next-token logits over the sub-vocabulary: soft-capped; never-text tokens, stops before
    min_new_tokens and repeated n-grams banned; the stop tokens (mask `stop`) lowered by
    stop_penalty. banned_masks = (before min_new_tokens, after)."""
    import torch

    logits = (h @ w.T).float()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    logits[:, banned_masks[0] if t < gen.min_new_tokens else banned_masks[1]] = float("-inf")
    if gen.stop_penalty:
        logits[:, stop] -= gen.stop_penalty
    n = gen.no_repeat_ngram_size
    if n and n > 1:
        for b, toks in enumerate(outs):
            banned = _ngram_table(toks, n).get(tuple(toks[-(n - 1) :])) if len(toks) >= n - 1 else None
            if banned:
                logits[b, list(banned)] = float("-inf")
    return logits


def _ngram_table(toks: list[int], n: int) -> dict:
    """(n-1)-gram -> the tokens that followed it in `toks`."""
    seen: dict = {}
    for i in range(len(toks) - n + 1) if n and n > 1 else ():
        seen.setdefault(tuple(toks[i : i + n - 1]), set()).add(toks[i + n - 1])
    return seen


def _decode_ids(tokenizer, sub, toks: list[int]) -> str:
    import torch

    return clean_completion(
        tokenizer.decode(sub[torch.tensor(toks, dtype=torch.long)].tolist() if toks else [], skip_special_tokens=True)
    )
