"""Data-parallel training under `accelerate launch`: two CPU processes (gloo) with the tiny random models.

`j2a train` on two processes writes exactly the files a one-process run writes, once (one log, one TensorBoard
file), and takes the same optimizer steps: the log names the rows each process took (different ones, together
the whole micro-batch) and the projector comes out as the one-process run's, which it would not if the processes
had not combined their gradients (each would have stepped on its own rows; measured: 0.15 of the training's
displacement apart, against 3e-7 with the gradients averaged)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from hand_made import synth_manifest

from j2a.training.j2a2 import J2A2TrainConfig, build_model, micro_batch


@pytest.fixture(scope="module")
def train_manifest(tmp_path_factory):
    return synth_manifest(tmp_path_factory.mktemp("dp"))


def launch(n: int, args: list[str], tmp_path) -> subprocess.CompletedProcess:
    """`accelerate launch` of `j2a ARGS` on n CPU processes. (accelerate 1.x's `--cpu` starts one process
    whatever --num_processes says; its torchrun launcher, `--multi_gpu`, with no GPU visible starts n on gloo.)"""
    with socket.socket() as s:  # a free rendezvous port: other runs may hold accelerate's default 29500
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),  # no accelerate default_config.yaml from the user's cache
        "OMP_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n)]
    cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["--main_process_port", str(port)]
    return subprocess.run(cmd + ["-m", "j2a.cli", *args], env=env, capture_output=True, text=True, timeout=600)


def files(out) -> list[str]:
    """Every file of a run folder, TensorBoard's (named after host, time and pid) by count only."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent.name != "tb") + [
        f"tb: {len(list((out / 'tb').iterdir()))} file(s)"
    ]


def log_rows(out) -> list[dict]:
    return [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow  # two launched processes importing torch and transformers: ~20 s on 2 cores
def test_train_two_processes_is_the_one_process_run(train_manifest, tmp_path):
    from safetensors.torch import load_file

    from j2a.cli import main
    from j2a.models import load_j2a2

    # 9 training rows in micro-batches of 4: step 1 takes batches of 4 and 4, step 2 one of 1 row (the second
    # process gets none) and one of 4: uneven shards, an empty one and gradient accumulation
    args = ["train", "--preset", "j2a-2.1", "--encoder", "tiny-random", "--llm", "tiny-random"]
    args += ["--data", str(train_manifest), "--clip-s", "2", "--batch-size", "4", "--grad-accum", "2", "--lr", "3e-3"]
    args += ["--warmup-steps", "1", "--max-steps", "3", "--save-every", "2", "--val-generate", "0", "--no-progress"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(args + ["--out", str(one)]) == 0
    r = launch(2, args + ["--out", str(two)], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("train: 3 steps done") == 1  # only the main process reports

    assert files(two) == files(one)  # checkpoints step-2 and step-3, the model, one log, one TensorBoard file
    assert "checkpoints/step-3/optimizer.safetensors" in files(two)
    assert json.loads((two / "checkpoints/step-3/trainer_state.json").read_text())["step"] == 3
    assert isinstance(load_j2a2(two).describe(str(train_manifest.parent / "c0.wav")), str)

    log1, log2 = log_rows(one), log_rows(two)
    assert [x["step"] for x in log2] == [x["step"] for x in log1] == [1, 2, 3, 3]  # each line once; val at the end
    cfg = J2A2TrainConfig(data="", out="", batch_size=4, grad_accum=2)
    for x in log2[:3]:
        mb = [micro_batch(x["step"] - 1, k, cfg, 9) for k in range(2)]
        assert x["rows_by_rank"] == [mb[0][0::2] + mb[1][0::2], mb[0][1::2] + mb[1][1::2]]
        assert x["rows_by_rank"][1] and not set(x["rows_by_rank"][0]) & set(x["rows_by_rank"][1])
    assert len(log2[1]["rows_by_rank"][0]) == 3 and len(log2[1]["rows_by_rank"][1]) == 2  # the 1-row batch: rank 0
    assert "rows_by_rank" not in log1[0]
    for a, b in zip(log1, log2):  # the loss of the whole micro-batches, as one process computes it
        assert b.get("loss", b.get("val_loss")) == pytest.approx(a.get("loss", a.get("val_loss")), rel=1e-5)

    w0 = build_model(J2A2TrainConfig(data="", out="", encoder="tiny-random", llm="tiny-random", clip_s=2.0))
    w0 = w0.projector.state_dict()
    w1, w2 = (load_file(str(d / "projector.safetensors")) for d in (one, two))
    assert sorted(w1) == sorted(w2) == sorted(w0)
    flat = lambda sd: torch.cat([sd[k].flatten().float() for k in sorted(sd)])  # noqa: E731
    assert torch.isfinite(flat(w2)).all()
    moved, apart = (flat(w1) - flat(w0)).norm(), (flat(w2) - flat(w1)).norm()
    assert moved > 0.05 and apart < 1e-3 * moved, (float(moved), float(apart))


@pytest.mark.slow
def test_pretrain_encoder_two_processes(synth_clip, tmp_path):
    from j2a.cli import main
    from j2a.models.encoders import build_encoder

    path, _ = synth_clip
    args = ["pretrain-encoder", str(path), "--size", "tiny", "--batch-size", "4", "--steps", "4", "--lr", "3e-3"]
    args += ["--eval-every", "2", "--save-every", "2", "--no-progress"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(args + ["--out", str(one)]) == 0
    r = launch(2, args + ["--out", str(two)], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("pretrain-encoder: 4 steps") == 1
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    log = log_rows(two)
    assert [x["step"] for x in log] == [0, 1, 2, 3, 4]
    ev = [x["eval_loss"] for x in log if "eval_loss" in x]
    assert len(ev) == 3 and ev[-1] < ev[0]
    assert build_encoder(f"mwmae:{two}")(torch.randn(1, 32000)).shape == (1, 50, 32)


def test_train_llm_refuses_several_processes(monkeypatch, tmp_path):
    from j2a.training.llm import LLMTrainConfig, train

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="one process"):
        train(LLMTrainConfig(data=str(tmp_path / "x.csv"), out=str(tmp_path / "o")))
