"""J2A-LLM: LoRA fine-tune of Gemma 3 270M from music tags (+ facts) to MusicCaps captions.

    j2a train-llm --data ../shared/data/captions/musiccaps-train.csv --out runs/j2a-llm
    j2a caption-tags ../shared/data/captions/musiccaps-dev.csv --out dev-captions.jsonl

Why it is built this way (it has to train in under an hour on 2 CPU cores):
- Loss and logits only on caption positions. The tied 262k-token output layer costs more than the
  whole transformer body per token, so the prompt positions never reach it.
- Two kinds of prompts per row, drawn at random each time a row is used: the human aspect list, and
  the aspect list *reduced* to the analysis vocabulary - what `describe` will really have
  (j2a.training.llm_data).
- Batches grouped by length within a pool of 16 (random batches were 27% padding): more steps per minute.
- Model selection on a held-out slice of the *train* CSV (never the dev rows): the adapter with the
  lowest held-out loss is the one kept in --out.
- `--seeds N` averages N runs that differ only in their seed into one adapter (a uniform model soup,
  `soup_adapters`; merged into the base once, so free at inference). Measured, not shipped: see
  bench/RESULTS.md.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..text import prompts
from .llm_data import (
    caption_vocab,
    collate,
    encode,
    length_batches,
    make_example,
    read_captions_csv,
    reduce_aspects,
    split_rows,
)
from .loop import cosine_lr, launched_processes, train_steps


@dataclass
class LLMTrainConfig:
    """`j2a train-llm`: the data, the LoRA, the optimisation and the time budget."""

    data: str = ""
    out: str = "runs/j2a-llm"
    minutes: float = 54.0  # time budget for all seeds: < 60 min with loading and saving on any 2-core machine
    max_steps: int = 0  # 0 = until time or epochs run out
    # The shipped adapter saw 1.6 epochs, when its 54-min budget ran out on a slow AVX2-only CPU. Faster
    # CPUs would finish 3 epochs, which overfit the 2.6k captions (held-out loss rises in the third), so
    # the epoch count, not the clock, fixes the recipe (bench/RESULTS.md has the runs).
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
    # held-out train rows far better but the dev rows no better (bench/RESULTS.md).
    seeds: int = 1
    split_seed: int | None = None  # which train rows are held out (None = seed): other seeds, same hold-out
    base: str = ""  # folder / hub id of the base model; default Gemma 3 270M from the GGUF package
    # A trained adapter to start from instead of a fresh LoRA (same rank, alpha and layers): after a prompt change
    # a retrain from scratch is one draw of a recipe whose dev CIDEr spreads about 5 points between seeds. On the
    # shipped adapter it did not help: every further step overfit the held-out rows (bench/RESULTS.md "Continuing
    # the shipped adapter"); for adapters trained shorter, or on new data.
    init: str = ""

    @property
    def held_out_seed(self) -> int:
        """The seed of the train / held-out split (split_rows)."""
        return self.seed if self.split_seed is None else self.split_seed


def _parts(model):
    """(decoder body, lm_head, softcap) of a causal LM, peft-wrapped or not."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = base.model if hasattr(base, "model") else base.get_decoder()
    cap = getattr(base.config, "final_logit_softcapping", None)
    return body, base.get_output_embeddings(), cap


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


def add_lora(model, cfg: LLMTrainConfig):
    from peft import LoraConfig, get_peft_model

    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    targets = [t for t in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj") if t in names]
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", 0)
    layers = list(range(n_layers - cfg.top_layers, n_layers)) if cfg.top_layers and n_layers > cfg.top_layers else None
    # With no adapter (and a frozen base) below the top layers, autograd never enters them: the
    # backward pass costs top_layers/num_layers of a full one.
    lcfg = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=targets,
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lcfg)


def load_init(model, cfg: LLMTrainConfig) -> None:
    """Put the adapter in folder cfg.init into the fresh LoRA of `model`; ValueError where its shape differs."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(cfg.init)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        if not (folder / name).exists():
            raise ValueError(f"--init {folder}: no {name} there")
    c = json.loads((folder / "adapter_config.json").read_text())
    mine = model.peft_config["default"]
    theirs = (c.get("r"), c.get("lora_alpha"), c.get("layers_to_transform"), sorted(c.get("target_modules") or []))
    want = (mine.r, mine.lora_alpha, mine.layers_to_transform, sorted(mine.target_modules))
    if theirs != want:
        raise ValueError(
            f"--init {folder}: adapter (r, alpha, layers, modules) {theirs} differs from this run's {want}"
        )
    result = set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
    if getattr(result, "unexpected_keys", None):
        raise ValueError(f"--init {folder}: tensors this model lacks, e.g. {result.unexpected_keys[0]}")


def _write_adapter_weights(state: dict, out: Path) -> None:
    """LoRA tensors as bf16 safetensors (half the size; no accuracy loss at inference), written to a
    temporary file first so a kill never leaves a half-written adapter behind."""
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "adapter_model.safetensors.tmp"
    save_file(
        {k: v.detach().to(torch.bfloat16).contiguous() for k, v in state.items()}, str(tmp), metadata={"format": "pt"}
    )
    tmp.replace(out / "adapter_model.safetensors")


def save_adapter(model, out: Path, meta: dict) -> None:
    """Adapter weights (bf16 safetensors) + peft config + training.json."""
    from peft import get_peft_model_state_dict

    # the embeddings are frozen (the LoRA targets attention and MLP projections): saying so keeps peft's "auto" from
    # looking the base model's config up on the Hub to compare vocabulary sizes (a network call at save time)
    _write_adapter_weights(get_peft_model_state_dict(model, save_embedding_layers=False), out)
    pcfg = model.peft_config["default"]
    pcfg.base_model_name_or_path = meta.get("base_model", "google/gemma-3-270m")
    pcfg.save_pretrained(str(out))
    (out / "training.json").write_text(json.dumps(meta, indent=1))


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


def soup_adapters(folders: list, out: str | Path, meta: dict | None = None) -> Path:
    """A uniform model soup of LoRA adapters of one base model, written as one LoRA adapter.

    The soup's weight delta is the mean of the members' deltas, mean_i(s_i B_i A_i) (s_i = alpha_i / r_i);
    that is exactly a LoRA of rank sum(r_i) with the A matrices stacked and the B matrices side by side,
    each scaled by s_i / n (alpha = rank, so its own scale is 1). Merged into the base at load time
    (j2a.llm.loading.merged_dir), it decodes as fast as one adapter. Why: runs that differ only in their seed make
    different errors. Two seeds' soup decoded the held-out train rows better than either member but the
    dev rows no better (bench/RESULTS.md, Caption quality), so it is an option.
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


def train(cfg: LLMTrainConfig, log=print) -> Path:
    """Train (one adapter, or cfg.seeds of them and their soup) into cfg.out; return that folder."""
    if launched_processes() > 1:  # N copies would each train the whole run and write the same files
        raise ValueError(
            "train-llm runs as one process (its schedule is fitted to its own clock): run it without accelerate launch"
        )
    if cfg.seeds > 1:
        return _train_soup(cfg, log)
    return _train_one(cfg, log)


def _train_soup(cfg: LLMTrainConfig, log=print) -> Path:
    """cfg.seeds members under cfg.out/members/, each given an equal share of the time left, then their soup."""
    from dataclasses import replace

    out = Path(cfg.out)
    split = cfg.held_out_seed
    deadline = time.time() + cfg.minutes * 60
    members, metas = [], []
    for i in range(cfg.seeds):
        minutes = (deadline - time.time()) / 60 / (cfg.seeds - i)
        m = replace(
            cfg,
            seeds=1,
            seed=cfg.seed + i,
            split_seed=split,
            minutes=minutes,
            out=str(out / "members" / f"seed{cfg.seed + i}"),
        )
        log(f"[train-llm] soup member {i + 1}/{cfg.seeds}: seed {m.seed}, {minutes:.1f} min")
        members.append(_train_one(m, log))
        metas.append(json.loads((members[-1] / "training.json").read_text()))
    meta = {
        "config": {**asdict(cfg), "split_seed": split},
        "base_model": metas[0]["base_model"],
        "train_rows": metas[0]["train_rows"],
        "heldout_rows": metas[0]["heldout_rows"],
        "members": [
            {
                "seed": mm["config"]["seed"],
                "best_step": mm.get("best_step"),
                "best_heldout_loss": mm.get("best_heldout_loss"),
            }
            for mm in metas
        ],
    }
    soup_adapters(members, out, meta)
    log(f"[train-llm] soup of {len(members)} adapters -> {out}")
    return out


def _train_one(cfg: LLMTrainConfig, log=print) -> Path:
    """Train, checkpoint the best held-out adapter into cfg.out, return that folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..llm.loading import gemma_base_dir, torch_dtype

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
    if cfg.init:
        load_init(model, cfg)
    model.train()
    vocab_ids = caption_vocab(tok, rows)
    vocab = torch.tensor(vocab_ids)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab_ids))
    log(
        f"[train-llm] {len(train_rows)} train rows, {len(hold_rows)} held out, output vocabulary {len(vocab_ids)} tokens"
    )
    hrng = random.Random(split + 1)  # the held-out prompts follow the split: runs of any seed score the same examples
    held = sorted(
        (encode(tok, make_example(r, hrng, cfg.p_reduced), r["caption"], cfg.max_len) for r in hold_rows),
        key=lambda e: len(e[0]),
    )  # evaluation batches of similar length
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train_rows) / cfg.batch_size)
    total = int(steps_per_epoch * cfg.epochs)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    meta = {
        "config": asdict(cfg),
        "base_model": "google/gemma-3-270m",
        "train_rows": len(train_rows),
        "heldout_rows": len(hold_rows),
        "history": [],
    }
    t0 = time.time()
    deadline = t0 + cfg.minutes * 60
    best = float("inf")
    run = {"sched_total": total, "epoch_order": [], "queue": []}  # what the step functions update

    def loss(step: int) -> float:
        if not run["queue"]:
            if not run["epoch_order"]:
                run["epoch_order"] = list(range(len(train_rows)))
                rng.shuffle(run["epoch_order"])
            n_take = cfg.batch_size * max(cfg.pool, 1)
            take, run["epoch_order"] = run["epoch_order"][:n_take], run["epoch_order"][n_take:]
            run["queue"] = length_batches(
                [
                    encode(tok, make_example(train_rows[i], rng, cfg.p_reduced), train_rows[i]["caption"], cfg.max_len)
                    for i in take
                ],
                cfg.batch_size,
                rng,
            )
        ids, mask, labels = collate(run["queue"].pop(), pad_id)
        value = target_loss(model, ids, mask, labels, vocab)
        value.backward()
        return float(value)

    def checkpoint(step: int) -> None:
        """Score the held-out rows; the best adapter so far is the output."""
        nonlocal best
        hl = heldout_loss(model, held, pad_id, cfg.batch_size * 2, vocab)
        meta["history"].append(
            {"step": step, "heldout_loss": round(hl, 4), "minutes": round((time.time() - t0) / 60, 2)}
        )
        log(f"[train-llm] step {step} held-out loss {hl:.4f} (best {min(best, hl):.4f})")
        if hl < best:
            best = hl
            meta.update(best_step=step, best_heldout_loss=round(hl, 4))
            save_adapter(model, out, meta)
        else:
            (out / "training.json").write_text(json.dumps(meta, indent=1))

    def after(step: int, value: float, lr: float) -> None:
        el = time.time() - t0
        if step == 10 or (step > cfg.eval_every and step % cfg.eval_every == 10):
            # Fit the cosine schedule to the time budget: first from 10 steps, then after each eval from
            # the last eval window's pace (evals included), so a busy start does not cut the run short.
            if step == 10:
                pace = el / step
            else:
                pace = (time.time() - run["win_t"]) / (step - run["win_step"])
            run["sched_total"] = min(total, step + int((deadline - time.time()) / pace * 0.98))
            log(f"[train-llm] {pace:.1f} s/step; schedule {run['sched_total']} steps")
        if step % cfg.eval_every == 10:
            run["win_t"], run["win_step"] = time.time(), step
        if step % 5 == 0:
            log(f"[train-llm] step {step}/{run['sched_total']} loss {value:.3f} lr {lr:.2e} {el / 60:.1f} min")
        last = step >= run["sched_total"] or time.time() >= deadline
        if step % cfg.eval_every == 0 or last:
            checkpoint(step)

    if cfg.init:  # the starting adapter is the checkpoint to beat, and the output until one does
        checkpoint(0)
    train_steps(
        opt,
        params,
        start=0,
        total=lambda: run["sched_total"],
        loss=loss,
        after=after,
        clip_norm=1.0,
        until=deadline,
        lr=lambda step, total: cosine_lr(step, total, cfg.lr, cfg.warmup, 0.1, ramp_over_cosine=True),
    )
    return out


# ------------------------------------------------------------------------------------ captions
def caption_rows(
    rows: list[dict], llm, reduced: bool = False, max_new_tokens: int = 120, prefix: str = ""
) -> list[str]:
    """Captions for MusicCaps rows from their aspect lists (optionally reduced to the analysis
    vocabulary; `prefix` is prepended to every prompt, e.g. few-shot examples for a base model)."""
    ps = [prefix + prompts.format_prompt(reduce_aspects(r["aspects"]) if reduced else r["aspects"]) for r in rows]
    return llm.generate(ps, max_new_tokens=max_new_tokens)


def caption_journal(
    rows: list[dict],
    out: str | Path,
    llm,
    reduced: bool = False,
    batch: int = 16,
    resume: bool = True,
    max_new_tokens: int = 120,
    prefix: str = "",
    progress: bool = True,
) -> list[dict]:
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
                print(
                    f"[caption-tags] {len(rows) - len(todo) + s + len(chunk)}/{len(rows)} rows, {time.time() - t0:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return [done[(r["ytid"], r["start_s"])] for r in rows if (r["ytid"], r["start_s"]) in done]


def caption_tags(
    csv_path: str,
    out: str,
    llm_spec: str = "local",
    reduced: bool = False,
    batch: int = 16,
    resume: bool = True,
    limit: int = 0,
    max_new_tokens: int = 120,
    progress: bool = True,
    decode: str = "fp32",
) -> int:
    """`j2a caption-tags`: a caption per CSV row from its aspect_list. Returns rows captioned now.

    fp32 by default, weights and decode steps (not describe's int8 copies, nor the bf16 model that 'auto'
    loads on CPUs with native bf16): this is the benchmark command, and bench/RESULTS.md's tag-to-caption
    scores are fp32 decoding's."""
    from ..llm import load_llm

    rows = read_captions_csv(csv_path)
    if limit:
        rows = rows[:limit]
    n_before = len(Path(out).read_text().splitlines()) if resume and Path(out).exists() else 0
    caption_journal(
        rows, out, load_llm(llm_spec, decode=decode), reduced, batch, resume, max_new_tokens, progress=progress
    )
    return len(Path(out).read_text().splitlines()) - n_before


# ------------------------------------------------------------------------------------ CLI
def add_cli(subparsers) -> None:
    from ..cli import sub

    p = sub(
        subparsers,
        "train-llm",
        "fine-tune J2A-LLM (LoRA on Gemma 3 270M) on MusicCaps captions",
        "j2a train-llm --data ../shared/data/captions/musiccaps-train.csv --out runs/j2a-llm\n"
        "j2a train-llm --data ../shared/data/captions/musiccaps-train.csv --out runs/more --init runs/j2a-llm "
        "--lr 5e-5 --epochs 0.3",
    )
    p.add_argument("--data", required=True, help="MusicCaps-style CSV with aspect_list and caption (train split only)")
    p.add_argument(
        "--out", required=True, help="folder for the adapter (best held-out checkpoint, rewritten as it improves)"
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=LLMTrainConfig.minutes,
        help="time budget of the whole run, all seeds (default: %(default)s)",
    )
    p.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps (default: time/epochs)")
    p.add_argument(
        "--epochs",
        type=float,
        default=LLMTrainConfig.epochs,
        help="passes over the training rows (default: %(default)s; --minutes may end the run first)",
    )
    p.add_argument("--batch-size", type=int, default=LLMTrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=LLMTrainConfig.lr)
    p.add_argument("--rank", type=int, default=LLMTrainConfig.rank)
    p.add_argument(
        "--top-layers", type=int, default=LLMTrainConfig.top_layers, help="adapt only the last N layers (0 = all)"
    )
    p.add_argument("--dropout", type=float, default=LLMTrainConfig.dropout, help="LoRA dropout (default: %(default)s)")
    p.add_argument(
        "--p-reduced",
        type=float,
        default=LLMTrainConfig.p_reduced,
        help="share of training prompts reduced to what the analysis can produce",
    )
    p.add_argument(
        "--holdout", type=int, default=LLMTrainConfig.holdout, help="train rows held out for model selection"
    )
    p.add_argument("--eval-every", type=int, default=LLMTrainConfig.eval_every)
    p.add_argument(
        "--dtype",
        choices=["auto", "bf16", "fp32"],
        default=LLMTrainConfig.dtype,
        help="compute dtype (default auto: bf16 on GPUs / CPUs with native bf16, else fp32 - emulated bf16 is ~20x slower)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument(
        "--base", default="", help="base model folder or hub id (default: Gemma 3 270M from the GGUF package)"
    )
    p.add_argument("--seed", type=int, default=0, help="LoRA initialisation and data order (default: %(default)s)")
    p.add_argument(
        "--seeds",
        type=int,
        default=LLMTrainConfig.seeds,
        help="train N adapters (seeds --seed, --seed+1, ...) on equal shares of --minutes and write their "
        "average, a model soup, to --out; the members stay in --out/members (default: %(default)s)",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seed of the held-out split (default: --seed); fix it to compare runs of several seeds",
    )
    p.add_argument(
        "--init",
        default="",
        help="start from this trained adapter folder (e.g. j2a/assets/j2a-llm, the shipped one) instead of a "
        "fresh LoRA; it must have the same --rank and layers",
    )
    p.set_defaults(func=_cmd_train)

    p = sub(
        subparsers,
        "caption-tags",
        "caption each MusicCaps row from its aspect_list (tag-to-caption)",
        "j2a caption-tags ../shared/data/captions/musiccaps-dev.csv --out dev.jsonl --llm local",
    )
    p.add_argument("csv", help="CSV with ytid, start_s, aspect_list columns")
    p.add_argument(
        "--out", "-o", required=True, help="JSONL output, one {ytid, start_s, prediction} per row; resumable"
    )
    p.add_argument(
        "--llm", default="local", help="local | none | hf:<id-or-path> | openai:<model>@<url> (default: local)"
    )
    p.add_argument("--reduced", action="store_true", help="map aspects onto the analysis tag vocabulary first")
    p.add_argument("--batch", type=int, default=16, help="rows per generation batch (and journal flush)")
    p.add_argument("--limit", type=int, default=0, help="only the first N rows")
    p.add_argument("--max-new-tokens", type=int, default=120)
    p.add_argument("--no-resume", action="store_true", help="start over (default: skip rows already in --out)")
    p.add_argument(
        "--decode",
        choices=["fp32", "int8", "bf16", "auto"],
        default="fp32",
        help="precision of the local model's decode steps (default fp32: an fp32 model throughout, as scored in "
        "bench/RESULTS.md; describe uses int8 steps, or bf16 weights on CPUs with native bf16: faster)",
    )
    p.set_defaults(func=_cmd_caption)


def _cmd_train(args) -> int:
    cfg = LLMTrainConfig(
        data=args.data,
        out=args.out,
        minutes=args.minutes,
        max_steps=args.max_steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        rank=args.rank,
        alpha=2 * args.rank,
        top_layers=args.top_layers,
        dropout=args.dropout,
        holdout=args.holdout,
        p_reduced=args.p_reduced,
        eval_every=args.eval_every,
        dtype=args.dtype,
        threads=args.threads,
        base=args.base,
        seed=args.seed,
        split_seed=args.split_seed,
        seeds=args.seeds,
        init=args.init,
    )
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
        caption_tags(
            args.csv,
            args.out,
            args.llm,
            args.reduced,
            args.batch,
            not args.no_resume,
            args.limit,
            args.max_new_tokens,
            decode=args.decode,
        )
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    return 0
