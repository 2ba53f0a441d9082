"""`j2a train`: train a J2A-2.x projector (and optionally LoRA) between a frozen encoder and a frozen LLM.

Why it looks like this:
- Encoder and LLM are frozen, so encoder features are computed once and cached on disk
  (`DIR/feature-cache`, keyed by encoder, file, segment): on CPU the encoder would otherwise cost
  more than the projector's training.
- Exact resume: the data order is a pure function of (seed, step), the learning rate a function of
  step, and checkpoints hold the projector, the AdamW state and the RNG state (safetensors + JSON),
  so a resumed run reproduces the loss curve of an uninterrupted one bit for bit.
- Data parallel (several GPUs or nodes): run the same command under `accelerate launch --num_processes N
  -m j2a.cli train ...`. Each process takes every N-th row of each micro-batch; DDP combines the gradients
  so that the step is the one a single process would take on the whole micro-batch (each process's loss is
  weighted by its share of the target tokens), so steps, schedule and results keep their meaning. Only the
  main process evaluates and writes; its log lines also name the training rows each process took
  (`rows_by_rank`).

DIR receives: config.json + projector.safetensors (the final model, loadable with
`j2a describe --model DIR`), checkpoints/step-N/ (model + optimizer + trainer_state.json),
log.jsonl (one line per logged step with `loss`, plus validation lines), tb/ (TensorBoard).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.manifests import Row, read_manifest
from ..models.projector import load_projector_weights
from .loop import Processes, RunLog, cosine_lr, load_optimizer, save_optimizer, train_steps, write_checkpoint


@dataclass
class J2A2TrainConfig:
    """`j2a train`: the data, the model (preset, encoder, LLM, projector shape, LoRA) and the optimisation."""

    data: str
    out: str
    preset: str = "j2a-2.1"
    encoder: str = "musicnn"
    llm: str = "gemma3-270m"
    val_data: str | None = None
    n_tokens: int | None = None  # j2a-2.0 audio tokens
    stride: int | None = None  # j2a-2.1 / mlp pooling stride
    clip_s: float = 10.0
    lora_r: int = 0
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    warmup_steps: int = 20
    max_steps: int | None = None
    max_time_s: float | None = None  # wall-clock budget: stop (and save) after the step that crosses it
    epochs: float = 10.0
    bf16: bool = False
    cache_features: bool = True
    input_stats: bool = (
        False  # standardise encoder features with training-set mean/std (projector buffers); see projector.py
    )
    input_stats_rows: int = 512
    log_every: int = 1
    val_every: int = 200
    val_generate: int = 8
    save_every: int = 200
    keep_checkpoints: int = 2
    max_target_tokens: int = 96
    caption_prompt: str = "Describe this music."
    seed: int = 0
    resume: bool = False
    progress: bool = True


# ------------------------------------------------------------------------------------- features
class FeatureStore:
    """Encoder features per manifest row, computed once (cached on disk when asked)."""

    def __init__(self, model, cache_dir: Path | None):
        self.model, self.cache_dir = model, cache_dir
        enc = model.encoder
        self.tag = hashlib.sha1(
            json.dumps([enc.spec, enc.config(), model.cfg.clip_s], sort_keys=True, default=str).encode()
        ).hexdigest()[:12]
        self.mem: dict[str, torch.Tensor] = {}
        if cache_dir:
            cache_dir.mkdir(parents=True, exist_ok=True)

    def _key(self, r: Row) -> str:
        st = Path(r.audio).stat()
        return hashlib.sha1(
            f"{self.tag}|{Path(r.audio).resolve()}|{st.st_size}|{st.st_mtime_ns}|{r.start}|{r.end}".encode()
        ).hexdigest()

    def get(self, r: Row) -> torch.Tensor:
        from safetensors.torch import load_file, save_file

        from ..models.adapted import load_clip

        k = self._key(r)
        if k in self.mem:
            return self.mem[k]
        f = self.cache_dir / f"{k}.safetensors" if self.cache_dir else None
        if f is not None and f.exists():
            x = load_file(str(f))["x"]
        else:
            y = load_clip(r.audio, self.model.encoder.sample_rate, self.model.cfg.clip_s, r.start, r.end)
            x = self.model.encode(torch.from_numpy(y)[None])[0].float().contiguous()
            if f is not None:
                save_file({"x": x}, str(f))
        if self.cache_dir:
            self.mem[k] = x
        return x

    def batch(self, rows: list[Row]) -> torch.Tensor:
        return torch.stack([self.get(r) for r in rows])


# ------------------------------------------------------------------------------------- training
def micro_batch(step: int, k: int, cfg: J2A2TrainConfig, n: int) -> list[int]:
    """Row indices of micro-batch k of optimizer step `step`: a pure function, so resume is exact."""
    per_epoch = max(1, math.ceil(n / cfg.batch_size))
    g = step * cfg.grad_accum + k
    epoch, j = divmod(g, per_epoch)
    perm = np.random.default_rng([cfg.seed, epoch]).permutation(n)
    return perm[j * cfg.batch_size : (j + 1) * cfg.batch_size].tolist()


def build_model(cfg: J2A2TrainConfig):
    from ..models.adapted import AdaptedLM, J2A2Config
    from ..models.presets import projector_dict

    torch.manual_seed(cfg.seed)
    mcfg = J2A2Config(
        preset=cfg.preset,
        encoder=cfg.encoder,
        llm=cfg.llm,
        projector=projector_dict(cfg.preset, cfg.n_tokens, cfg.stride),
        clip_s=cfg.clip_s,
        caption_prompt=cfg.caption_prompt,
        lora={"r": cfg.lora_r, "alpha": 2 * cfg.lora_r} if cfg.lora_r else None,
    )
    return AdaptedLM(mcfg)


def _latest_checkpoint(out: Path) -> Path | None:
    cks = sorted((out / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    cks = [c for c in cks if (c / "trainer_state.json").exists()]
    return cks[-1] if cks else None


def evaluate(model, store: FeatureStore, rows: list[Row], cfg: J2A2TrainConfig) -> dict:
    """Validation loss on all rows and caption metrics on the first val_generate captioning rows."""
    model.eval()
    losses, weights = [], []
    with (
        torch.no_grad(),
        torch.autocast(next(model.projector.parameters()).device.type, dtype=torch.bfloat16, enabled=cfg.bf16),
    ):
        for i in range(0, len(rows), cfg.batch_size):
            b = rows[i : i + cfg.batch_size]
            losses.append(
                float(
                    model.loss(
                        store.batch(b),
                        [r.prompt or cfg.caption_prompt for r in b],
                        [r.text for r in b],
                        cfg.max_target_tokens,
                    )
                )
            )
            weights.append(len(b))
        res = {"val_loss": float(np.average(losses, weights=weights))}
        gen = [r for r in rows if not r.prompt][: cfg.val_generate]
        if gen:
            preds = []
            for i in range(0, len(gen), cfg.batch_size):
                b = gen[i : i + cfg.batch_size]
                preds += model.generate(store.batch(b), [cfg.caption_prompt] * len(b))
            res["val_example"] = preds[0]
            try:
                from ..eval.captions import score_captions
            except ImportError:
                score_captions = None
            if score_captions is not None:
                ids = [str(i) for i in range(len(gen))]
                scores = score_captions(dict(zip(ids, [[r.text] for r in gen])), dict(zip(ids, preds)), sbert=False)
                res.update(
                    {
                        f"val_{k}": float(v)
                        for k, v in (scores.items() if isinstance(scores, dict) else [])
                        if isinstance(v, (int, float))
                    }
                )
    model.train()
    return res


def train(cfg: J2A2TrainConfig) -> Path:
    from tqdm import tqdm

    t_start = time.time()
    out = Path(cfg.out)
    par = Processes(accelerator=True)  # one process, or the N of `accelerate launch` (data parallel)
    rows = read_manifest(cfg.data)
    val_rows = read_manifest(cfg.val_data) if cfg.val_data else [r for r in rows if r.split == "valid"]
    train_rows = [r for r in rows if r.split == "train"]
    if not train_rows:
        raise ValueError(f"{cfg.data}: no rows with split 'train'")
    for r in train_rows + val_rows:
        if not Path(r.audio).is_file():
            raise FileNotFoundError(f"{r.audio}: audio file in {cfg.data} not found")

    ckpt = _latest_checkpoint(out) if cfg.resume else None
    if cfg.resume and ckpt is None and (out / "checkpoints").exists():
        raise ValueError(f"{out}: --resume but no complete checkpoint in {out / 'checkpoints'}")
    if ckpt is not None:  # the run's own settings win, except how far to go
        saved = json.loads((ckpt / "trainer_state.json").read_text())["config"]
        keep = {
            k: getattr(cfg, k)
            for k in ("max_steps", "max_time_s", "epochs", "resume", "progress", "val_every", "save_every")
        }
        cfg = J2A2TrainConfig(**{**saved, **keep})
    out.mkdir(parents=True, exist_ok=True)

    model = build_model(cfg).to(par.device)
    params = model.trainable_parameters()
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(train_rows)
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * math.ceil(n / cfg.batch_size) / cfg.grad_accum))
    start = 0
    if ckpt is not None:
        from safetensors.torch import load_file

        load_projector_weights(model.projector, ckpt / "projector.safetensors")
        if cfg.lora_r:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model.llm, load_file(str(ckpt / "lora.safetensors")))
        load_optimizer(opt, ckpt)
        st = json.loads((ckpt / "trainer_state.json").read_text())
        start = st["step"]
        torch.set_rng_state(load_file(str(ckpt / "rng.safetensors"))["torch"])
        random.setstate((st["py_rng"][0], tuple(st["py_rng"][1]), st["py_rng"][2]))
        if par.main:
            print(f"train: resuming from {ckpt} (step {start})", file=sys.stderr)

    store = FeatureStore(model, out / "feature-cache" if cfg.cache_features else None)
    if cfg.cache_features and par.main:
        for r in tqdm(train_rows + val_rows, desc="encoder features", disable=not cfg.progress, leave=False):
            store.get(r)
    par.barrier()  # the others read the features the main process cached
    if ckpt is None and cfg.input_stats:  # a new run: standardise inputs with the training features
        model.projector.set_input_stats(store.batch(train_rows[: cfg.input_stats_rows]))

    log_path = out / "log.jsonl"
    log = RunLog(log_path, start, tensorboard=out / "tb") if par.main else None

    model.train()
    # several processes: DDP over the trainable parameters averages their gradients in the backward pass
    forward = par.wrap(
        lambda x, prompts, texts: model.loss(x, prompts, texts, cfg.max_target_tokens, count=True), params
    )
    taken: list[int] = []  # the training rows this process took in the current step
    t0 = time.time()

    def loss(step: int) -> float:
        loss_sum = 0.0
        taken.clear()
        for k in range(cfg.grad_accum):
            rows_k = micro_batch(step, k, cfg, n)
            mine = par.shard(rows_k)
            taken.extend(mine)
            # a process left without rows (a micro-batch smaller than the world) still runs forward and
            # backward, on one row with weight 0: DDP needs every process's gradients
            b = [train_rows[i] for i in mine or rows_k[:1]]
            with par.no_sync(forward, k < cfg.grad_accum - 1):
                with torch.autocast(par.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    loss, tokens = forward(
                        store.batch(b).to(par.device), [r.prompt or cfg.caption_prompt for r in b], [r.text for r in b]
                    )
                if par.world == 1:
                    value = float(loss.detach())
                else:  # the micro-batch's loss is the mean over all its target tokens, on all processes
                    tokens = tokens if mine else 0
                    loss_all, tokens_all = par.sum(float(loss.detach()) * tokens, tokens)
                    value = loss_all / tokens_all
                    loss = loss * (tokens * par.world / tokens_all)  # DDP divides the gradient sum by world
                (loss / cfg.grad_accum).backward()
            loss_sum += value / cfg.grad_accum
        return loss_sum

    def after(done: int, loss_sum: float, lr: float) -> bool:
        if done % cfg.log_every == 0 or done == total:
            row = {"step": done, "loss": loss_sum, "lr": lr, "elapsed_s": round(time.time() - t0, 2)}
            if par.world > 1:
                row["rows_by_rank"] = par.gather(list(taken))  # the training rows each process took
            if par.main:
                log.write(row)
        if par.main and val_rows and (done % cfg.val_every == 0 or done == total):
            log.write({"step": done, **evaluate(model, store, val_rows, cfg)})
        # the main process's clock decides for all (train_steps)
        out_of_time = bool(cfg.max_time_s) and time.time() - t_start > cfg.max_time_s
        if par.main and (done % cfg.save_every == 0 or done == total or out_of_time):
            save_checkpoint(model, opt, cfg, done, out)
        if par.main and out_of_time:
            print(f"train: --max-time-s {cfg.max_time_s:g} reached after step {done} of {total}", file=sys.stderr)
        return out_of_time

    done = train_steps(
        opt,
        params,
        start=start,
        total=total,
        loss=loss,
        after=after,
        lr=lambda step, total: cosine_lr(step, total, cfg.lr, cfg.warmup_steps, cfg.min_lr_ratio),
        progress="train" if cfg.progress else None,
        processes=par,
    )
    if par.main:
        model.save_pretrained(out)
        log.close()
        print(f"train: {done} steps done -> {out} (log {log_path})", file=sys.stderr)
    par.close()  # the other processes wait for the main one's final save
    return out


def save_checkpoint(model, opt, cfg: J2A2TrainConfig, step: int, out: Path) -> Path:
    """checkpoints/step-N: the model, the AdamW state, the RNG states and the config; only the last
    `keep_checkpoints` are kept."""
    from safetensors.torch import save_file

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        save_optimizer(opt, tmp)
        save_file({"torch": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
        py = random.getstate()
        (tmp / "trainer_state.json").write_text(
            json.dumps({"step": step, "config": asdict(cfg), "py_rng": [py[0], list(py[1]), py[2]]})
        )

    d = write_checkpoint(out / "checkpoints" / f"step-{step}", write)
    cks = sorted((out / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    for old in cks[: max(0, len(cks) - cfg.keep_checkpoints)]:
        shutil.rmtree(old, ignore_errors=True)
    return d


# ------------------------------------------------------------------------------------------- CLI
def cmd_train(args) -> int:
    from ..cli import config_from_args

    train(config_from_args(J2A2TrainConfig, args))
    return 0


def add_cli(subparsers) -> None:
    from ..cli import sub

    p = sub(
        subparsers,
        "train",
        "train a J2A-2.x model (audio encoder -> projector -> frozen LLM)",
        "j2a train --preset j2a-2.1 --encoder musicnn --llm gemma3-270m --data train.jsonl --out runs/j2a21\n"
        "j2a train --preset j2a-2.0 --encoder tiny-random --llm tiny-random --data m.jsonl --out /tmp/smoke --max-steps 20\n"
        "j2a train ... --out runs/j2a21 --resume          # continue a killed run exactly\n"
        "accelerate launch --num_processes 4 -m j2a.cli train --encoder hf:m-a-p/MERT-v1-95M@7 \\\n"
        "    --llm Qwen/Qwen2.5-0.5B --data musiccaps.jsonl --out runs/mert-qwen --bf16 --lora 8\n"
        "encoders: tiny-random | musicnn[:MODEL[:LAYER[:HOP_S]]] (LAYER penultimate+rhythm by default; penultimate,\n"
        "  mean_pool, max_pool, pool, rhythm or a + join) | mwmae:DIR | mwmae-SIZE | hf:ID[@LAYER];\n"
        "LLMs: gemma3-270m (from the PyPI package) | tiny-random | any HF causal LM id or path",
        description="Train the projector between a frozen audio encoder and a frozen LLM on a manifest JSONL "
        "(audio, text, [start, end], [split], [prompt]); rows with split 'valid' are used for validation.",
    )
    p.add_argument("--data", required=True, help="training manifest JSONL (see `j2a data --help`)")
    p.add_argument("--out", required=True, help="output folder: final model, checkpoints/, log.jsonl, tb/")
    p.add_argument(
        "--preset",
        default="j2a-2.1",
        choices=["j2a-2.0", "j2a-2.1", "mlp"],
        help="projector kind (default: %(default)s)",
    )
    p.add_argument("--encoder", default="musicnn", help="audio encoder (default: %(default)s)")
    p.add_argument("--llm", default="gemma3-270m", help="causal LM (default: %(default)s)")
    p.add_argument("--val-data", help="validation manifest (default: rows of --data with split 'valid')")
    p.add_argument("--n-tokens", type=int, help="j2a-2.0: number of audio tokens (default 4)")
    p.add_argument("--stride", type=int, help="j2a-2.1/mlp: pooling stride over encoder frames (default 2)")
    p.add_argument("--clip-s", type=float, help="seconds of audio per example (default 10)")
    p.add_argument("--lora", dest="lora_r", type=int, help="also train LoRA adapters of this rank on the LLM")
    p.add_argument("--batch-size", type=int, help="examples per micro-batch (default 4)")
    p.add_argument("--grad-accum", type=int, help="micro-batches per optimizer step (default 1)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-3)")
    p.add_argument("--warmup-steps", type=int, help="linear warm-up steps before cosine decay (default 20)")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps (default: --epochs)")
    p.add_argument(
        "--max-time-s", type=float, help="wall-clock budget in seconds (stops and saves after the step that crosses it)"
    )
    p.add_argument("--epochs", type=float, help="passes over the training rows (default 10)")
    p.add_argument(
        "--bf16",
        action="store_true",
        default=None,
        help="bf16 autocast (GPUs, CPUs with avx512_bf16/AMX; on AVX2-only CPUs emulated bf16 is ~20x slower)",
    )
    p.add_argument(
        "--cache-features",
        action=__import__("argparse").BooleanOptionalAction,
        default=None,
        help="cache encoder features in OUT/feature-cache (default: on)",
    )
    p.add_argument(
        "--input-stats",
        action=__import__("argparse").BooleanOptionalAction,
        default=None,
        help="standardise encoder features with the training set's mean/std, kept in the projector (default: off; "
        "for encoders whose feature dimensions differ wildly in scale)",
    )
    p.add_argument("--log-every", type=int)
    p.add_argument("--val-every", type=int, help="validate every N steps (default 200)")
    p.add_argument("--val-generate", type=int, help="validation rows to caption and score (default 8)")
    p.add_argument("--save-every", type=int, help="checkpoint every N steps (default 200)")
    p.add_argument("--max-target-tokens", type=int)
    p.add_argument("--caption-prompt", help="instruction for rows without a prompt (default 'Describe this music.')")
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", default=None, help="continue from the latest checkpoint in --out")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")
    p.set_defaults(func=cmd_train)
