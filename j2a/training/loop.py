"""What J2A's three trainers share: the optimizer loop, the learning-rate schedule, optimizer checkpoints
and the run log.

Used by `j2a train` (j2a.training.j2a2), `j2a train-llm` (j2a.training.llm) and `j2a pretrain-encoder`
(j2a.training.pretrain). Each trainer keeps what is its own: its data, its loss, what it evaluates and
what a checkpoint of its model holds.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path


# ------------------------------------------------------------------------------------------- schedule
def cosine_lr(
    step: int, total: int, peak: float, warmup: int, floor: float = 0.0, ramp_over_cosine: bool = False
) -> float:
    """Learning rate of optimizer step `step` (0-based) of `total`: a linear warm-up over `warmup` steps and a
    cosine decay from `peak` to `floor * peak`.

    The decay starts after the warm-up; with `ramp_over_cosine` (J2A-LLM's LoRA) it spans all `total` steps and
    the warm-up ramp scales it instead, so a run whose `total` is refitted to its time budget keeps one curve."""
    if ramp_over_cosine:
        t = step / max(total, 1)
        return (
            peak * min(1.0, (step + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))
        )
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


# ----------------------------------------------------------------------------------------------- loop
def train_steps(
    opt,
    params,
    *,
    start: int,
    total: int | Callable[[], int],
    lr: Callable[[int, int], float],
    loss: Callable[[int], float],
    after: Callable[[int, float, float], bool | None],
    clip_norm: float | None = None,
    until: float | None = None,
    progress: str | None = None,
) -> int:
    """Optimizer steps from `start` until `total` (or the clock passes `until`, a time.time()).

    Each step: set the learning rate `lr(step, total)`, zero the gradients, `loss(step)` (forward and
    backward passes; returns the loss as a float), clip the gradient norm, take the step, then
    `after(steps_done, loss, lr)` (log, evaluate, checkpoint), which returns True to stop early. `total`
    may be a function, read before each step: train-llm fits its schedule to its time budget as it goes.
    `progress`: a tqdm bar with that name. Returns the number of steps done."""
    import torch

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total() if callable(total) else total, initial=start, desc=progress)
    step = start
    try:
        while True:
            n = total() if callable(total) else total
            if step >= n or (until is not None and time.time() >= until):
                break
            rate = lr(step, n)
            for g in opt.param_groups:
                g["lr"] = rate
            opt.zero_grad(set_to_none=True)
            value = loss(step)
            if clip_norm:
                torch.nn.utils.clip_grad_norm_(params, clip_norm)
            opt.step()
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3f}")
            if after(step, value, rate):
                break
    finally:
        if bar is not None:
            bar.close()
    return step


# ----------------------------------------------------------------------------------------- checkpoints
def save_optimizer(opt, path: Path) -> None:
    """AdamW state as safetensors tensors + JSON param groups (no pickle)."""
    import torch
    from safetensors.torch import save_file

    sd = opt.state_dict()
    tensors = {
        f"{pid}.{k}": (v if torch.is_tensor(v) else torch.tensor(v)).contiguous()
        for pid, st in sd["state"].items()
        for k, v in st.items()
    }
    save_file(tensors, str(path / "optimizer.safetensors"))
    (path / "optimizer.json").write_text(json.dumps({"param_groups": sd["param_groups"]}))


def load_optimizer(opt, path: Path) -> None:
    from safetensors.torch import load_file

    state: dict[int, dict] = {}
    for k, v in load_file(str(path / "optimizer.safetensors")).items():
        pid, name = k.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict(
        {"state": state, "param_groups": json.loads((path / "optimizer.json").read_text())["param_groups"]}
    )


def write_checkpoint(folder: Path, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` fills a temporary folder that then replaces `folder`: a checkpoint is complete or absent,
    never half-written (a run killed while saving resumes from the one before)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


# ------------------------------------------------------------------------------------------------- log
class RunLog:
    """log.jsonl (one JSON object per line, each with its `step`), and optionally TensorBoard scalars.

    Resuming from step `start` drops the lines after it (a killed run's tail), so a resumed run's log
    reads like an uninterrupted one's."""

    def __init__(self, path: Path, start: int = 0, tensorboard: Path | None = None):
        old = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if start and path.exists() else []
        path.write_text("".join(json.dumps(r) + "\n" for r in old if r.get("step", 0) <= start))
        self.path, self.f, self.tb = path, open(path, "a"), None
        if tensorboard is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(tensorboard), purge_step=start or None)
            except ImportError:
                self.tb = None

    def write(self, row: dict) -> None:
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self.f.close()
        if self.tb is not None:
            self.tb.close()
