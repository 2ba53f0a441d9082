"""J2A-LLM: LoRA fine-tune of Gemma 3 270M from music tags (+ facts) to MusicCaps captions.

    j2a train-llm --data ../shared/data/captions/musiccaps-train.csv --out runs/j2a-llm
    j2a caption-tags ../shared/data/captions/musiccaps-dev.csv --out dev-captions.jsonl

Why it is built this way (it has to train in under an hour on 2 CPU cores):
- Loss and logits only on caption positions. The tied 262k-token output layer costs more than the
  whole transformer body per token, so the prompt positions never reach it.
- Two kinds of prompts per row, drawn at random each time a row is used: the human aspect list, and
  the aspect list *reduced* to the analysis vocabulary (musicnn's 100 tags) - what `describe` will
  really have. Both get tempo / key / meter / chords / duration facts, taken from the caption when it
  states them and otherwise synthetic but consistent with the tags, so the model learns to use them
  when they matter and to ignore them otherwise.
- Batches grouped by length within a pool of 16 (random batches were 27% padding): more steps per minute.
- Model selection on a held-out slice of the *train* CSV (never the dev rows): the adapter with the
  lowest held-out loss is the one kept in --out.
- `--seeds N` averages N runs that differ only in their seed into one adapter (a uniform model soup,
  `soup_adapters`; merged into the base once, so free at inference). Measured, not shipped: see
  bench/RESULTS.md.
"""
from __future__ import annotations

import ast
import csv
import json
import math
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .text import prompts
from .theory import NAMES, PITCH_CLASS

# ------------------------------------------------------------------------------------ vocabulary
TEMPO_ASPECTS = ("slow tempo", "medium tempo", "fast tempo")


def analysis_tags() -> list[str]:
    """The aspect words `describe` can put in a prompt, spelled as it spells them: the fused vocabulary
    (both taggers' instruments, vocals, genres and moods, `features.fusion.VOCAB`) through
    `text.aspects.aspect_word`, less the words describe never states, plus its tempo words. Reduced training
    prompts use exactly these, so the model learns the prompts it will be given."""
    from .features.fusion import VOCAB
    from .text.aspects import aspect_word

    out: list[str] = []
    for group in ("genre", "instrument", "vocals", "mood"):
        for label in VOCAB[group]:
            w = aspect_word(label)
            if w and w not in out:
                out.append(w)
    return out + [t for t in TEMPO_ASPECTS if t not in out]


_SYN = {"synthesizer": "synth", "sax": "saxophone", "saxophones": "saxophone", "trumpets": "trumpet",
        "keyboards": "keyboard", "keys": "keyboard", "percussions": "percussion", "drumming": "drum",
        "orchestral": "orchestra", "rap": "rapping", "rapper": "rapping", "choral": "choir", "organs": "organ", "synthesiser": "synth", "synths": "synth", "vocalist": "vocal",
        "vocalists": "vocal", "vocals": "vocal", "voices": "vocal", "voice": "vocal", "string": "strings", "drums": "drum", "beats": "beat",
        "hiphop": "hip hop", "r&b": "rnb", "electro": "electro", "uptempo": "fast tempo", "upbeat": "fast tempo", "women": "woman",
        "men": "man", "singer": "vocal", "singers": "vocal", "sung": "singing", "sings": "singing",
        "violins": "violin", "guitars": "guitar", "pianos": "piano", "cellos": "cello", "flutes": "flute"}


def _norm_words(text: str) -> list[str]:
    words = re.sub(r"[^a-z0-9&' ]+", " ", text.lower().replace("-", " ")).split()
    out = []
    for w in words:
        w = _SYN.get(w, w)
        out.extend(w.split())
    return out


def _find(hay: list[str], needle: list[str]) -> int:
    n = len(needle)
    return next((i for i in range(len(hay) - n + 1) if hay[i : i + n] == needle), -1)


def _contains(hay: list[str], needle: list[str]) -> bool:
    return _find(hay, needle) >= 0


def reduce_aspects(aspects: list[str]) -> list[str]:
    """Map human aspect phrases onto the analysis tag vocabulary; drop what it cannot express.

    'male vocalist' -> 'male vocal'; 'fast tempo' -> 'fast'; 'no voice' -> 'no voice';
    'acoustic guitar strumming' -> 'acoustic', 'guitar'. The longest matching tag wins.
    """
    tags = analysis_tags()
    normed = {t: _norm_words(t) for t in tags}
    found: list[tuple[str, list[str]]] = []
    for a in aspects:
        words = _norm_words(a)
        negative = bool(words) and words[0] in ("no", "without", "non")
        hits = []
        for t, tw in normed.items():
            pos = _find(words, tw) if tw else -1
            if pos < 0 or (negative and tw[0] != "no"):
                continue  # 'no drums' must not become 'drums'
            hits.append((pos, t, tw))
        found.extend((t, tw) for _, t, tw in sorted(hits, key=lambda h: h[0]))
    keep: list[str] = []
    for t, tw in found:
        longer = any(len(ow) > len(tw) and _contains(ow, tw) for _, ow in found)
        same = any(" ".join(normed[k]) == " ".join(tw) for k in keep)
        if not longer and not same:
            keep.append(t)
    return keep


# ------------------------------------------------------------------------------------ facts
_KEYS = [f"{n} {m}" for n in NAMES for m in ("major", "minor")]
# Scale-degree progressions (semitones from the tonic, quality).
_PROGS = {
    "major": [[(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")], [(0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")],
              [(2, "min7"), (7, "7"), (0, "maj7")], [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]],
    "minor": [[(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")], [(0, "min"), (5, "min"), (7, "min"), (0, "min")],
              [(0, "min"), (10, "maj"), (8, "maj"), (7, "maj")], [(0, "min7"), (5, "min7")]],
}


def _text_facts(text: str) -> dict:
    """Facts a caption states itself (then the prompt carries the true value)."""
    facts = {}
    t = text.lower()
    if m := re.search(r"(\d{2,3})\s*(?:bpm|beats per minute)", t):
        facts["tempo_bpm"] = float(m.group(1))
    if m := re.search(r"\bkey of ([a-g])\s*(#|b|sharp|flat)?\s*(major|minor)", t):
        acc = {"#": "#", "sharp": "#", "b": "b", "flat": "b"}.get(m.group(2) or "", "")
        facts["key"] = f"{m.group(1).upper()}{acc} {m.group(3)}"
    if m := re.search(r"\b([2-7])/(4|8)\b", t):
        facts["meter"] = f"{m.group(1)}/{m.group(2)}"
    elif re.search(r"\bwaltz|triple meter|three.four", t):
        facts["meter"] = "3/4"
    return facts


def synth_facts(aspects: list[str], caption: str, rng: random.Random, p_each: float) -> dict:
    """Facts for a training prompt: the caption's own when it states them, else plausible and
    consistent with the tags (fast/slow tempo words, waltz -> 3/4); each present with p_each."""
    text = " ".join(aspects) + " " + caption
    told = _text_facts(text)
    low = text.lower()
    facts: dict = {}
    if "tempo_bpm" in told:
        facts["tempo_bpm"] = told["tempo_bpm"]
    elif rng.random() < p_each:
        if re.search(r"\b(fast|uptempo|up-tempo|quick|rapid)\b", low):
            lo, hi = 120, 175
        elif re.search(r"\b(slow|downtempo)\b", low):
            lo, hi = 55, 88
        elif re.search(r"\b(medium|moderate|mid)\b", low):
            lo, hi = 88, 122
        else:
            lo, hi = 70, 160
        facts["tempo_bpm"] = float(rng.randint(lo, hi))
    key = told.get("key") or (rng.choice(_KEYS) if rng.random() < p_each else None)
    if key:
        facts["key"] = key
    if "meter" in told:
        facts["meter"] = told["meter"]
    elif rng.random() < p_each:
        facts["meter"] = "4/4" if rng.random() < 0.85 else rng.choice(["3/4", "6/8"])
    if key and rng.random() < p_each:
        root, mode = key.split()
        tonic = PITCH_CLASS[root]
        prog = rng.choice(_PROGS[mode])
        facts["chords"] = [f"{NAMES[(tonic + d) % 12]}:{q}" for d, q in prog] * rng.choice([1, 2])
    if rng.random() < p_each * 0.5:
        facts["duration_s"] = 10.0 if rng.random() < 0.5 else float(rng.randint(20, 400))
    return facts


# ------------------------------------------------------------------------------------ data
def read_captions_csv(path: str | Path) -> list[dict]:
    """MusicCaps-style rows: ytid, start_s, aspects (list), caption (may be empty)."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "aspect_list" not in reader.fieldnames:
            raise ValueError(f"{path}: not a MusicCaps CSV (no aspect_list column)")
        for r in reader:
            try:
                aspects = ast.literal_eval(r["aspect_list"]) if r["aspect_list"].strip() else []
            except (ValueError, SyntaxError):
                aspects = [a.strip(" '\"") for a in r["aspect_list"].strip("[]").split(",")]
            rows.append({"ytid": r.get("ytid", ""), "start_s": int(float(r.get("start_s") or 0)),
                         "aspects": [str(a) for a in aspects], "caption": (r.get("caption") or "").strip()})
    return rows


def make_example(row: dict, rng: random.Random, p_reduced: float) -> str:
    """One training prompt for a row: full or reduced aspects, with augmented facts."""
    if rng.random() < p_reduced:
        reduced = reduce_aspects(row["aspects"])
        return prompts.format_prompt(reduced, synth_facts(row["aspects"], row["caption"], rng, 0.8))
    aspects = list(row["aspects"])
    return prompts.format_prompt(aspects, synth_facts(aspects, row["caption"], rng, 0.35))


@dataclass
class TrainConfig:
    data: str = ""
    out: str = "runs/j2a-llm"
    minutes: float = 54.0  # time budget for all seeds: < 60 min with loading and saving on any 2-core machine
    max_steps: int = 0  # 0 = until time or epochs run out
    # The shipped adapter saw 1.6 epochs: 519 steps of 8, when its 54-min budget ran out on a slow AVX2-only
    # CPU (5.3 s/step, fp32). Faster CPUs (another EPYC: 2.6-3.1 s/step; AMX bf16: 1.7 s) would finish 3
    # epochs, which overfit the 2.6k captions (held-out loss rises in the third), so the epoch count, not
    # the clock, fixes the recipe.
    epochs: float = 1.6
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 5
    rank: int = 16
    top_layers: int = 0  # LoRA only in the last N decoder layers: backward stops there (0 = all layers)
    alpha: int = 32
    dropout: float = 0.0  # 0.05 with 2 epochs: lower held-out loss, but not better captions (bench/RESULTS.md)
    p_reduced: float = 0.25
    holdout: int = 64
    eval_every: int = 50
    pool: int = 16  # batches drawn at a time and grouped by length (less padding, more steps per minute)
    max_len: int = 160
    dtype: str = "auto"  # bf16 only where it is fast (j2a.llm.loading.fast_bf16); fp32 on AVX2-only CPUs
    threads: int = 0
    seed: int = 0  # LoRA initialisation and data order
    # >1: train that many adapters (seeds seed, seed+1, ...; same held-out rows), each on its share of the
    # time budget, and write their uniform soup (soup_adapters). Not the default: a two-seed soup decoded the
    # held-out train rows far better (CIDEr 168 vs 155 / 154) but the dev rows no better (bench/RESULTS.md).
    seeds: int = 1
    split_seed: int | None = None  # which train rows are held out (None = seed): other seeds, same hold-out
    base: str = ""  # folder / hub id of the base model; default Gemma 3 270M from the GGUF package

    @property
    def held_out_seed(self) -> int:
        """The seed of the train / held-out split (split_rows)."""
        return self.seed if self.split_seed is None else self.split_seed


def encode(tok, prompt: str, caption: str, max_len: int) -> tuple[list[int], int]:
    """Token ids of prompt + ' ' + caption + EOS, and where the caption starts."""
    p = tok(prompt)["input_ids"]
    c = tok(" " + caption, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = (p + c)[:max_len]
    return ids, len(p)


def collate(batch: list[tuple[list[int], int]], pad_id: int):
    """Right-padded ids, attention mask, and labels that are -100 outside the caption."""
    import torch

    n = max(len(ids) for ids, _ in batch)
    ids_t = torch.full((len(batch), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    labels = torch.full((len(batch), n), -100, dtype=torch.long)
    for i, (ids, start) in enumerate(batch):
        ids_t[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1
        labels[i, start : len(ids)] = torch.tensor(ids[start:])
    return ids_t, mask, labels


def _parts(model):
    """(decoder body, lm_head, softcap) of a causal LM, peft-wrapped or not."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = base.model if hasattr(base, "model") else base.get_decoder()
    cap = getattr(base.config, "final_logit_softcapping", None)
    return body, base.get_output_embeddings(), cap


def caption_vocab(tok, rows: list[dict]) -> list[int]:
    """Token ids the captions and prompts of `rows` use, plus EOS: the output vocabulary of J2A-LLM.

    Gemma's 262k-token output layer costs more than the whole transformer per token; MusicCaps
    captions use about 10k distinct tokens. Training and generation score only this subset (plus the
    tokens of the prompt at hand, so rare tag words can still be copied).
    """
    ids = {tok.eos_token_id}
    for r in rows:
        ids.update(tok(" " + r["caption"], add_special_tokens=False)["input_ids"])
        ids.update(tok(prompts.format_prompt(r["aspects"]), add_special_tokens=False)["input_ids"])
    return sorted(i for i in ids if i is not None)


def target_loss(model, ids, mask, labels, vocab=None):
    """Mean cross-entropy over caption tokens, with the output layer run only at those positions
    (and, given `vocab` (a LongTensor of token ids), only over those output tokens)."""
    import torch
    import torch.nn.functional as F

    body, head, cap = _parts(model)
    hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
    next_labels = labels[:, 1:]
    sel = next_labels != -100
    h = hidden[:, :-1][sel]
    target = next_labels[sel]
    if vocab is None:
        logits = head(h).float()
    else:
        remap = torch.full((head.weight.shape[0],), -1, dtype=torch.long)
        remap[vocab] = torch.arange(len(vocab))
        target = remap[target]
        if (target < 0).any():
            raise ValueError("a caption token is outside the output vocabulary")
        logits = (h @ head.weight[vocab].T).float()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return F.cross_entropy(logits, target)


def add_lora(model, cfg: TrainConfig):
    from peft import LoraConfig, get_peft_model

    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    targets = [t for t in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj") if t in names]
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", 0)
    layers = list(range(n_layers - cfg.top_layers, n_layers)) if cfg.top_layers and n_layers > cfg.top_layers else None
    # With no adapter (and a frozen base) below the top layers, autograd never enters them: the
    # backward pass costs top_layers/num_layers of a full one.
    lcfg = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                      layers_to_transform=layers, task_type="CAUSAL_LM")
    return get_peft_model(model, lcfg)


def _write_adapter_weights(state: dict, out: Path) -> None:
    """LoRA tensors as bf16 safetensors (half the size; no accuracy loss at inference), written to a
    temporary file first so a kill never leaves a half-written adapter behind."""
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "adapter_model.safetensors.tmp"
    save_file({k: v.detach().to(torch.bfloat16).contiguous() for k, v in state.items()}, str(tmp), metadata={"format": "pt"})
    tmp.replace(out / "adapter_model.safetensors")


def save_adapter(model, out: Path, meta: dict) -> None:
    """Adapter weights (bf16 safetensors) + peft config + training.json."""
    from peft import get_peft_model_state_dict

    _write_adapter_weights(get_peft_model_state_dict(model), out)
    pcfg = model.peft_config["default"]
    pcfg.base_model_name_or_path = meta.get("base_model", "google/gemma-3-270m")
    pcfg.save_pretrained(str(out))
    (out / "training.json").write_text(json.dumps(meta, indent=1))


def length_batches(examples: list, batch_size: int, rng: random.Random) -> list[list]:
    """Batches of similar-length examples, in random order.

    Random batches of MusicCaps prompt+caption pairs are ~27% padding (lengths 40-160 tokens); on a
    CPU padding costs as much as real tokens, so grouping a pool by length buys that many more steps.
    """
    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
    batches = [[examples[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def heldout_loss(model, data: list[tuple[list[int], int]], pad_id: int, bs: int, vocab=None) -> float:
    import torch

    model.eval()
    tot, n = 0.0, 0
    with torch.inference_mode():
        for s in range(0, len(data), bs):
            b = data[s : s + bs]
            ids, mask, labels = collate(b, pad_id)
            k = int((labels[:, 1:] != -100).sum())
            tot += float(target_loss(model, ids, mask, labels, vocab)) * k
            n += k
    model.train()
    return tot / max(n, 1)


def split_rows(rows: list[dict], holdout: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic train / held-out split of the training CSV (dev rows are never involved)."""
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    hold = set(idx[:holdout])
    return [r for i, r in enumerate(rows) if i not in hold], [r for i, r in enumerate(rows) if i in hold]


def soup_adapters(folders: list, out: str | Path, meta: dict | None = None) -> Path:
    """A uniform model soup of LoRA adapters of one base model, written as one LoRA adapter.

    The soup's weight delta is the mean of the members' deltas, mean_i(s_i B_i A_i) (s_i = alpha_i / r_i);
    that is exactly a LoRA of rank sum(r_i) with the A matrices stacked and the B matrices side by side,
    each scaled by s_i / n (alpha = rank, so its own scale is 1). Merged into the base at load time
    (j2a.llm.loading.merged_dir), it decodes as fast as one adapter. Why: runs that differ only in their seed make
    different errors. Two seeds' soup decoded the held-out train rows better than either member (CIDEr 168
    vs 155 / 154) but the dev rows no better (bench/RESULTS.md, Caption quality), so it is an option.
    """
    import shutil

    import torch
    from safetensors.torch import load_file

    folders = [Path(f) for f in folders]
    cfgs = [json.loads((f / "adapter_config.json").read_text()) for f in folders]
    sds = [load_file(str(f / "adapter_model.safetensors")) for f in folders]

    def norm(v):  # peft writes target_modules from a set: any order
        return sorted(v) if isinstance(v, list) else v

    same = ("target_modules", "layers_to_transform", "base_model_name_or_path", "use_rslora")
    for f, c, sd in zip(folders[1:], cfgs[1:], sds[1:]):
        if any(norm(c.get(k)) != norm(cfgs[0].get(k)) for k in same) or set(sd) != set(sds[0]):
            raise ValueError(f"{f}: not an adapter of the same model and modules as {folders[0]}")
    n, rank = len(folders), sum(c["r"] for c in cfgs)
    soup = {}
    for k in sds[0]:
        if ".lora_A." in k:
            soup[k] = torch.cat([sd[k].float() for sd in sds], 0)
        elif ".lora_B." in k:
            soup[k] = torch.cat([sd[k].float() * (c["lora_alpha"] / c["r"]) / n for sd, c in zip(sds, cfgs)], 1)
        else:
            raise ValueError(f"{folders[0]}: unexpected adapter tensor {k}")
    out = Path(out)
    _write_adapter_weights(soup, out)
    (out / "adapter_config.json").write_text(json.dumps({**cfgs[0], "r": rank, "lora_alpha": rank}, indent=2))
    if (folders[0] / "vocab.json").exists():  # the same for every member trained on one split
        shutil.copy(folders[0] / "vocab.json", out / "vocab.json")
    (out / "training.json").write_text(json.dumps({**(meta or {}), "soup_of": [str(f) for f in folders]}, indent=1))
    return out


def train(cfg: TrainConfig, log=print) -> Path:
    """Train (one adapter, or cfg.seeds of them and their soup) into cfg.out; return that folder."""
    if cfg.seeds > 1:
        return _train_soup(cfg, log)
    return _train_one(cfg, log)


def _train_soup(cfg: TrainConfig, log=print) -> Path:
    """cfg.seeds members under cfg.out/members/, each given an equal share of the time left, then their soup."""
    from dataclasses import replace

    out = Path(cfg.out)
    split = cfg.held_out_seed
    deadline = time.time() + cfg.minutes * 60
    members, metas = [], []
    for i in range(cfg.seeds):
        minutes = (deadline - time.time()) / 60 / (cfg.seeds - i)
        m = replace(cfg, seeds=1, seed=cfg.seed + i, split_seed=split, minutes=minutes, out=str(out / "members" / f"seed{cfg.seed + i}"))
        log(f"[train-llm] soup member {i + 1}/{cfg.seeds}: seed {m.seed}, {minutes:.1f} min")
        members.append(_train_one(m, log))
        metas.append(json.loads((members[-1] / "training.json").read_text()))
    meta = {"config": {**asdict(cfg), "split_seed": split}, "base_model": metas[0]["base_model"],
            "train_rows": metas[0]["train_rows"], "heldout_rows": metas[0]["heldout_rows"],
            "members": [{"seed": mm["config"]["seed"], "best_step": mm.get("best_step"),
                         "best_heldout_loss": mm.get("best_heldout_loss")} for mm in metas]}
    soup_adapters(members, out, meta)
    log(f"[train-llm] soup of {len(members)} adapters -> {out}")
    return out


def _train_one(cfg: TrainConfig, log=print) -> Path:
    """Train, checkpoint the best held-out adapter into cfg.out, return that folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .llm.loading import gemma_base_dir, torch_dtype

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    rows = [r for r in read_captions_csv(cfg.data) if r["caption"]]
    if len(rows) <= cfg.holdout:
        raise ValueError(f"{cfg.data}: {len(rows)} captioned rows, need more than --holdout {cfg.holdout}")
    split = cfg.held_out_seed
    train_rows, hold_rows = split_rows(rows, cfg.holdout, split)
    base = cfg.base or str(gemma_base_dir())
    tok = AutoTokenizer.from_pretrained(base)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype(cfg.dtype))
    model = add_lora(model, cfg)
    model.train()
    vocab_ids = caption_vocab(tok, rows)
    vocab = torch.tensor(vocab_ids)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab_ids))
    log(f"[train-llm] {len(train_rows)} train rows, {len(hold_rows)} held out, output vocabulary {len(vocab_ids)} tokens")
    hrng = random.Random(split + 1)  # the held-out prompts follow the split: runs of any seed score the same examples
    held = sorted((encode(tok, make_example(r, hrng, cfg.p_reduced), r["caption"], cfg.max_len) for r in hold_rows),
                  key=lambda e: len(e[0]))  # evaluation batches of similar length
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train_rows) / cfg.batch_size)
    total = int(steps_per_epoch * cfg.epochs)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    meta = {"config": asdict(cfg), "base_model": "google/gemma-3-270m", "train_rows": len(train_rows),
            "heldout_rows": len(hold_rows), "history": []}
    t0 = time.time()
    deadline = t0 + cfg.minutes * 60
    best = float("inf")
    step, epoch_order, queue = 0, [], []
    sched_total = total
    while step < sched_total and time.time() < deadline:
        if not queue:
            if not epoch_order:
                epoch_order = list(range(len(train_rows)))
                rng.shuffle(epoch_order)
            n_take = cfg.batch_size * max(cfg.pool, 1)
            take, epoch_order = epoch_order[:n_take], epoch_order[n_take:]
            queue = length_batches([encode(tok, make_example(train_rows[i], rng, cfg.p_reduced), train_rows[i]["caption"],
                                           cfg.max_len) for i in take], cfg.batch_size, rng)
        ids, mask, labels = collate(queue.pop(), pad_id)
        frac = step / max(sched_total, 1)
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = target_loss(model, ids, mask, labels, vocab)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        el = time.time() - t0
        if step == 10 or (step > cfg.eval_every and step % cfg.eval_every == 10):
            # Fit the cosine schedule to the time budget: first from 10 steps, then after each eval from
            # the last eval window's pace (evals included), so a busy start does not cut the run short.
            if step == 10:
                pace = el / step
            else:
                pace = (time.time() - win_t) / (step - win_step)
            sched_total = min(total, step + int((deadline - time.time()) / pace * 0.98))
            log(f"[train-llm] {pace:.1f} s/step; schedule {sched_total} steps")
        if step % cfg.eval_every == 10:
            win_t, win_step = time.time(), step
        if step % 5 == 0:
            log(f"[train-llm] step {step}/{sched_total} loss {float(loss):.3f} lr {lr:.2e} {el / 60:.1f} min")
        last = step >= sched_total or time.time() >= deadline
        if step % cfg.eval_every == 0 or last:
            hl = heldout_loss(model, held, pad_id, cfg.batch_size * 2, vocab)
            meta["history"].append({"step": step, "heldout_loss": round(hl, 4), "minutes": round((time.time() - t0) / 60, 2)})
            log(f"[train-llm] step {step} held-out loss {hl:.4f} (best {min(best, hl):.4f})")
            if hl < best:
                best = hl
                meta.update(best_step=step, best_heldout_loss=round(hl, 4))
                save_adapter(model, out, meta)
            else:
                (out / "training.json").write_text(json.dumps(meta, indent=1))
    return out


# ------------------------------------------------------------------------------------ captions
def caption_rows(rows: list[dict], llm, reduced: bool = False, max_new_tokens: int = 120, prefix: str = "") -> list[str]:
    """Captions for MusicCaps rows from their aspect lists (optionally reduced to the analysis
    vocabulary; `prefix` is prepended to every prompt, e.g. few-shot examples for a base model)."""
    ps = [prefix + prompts.format_prompt(reduce_aspects(r["aspects"]) if reduced else r["aspects"]) for r in rows]
    return llm.generate(ps, max_new_tokens=max_new_tokens)


def caption_journal(rows: list[dict], out: str | Path, llm, reduced: bool = False, batch: int = 16, resume: bool = True,
                    max_new_tokens: int = 120, prefix: str = "", progress: bool = True) -> list[dict]:
    """Caption rows into a JSONL journal ({ytid, start_s, prediction} per row), flushed per batch;
    with resume, rows already in the journal are skipped. Returns all journal rows."""
    outp = Path(out)
    done: dict = {}
    if resume and outp.exists():
        for line in outp.read_text().splitlines():
            try:
                d = json.loads(line)
                done[(d["ytid"], int(d["start_s"]))] = d
            except (json.JSONDecodeError, KeyError, ValueError):
                continue  # a line cut by a kill: that row is redone
    elif outp.exists():
        outp.unlink()
    todo = [r for r in rows if (r["ytid"], r["start_s"]) not in done]
    outp.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(outp, "a") as f:
        for s in range(0, len(todo), batch):
            chunk = todo[s : s + batch]
            for r, pred in zip(chunk, caption_rows(chunk, llm, reduced, max_new_tokens, prefix)):
                d = {"ytid": r["ytid"], "start_s": r["start_s"], "prediction": pred}
                done[(r["ytid"], r["start_s"])] = d
                f.write(json.dumps(d) + "\n")
            f.flush()
            if progress:
                print(f"[caption-tags] {len(rows) - len(todo) + s + len(chunk)}/{len(rows)} rows, {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    return [done[(r["ytid"], r["start_s"])] for r in rows if (r["ytid"], r["start_s"]) in done]


def caption_tags(csv_path: str, out: str, llm_spec: str = "local", reduced: bool = False, batch: int = 16,
                 resume: bool = True, limit: int = 0, max_new_tokens: int = 120, progress: bool = True,
                 decode: str = "fp32") -> int:
    """`j2a caption-tags`: a caption per CSV row from its aspect_list. Returns rows captioned now.

    fp32 by default, weights and decode steps (not describe's int8 copies, nor the bf16 model that 'auto'
    loads on CPUs with native bf16): this is the benchmark command, and bench/RESULTS.md's tag-to-caption
    scores are fp32 decoding's."""
    from .llm import load_llm

    rows = read_captions_csv(csv_path)
    if limit:
        rows = rows[:limit]
    n_before = len(Path(out).read_text().splitlines()) if resume and Path(out).exists() else 0
    caption_journal(rows, out, load_llm(llm_spec, decode=decode), reduced, batch, resume, max_new_tokens, progress=progress)
    return len(Path(out).read_text().splitlines()) - n_before


# ------------------------------------------------------------------------------------ CLI
def add_cli(subparsers) -> None:
    from .cli import sub

    p = sub(subparsers, "train-llm", "fine-tune J2A-LLM (LoRA on Gemma 3 270M) on MusicCaps captions",
            "j2a train-llm --data ../shared/data/captions/musiccaps-train.csv --out runs/j2a-llm")
    p.add_argument("--data", required=True, help="MusicCaps-style CSV with aspect_list and caption (train split only)")
    p.add_argument("--out", required=True, help="folder for the adapter (best held-out checkpoint, rewritten as it improves)")
    p.add_argument("--minutes", type=float, default=TrainConfig.minutes, help="time budget of the whole run, all seeds (default: %(default)s)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps (default: time/epochs)")
    p.add_argument("--epochs", type=float, default=TrainConfig.epochs,
                   help="passes over the training rows (default: %(default)s; --minutes may end the run first)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--rank", type=int, default=TrainConfig.rank)
    p.add_argument("--top-layers", type=int, default=TrainConfig.top_layers, help="adapt only the last N layers (0 = all)")
    p.add_argument("--dropout", type=float, default=TrainConfig.dropout, help="LoRA dropout (default: %(default)s)")
    p.add_argument("--p-reduced", type=float, default=TrainConfig.p_reduced,
                   help="share of training prompts reduced to what the analysis can produce")
    p.add_argument("--holdout", type=int, default=TrainConfig.holdout, help="train rows held out for model selection")
    p.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    p.add_argument("--dtype", choices=["auto", "bf16", "fp32"], default=TrainConfig.dtype,
                   help="compute dtype (default auto: bf16 on GPUs / CPUs with native bf16, else fp32 - emulated bf16 is ~20x slower)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--base", default="", help="base model folder or hub id (default: Gemma 3 270M from the GGUF package)")
    p.add_argument("--seed", type=int, default=0, help="LoRA initialisation and data order (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=TrainConfig.seeds,
                   help="train N adapters (seeds --seed, --seed+1, ...) on equal shares of --minutes and write their "
                        "average, a model soup, to --out; the members stay in --out/members (default: %(default)s)")
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the held-out split (default: --seed); fix it to compare runs of several seeds")
    p.set_defaults(func=_cmd_train)

    p = sub(subparsers, "caption-tags", "caption each MusicCaps row from its aspect_list (tag-to-caption)",
            "j2a caption-tags ../shared/data/captions/musiccaps-dev.csv --out dev.jsonl --llm local")
    p.add_argument("csv", help="CSV with ytid, start_s, aspect_list columns")
    p.add_argument("--out", "-o", required=True, help="JSONL output, one {ytid, start_s, prediction} per row; resumable")
    p.add_argument("--llm", default="local", help="local | none | hf:<id-or-path> | openai:<model>@<url> (default: local)")
    p.add_argument("--reduced", action="store_true", help="map aspects onto the analysis tag vocabulary first")
    p.add_argument("--batch", type=int, default=16, help="rows per generation batch (and journal flush)")
    p.add_argument("--limit", type=int, default=0, help="only the first N rows")
    p.add_argument("--max-new-tokens", type=int, default=120)
    p.add_argument("--no-resume", action="store_true", help="start over (default: skip rows already in --out)")
    p.add_argument("--decode", choices=["fp32", "int8", "bf16", "auto"], default="fp32",
                   help="precision of the local model's decode steps (default fp32: an fp32 model throughout, as scored in "
                        "bench/RESULTS.md; describe uses int8 steps, or bf16 weights on CPUs with native bf16: faster)")
    p.set_defaults(func=_cmd_caption)


def _cmd_train(args) -> int:
    cfg = TrainConfig(data=args.data, out=args.out, minutes=args.minutes, max_steps=args.max_steps, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, rank=args.rank, alpha=2 * args.rank, top_layers=args.top_layers, dropout=args.dropout,
                      holdout=args.holdout,
                      p_reduced=args.p_reduced,
                      eval_every=args.eval_every, dtype=args.dtype, threads=args.threads, base=args.base, seed=args.seed,
                      split_seed=args.split_seed, seeds=args.seeds)
    if not Path(cfg.data).exists():
        print(f"{cfg.data}: no such file", file=sys.stderr)
        return 2
    try:
        out = train(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(str(out))
    return 0


def _cmd_caption(args) -> int:
    if not Path(args.csv).exists():
        print(f"{args.csv}: no such file", file=sys.stderr)
        return 2
    try:
        caption_tags(args.csv, args.out, args.llm, args.reduced, args.batch, not args.no_resume, args.limit, args.max_new_tokens,
                     decode=args.decode)
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    return 0
