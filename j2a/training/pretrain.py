"""`j2a pretrain-encoder`: self-supervised MW-MAE pretraining on a folder of audio.

Every file is cut into 2-s log-mel clips once (at most `max_clips_per_file` spread over the file),
then each step reconstructs the masked patches of a batch of clips. Batch choice and masks are
functions of (seed, step), and checkpoints hold the weights, the AdamW state and the step, so
`--resume` continues exactly. A fixed held-out set of clips with fixed masks gives `eval_loss`,
comparable across steps. The checkpoint folder plugs into `j2a train --encoder mwmae:DIR`.

Under `accelerate launch --num_processes N` each process reconstructs every N-th clip of the step's batch
(its own masks) and DDP averages the gradients (each process weighted by its share of the clips); only the
main process evaluates and writes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.mwmae import MWMAE, make_config
from .loop import Processes, RunLog, cosine_lr, load_optimizer, save_optimizer, train_steps


@dataclass
class PretrainConfig:
    """`j2a pretrain-encoder`: the audio, the model size and the optimisation."""

    inputs: list[str]
    out: str
    size: str = "mini"
    steps: int = 300
    batch_size: int = 16
    lr: float = 5e-4
    warmup_steps: int = 20
    weight_decay: float = 0.05
    max_clips_per_file: int = 15
    eval_clips: int = 32
    eval_every: int = 50
    save_every: int = 100
    seed: int = 0
    resume: bool = False
    progress: bool = True


def audio_clips(files: list[str], model: MWMAE, max_per_file: int) -> torch.Tensor:
    """(N, clip_frames, n_mels) standardised log-mel clips from the files (30-s blocks, memory-bounded)."""
    from ..audio import AudioError, open_audio

    c = model.cfg
    out = []
    for f in files:
        try:
            a = open_audio(f)
        except AudioError as e:
            print(f"pretrain-encoder: skipped {e}", file=sys.stderr)
            continue
        clips = []
        for _, y in a.chunks(c.sample_rate, 30.0):
            if len(y) < c.sample_rate * c.clip_frames * c.hop / c.sample_rate / 2:
                continue  # under half a clip: mostly padding
            with torch.no_grad():
                clips.append(model.clips(torch.from_numpy(np.ascontiguousarray(y))[None])[0])
        if clips:
            x = torch.cat(clips)
            keep = np.linspace(0, len(x) - 1, min(len(x), max_per_file)).round().astype(int)
            out.append(x[np.unique(keep)])
    if not out:
        raise ValueError("pretrain-encoder: no usable audio in the inputs")
    return torch.cat(out)


def eval_loss(model: MWMAE, clips: torch.Tensor, seed: int) -> float:
    model.eval()
    with torch.no_grad():
        loss = float(model(clips, torch.Generator(clips.device).manual_seed(seed + 12345)))
    model.train()
    return loss


def pretrain(cfg: PretrainConfig) -> Path:
    from safetensors.torch import load_file

    from ..audio import find_audio_files

    out = Path(cfg.out)
    par = Processes()  # this process alone, or the N of `accelerate launch` (data parallel)
    state_file = out / "pretrain_state.json"
    start = 0
    if cfg.resume and state_file.exists():
        st = json.loads(state_file.read_text())
        keep = {"steps": cfg.steps, "resume": True, "progress": cfg.progress}
        cfg = PretrainConfig(**{**st["config"], **keep})
        start = st["step"]
    files = find_audio_files(cfg.inputs)
    if not files:
        raise ValueError(f"pretrain-encoder: no audio files in {' '.join(cfg.inputs)}")
    torch.manual_seed(cfg.seed)
    model = MWMAE(make_config(cfg.size))
    if start:
        model.load_state_dict(load_file(str(out / "mwmae.safetensors")))
    clips = audio_clips(files, model, cfg.max_clips_per_file)
    perm = np.random.default_rng(cfg.seed).permutation(len(clips))
    n_eval = min(cfg.eval_clips, max(1, len(clips) // 5))
    held, train_clips = clips[perm[:n_eval]].to(par.device), clips[perm[n_eval:]].to(par.device)
    model.to(par.device)
    if par.main:
        print(
            f"pretrain-encoder: {len(files)} files -> {len(train_clips)} training clips, {n_eval} held out; "
            f"MW-MAE-{cfg.size} {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params, "
            f"windows {model.cfg.windows()}",
            file=sys.stderr,
        )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    if start:
        load_optimizer(opt, out)
    out.mkdir(parents=True, exist_ok=True)
    log = RunLog(out / "log.jsonl", start) if par.main else None
    model.train()
    if start == 0 and par.main:
        log.write({"step": 0, "eval_loss": eval_loss(model, held, cfg.seed)})
    forward = par.wrap(model, list(model.parameters()))  # several processes: DDP averages the gradients
    t0 = time.time()

    def loss(step: int) -> float:
        rng = np.random.default_rng([cfg.seed, step])
        idx = rng.choice(len(train_clips), min(cfg.batch_size, len(train_clips)), replace=False)
        mine = par.shard(idx)
        # masks: one stream per process (the same as before for one process)
        gen = torch.Generator(par.device).manual_seed(cfg.seed * 1_000_003 + step * par.world + par.rank)
        value = forward(train_clips[mine if len(mine) else idx[:1]], gen)
        if par.world == 1:
            value.backward()
            return float(value.detach())
        share = len(mine) / len(idx)  # a process without clips runs one with weight 0 (DDP needs its gradients)
        (value * (share * par.world)).backward()  # DDP divides the gradient sum by world
        return par.sum(float(value.detach()) * share)[0]

    def after(done: int, value: float, lr: float) -> None:
        if not par.main:
            return
        row = {"step": done, "loss": value, "elapsed_s": round(time.time() - t0, 2)}
        if done % cfg.eval_every == 0 or done == cfg.steps:
            row["eval_loss"] = eval_loss(model, held, cfg.seed)
        log.write(row)
        if done % cfg.save_every == 0 or done == cfg.steps:
            model.save(out)
            save_optimizer(opt, out)
            state_file.write_text(json.dumps({"step": done, "config": asdict(cfg)}))

    train_steps(
        opt,
        list(model.parameters()),
        start=start,
        total=cfg.steps,
        loss=loss,
        after=after,
        clip_norm=1.0,
        lr=lambda step, total: cosine_lr(step, total, cfg.lr, cfg.warmup_steps),
        progress="pretrain" if cfg.progress else None,
        processes=par,
    )
    if par.main:
        log.close()
        print(f"pretrain-encoder: {cfg.steps} steps -> {out} (use --encoder mwmae:{out})", file=sys.stderr)
    par.close()  # the other processes wait for the main one's last save
    return out


def cmd_pretrain(args) -> int:
    from ..cli import config_from_args

    pretrain(config_from_args(PretrainConfig, args))
    return 0


def add_cli(subparsers) -> None:
    from ..cli import sub

    p = sub(
        subparsers,
        "pretrain-encoder",
        "self-supervised MW-MAE audio-encoder pretraining (masked reconstruction)",
        "j2a pretrain-encoder ~/Music rendered/ --out runs/mwmae --size mini --steps 300\n"
        "j2a pretrain-encoder ~/Music --out runs/mwmae --steps 1000 --resume   # continue\n"
        "j2a train --encoder mwmae:runs/mwmae --data train.jsonl --out runs/j2a21-mwmae",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="audio files and/or folders")
    p.add_argument("--out", required=True, help="checkpoint folder (mwmae_config.json, mwmae.safetensors, log.jsonl)")
    p.add_argument("--size", choices=["tiny", "mini", "small", "base"], help="model size (default: mini)")
    p.add_argument("--steps", type=int, help="total optimizer steps (default 300)")
    p.add_argument("--batch-size", type=int, help="clips per step (default 16)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-4)")
    p.add_argument("--eval-every", type=int, help="held-out loss every N steps (default 50)")
    p.add_argument("--save-every", type=int, help="checkpoint every N steps (default 100)")
    p.add_argument("--max-clips-per-file", type=int, help="2-s clips taken per file (default 15)")
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", default=None, help="continue from the checkpoint in --out")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    p.set_defaults(func=cmd_pretrain)
