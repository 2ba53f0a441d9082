"""`j2a train` with tiny random models: log, checkpoints, exact resume, CLI smoke, load for describe."""

from __future__ import annotations

import json

import pytest
import torch
from hand_made import synth_manifest

from j2a.training.j2a2 import J2A2TrainConfig, micro_batch, train
from j2a.training.loop import cosine_lr


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return synth_manifest(tmp_path_factory.mktemp("train"), qa_row=3)


def cfg(manifest, out, **kw):
    base = dict(
        data=str(manifest),
        out=str(out),
        preset="j2a-2.1",
        encoder="tiny-random",
        llm="tiny-random",
        clip_s=2.0,
        batch_size=3,
        lr=3e-3,
        warmup_steps=2,
        max_steps=6,
        save_every=3,
        val_every=100,
        val_generate=0,
        progress=False,
    )
    return J2A2TrainConfig(**{**base, **kw})


def losses(out):
    return [r["loss"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "loss" in r]


def test_schedule_and_data_order():
    c = J2A2TrainConfig(data="x", out="y", lr=1.0, warmup_steps=4, min_lr_ratio=0.1, batch_size=4)
    lr = [cosine_lr(s, 20, c.lr, c.warmup_steps, c.min_lr_ratio) for s in range(20)]
    assert lr[:4] == [0.25, 0.5, 0.75, 1.0]
    assert lr[19] == pytest.approx(0.1, abs=0.01) and lr[12] < lr[5]
    epoch0 = [i for s in range(3) for i in micro_batch(s, 0, c, 10)]
    assert sorted(epoch0) == list(range(10))  # each epoch covers every row once
    assert micro_batch(5, 0, c, 10) == micro_batch(5, 0, c, 10)


def test_resume_continues_the_same_loss_curve(manifest, tmp_path):
    full = train(cfg(manifest, tmp_path / "full"))
    ref = losses(full)
    assert len(ref) == 6 and ref[-1] < ref[0]
    part = tmp_path / "part"
    train(cfg(manifest, part, max_steps=3))
    # pretend the run was killed after step 4 (a log line past the checkpoint) and resume to 6
    with open(part / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": 4, "loss": 123.0}) + "\n")
    train(cfg(manifest, part, max_steps=6, resume=True))
    assert losses(part) == ref  # bit-exact, no duplicated or stale lines
    ck = sorted(p.name for p in (part / "checkpoints").iterdir())
    assert ck == ["step-3", "step-6"]
    assert (part / "tb").is_dir() and list((part / "tb").iterdir())


def test_input_stats_set_by_a_new_run_and_kept_on_resume(manifest, tmp_path):
    from safetensors.torch import load_file

    full = train(cfg(manifest, tmp_path / "full", max_steps=4, input_stats=True))
    part = tmp_path / "part"
    train(cfg(manifest, part, max_steps=3, input_stats=True))
    train(cfg(manifest, part, max_steps=4, resume=True))
    sd_full, sd_part = (load_file(str(d / "projector.safetensors")) for d in (full, part))
    assert sd_full["in_mean"].abs().sum() > 0 and not torch.equal(sd_full["in_std"], torch.ones_like(sd_full["in_std"]))
    assert torch.equal(sd_full["in_mean"], sd_part["in_mean"]) and torch.equal(sd_full["in_std"], sd_part["in_std"])
    assert losses(part) == losses(full)
    plain = load_file(str(train(cfg(manifest, tmp_path / "plain", max_steps=1)) / "projector.safetensors"))
    assert torch.equal(plain["in_mean"], torch.zeros_like(plain["in_mean"]))  # default: identity


def test_validation_logged_and_checkpoint_describes(manifest, tmp_path):
    from j2a.models import load_j2a2

    out = train(cfg(manifest, tmp_path / "v", preset="j2a-2.0", max_steps=2, val_every=2, cache_features=False))
    val = [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "val_loss" in r]
    assert len(val) == 1 and val[0]["val_loss"] > 0
    m = load_j2a2(out)
    clip = manifest.parent / "c0.wav"
    text = m.describe(str(clip))
    assert isinstance(text, str)
    assert isinstance(m.ask(str(clip), "What is the tempo?"), str)


def test_cli_smoke_and_errors(manifest, tmp_path, capsys):
    from j2a.cli import main

    out = tmp_path / "cli"
    rc = main(
        [
            "train",
            "--preset",
            "j2a-2.1",
            "--encoder",
            "tiny-random",
            "--llm",
            "tiny-random",
            "--data",
            str(manifest),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--clip-s",
            "2",
            "--no-progress",
            "--val-generate",
            "0",
        ]
    )
    assert rc == 0 and (out / "projector.safetensors").exists() and len(losses(out)) == 2
    cfgj = json.loads((out / "config.json").read_text())
    assert cfgj["encoder"] == "tiny-random" and cfgj["llm"] == "tiny-random" and cfgj["preset"] == "j2a-2.1"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"audio": "nope.wav", "text": "x"}\n')
    assert (
        main(
            [
                "train",
                "--data",
                str(bad),
                "--out",
                str(tmp_path / "b"),
                "--llm",
                "tiny-random",
                "--encoder",
                "tiny-random",
            ]
        )
        == 1
    )
    assert "nope.wav" in capsys.readouterr().err


def test_describe_and_ask_cli_use_a_trained_checkpoint(manifest, tmp_path, capsys):
    from j2a.cli import main

    out = train(cfg(manifest, tmp_path / "ck", max_steps=2))
    clip = str(manifest.parent / "c0.wav")
    assert main(["describe", clip, "--model", str(out), "--llm", "none"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["model"] in ("j2a2:ck", "template (after j2a2)") and row["caption"]
    # open question -> the checkpoint (guarded); factual question -> still the analysis
    assert main(["ask", clip, "What does this remind you of?", "--model", str(out), "--json"]) == 0
    ans = json.loads(capsys.readouterr().out)
    assert ans["source"] == "model" and ans["evidence"]["model"] == "j2a2:ck"
    assert main(["ask", clip, "What is the tempo?", "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "analysis"
    assert main(["ask", clip, "What is this?", "--model", str(tmp_path / "nope")]) == 1
    assert "no such J2A-2.x checkpoint" in capsys.readouterr().err
