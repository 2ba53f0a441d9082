"""What J2A's three trainers share: the optimizer loop, the learning-rate schedule, optimizer checkpoints,
the run log, and data-parallel training over the processes `accelerate launch` starts.

Used by `j2a train` (j2a.training.j2a2), `j2a train-llm` (j2a.training.llm) and `j2a pretrain-encoder`
(j2a.training.pretrain). Each trainer keeps what is its own: its data, its loss, what it evaluates and
what a checkpoint of its model holds. `j2a train` and `j2a pretrain-encoder` run data-parallel under
`accelerate launch --num_processes N`; `j2a train-llm` refuses to (its schedule follows its own clock).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
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
    processes: Processes | None = None,
) -> int:
    """Optimizer steps from `start` until `total` (or the clock passes `until`, a time.time()).

    Each step: set the learning rate `lr(step, total)`, zero the gradients, `loss(step)` (forward and
    backward passes; returns the loss as a float), clip the gradient norm, take the step, then
    `after(steps_done, loss, lr)` (log, evaluate, checkpoint), which returns True to stop early. `total`
    may be a function, read before each step: train-llm fits its schedule to its time budget as it goes.
    `progress`: a tqdm bar with that name. Returns the number of steps done.

    With several `processes` (data parallel) every process runs this loop in step: `loss` averages the
    gradients (see Processes.wrap), so each takes the same optimizer step; the decisions a process
    could take on its own (the clock, `after`'s stop, a `total` function) are the main process's, and
    only the main process shows the bar."""
    import torch

    together = processes is not None and processes.world > 1
    bar = None
    if progress and (processes is None or processes.main):
        from tqdm import tqdm

        bar = tqdm(total=total() if callable(total) else total, initial=start, desc=progress)
    step = start
    try:
        while True:
            n = total() if callable(total) else total
            if together and callable(total):
                n = processes.agree(n)
            late = until is not None and time.time() >= until
            if together and until is not None:
                late = processes.agree(late)
            if step >= n or late:
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
            stop = after(step, value, rate)
            if together:
                stop = processes.agree(bool(stop))
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    return step


# -------------------------------------------------------------------------------------- data parallel
def launched_processes() -> int:
    """How many processes the launcher started for this run (`accelerate launch` and torchrun set
    WORLD_SIZE); 1 for a plain command."""
    return int(os.environ.get("WORLD_SIZE", "1"))


class Processes:
    """The processes training one model: this one alone (a plain command), or the N data-parallel ones that
    `accelerate launch --num_processes N` starts (one per GPU, with NCCL; on CPUs, with gloo).

    Every process builds the same model and takes its own share of each batch (`shard`); `wrap` puts the
    trainable parameters under DistributedDataParallel, which averages their gradients over the processes in
    the backward pass, so every process takes the same optimizer step and the steps keep their meaning
    (one step = one global batch; the schedule is unchanged). Only the `main` process logs, evaluates and
    writes; the others wait for it at the end (`close`). With one process all of this is a no-op, and
    accelerate is imported only when the run was launched, or when `accelerator` asks for it anyway
    (`j2a train` picks its device with it)."""

    def __init__(self, accelerator: bool = False):
        import torch

        self.acc = None
        if accelerator or launched_processes() > 1:
            from accelerate import Accelerator

            self.acc = Accelerator(cpu=not torch.cuda.is_available())
        self.rank = self.acc.process_index if self.acc else 0
        self.world = self.acc.num_processes if self.acc else 1
        self.main = self.rank == 0
        self.device = self.acc.device if self.acc else torch.device("cpu")

    def shard(self, items):
        """This process's share of a batch: every world-th item from its rank (all of them for one process)."""
        return items[self.rank :: self.world] if self.world > 1 else items

    def wrap(self, forward, params):
        """`forward(*args)`, which computes a loss through the trainable `params`, as a callable whose backward
        pass averages the gradients of `params` over the processes: accelerate's DistributedDataParallel over
        those parameters alone (a frozen encoder or LLM is neither broadcast nor reduced; every process must
        run forward and backward on every micro-batch, through this callable). One process: `forward` itself."""
        if self.world == 1:
            return forward
        import torch

        class Trainable(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.params = torch.nn.ParameterList(params)  # the same tensors the optimizer holds; no buffers
                self.__dict__["_forward"] = forward  # not a submodule: its frozen weights stay out of DDP

            def forward(self, *args, **kwargs):
                return self._forward(*args, **kwargs)

        return self.acc.prepare_model(Trainable())

    def no_sync(self, wrapped, skip: bool = True):
        """Around a forward and backward pass whose gradients are only accumulated (a micro-batch before the
        last): no gradient exchange; the last micro-batch's backward averages the sum."""
        return self.acc.no_sync(wrapped) if self.world > 1 and skip else contextlib.nullcontext()

    def sum(self, *values: float) -> list[float]:
        """Each value summed over the processes (float64)."""
        if self.world == 1:
            return [float(v) for v in values]
        import torch

        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        return self.acc.reduce(t, reduction="sum").tolist()

    def agree(self, value):
        """The main process's `value` (a picklable object), on every process."""
        if self.world == 1:
            return value
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([value], from_process=0)[0]

    def gather(self, value) -> list:
        """[value of process 0, value of process 1, ...] on every process."""
        if self.world == 1:
            return [value]
        from accelerate.utils import gather_object

        return gather_object([value])

    def barrier(self) -> None:
        if self.world > 1:
            self.acc.wait_for_everyone()

    def close(self) -> None:
        """The end of the run: every process waits for the main one (its last checkpoint), then leaves the
        process group."""
        if self.world > 1:
            self.acc.wait_for_everyone()
            self.acc.end_training()


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
