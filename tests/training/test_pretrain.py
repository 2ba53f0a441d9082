"""`j2a pretrain-encoder`: MW-MAE pretraining lowers its held-out loss, resumes exactly, and plugs into `j2a train`."""

from __future__ import annotations

import json

import torch

from j2a.models.encoders import build_encoder


def test_pretrain_cli_lowers_loss_resumes_and_plugs_into_train(tmp_path, synth_clip):
    from j2a.cli import main

    path, _ = synth_clip
    out = tmp_path / "mwmae"
    args = [
        "pretrain-encoder",
        str(path),
        "--out",
        str(out),
        "--size",
        "tiny",
        "--batch-size",
        "4",
        "--eval-every",
        "10",
        "--save-every",
        "10",
        "--lr",
        "3e-3",
        "--no-progress",
    ]
    assert main(args + ["--steps", "10"]) == 0
    assert main(args + ["--steps", "30", "--resume"]) == 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps == list(range(1, 31))  # resumed at 11, no duplicates
    ev = [r["eval_loss"] for r in log if "eval_loss" in r]
    assert ev[-1] < ev[0]
    enc = build_encoder(f"mwmae:{out}")
    assert enc(torch.randn(1, 32000)).shape == (1, 50, 32)
    # a J2A-2.x model carries the MW-MAE weights inside its own folder
    from j2a.models.adapted import AdaptedLM, J2A2Config

    m = AdaptedLM(J2A2Config(encoder=f"mwmae:{out}", clip_s=2.0))
    m.save_pretrained(tmp_path / "j2a")
    m2 = AdaptedLM.from_pretrained(tmp_path / "j2a")
    assert torch.equal(m2.encoder.model.patch_embed.weight, enc.model.patch_embed.weight)
