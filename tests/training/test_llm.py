"""J2A-LLM training pieces on a tiny random causal LM: label masking, target-only loss, LoRA, save/load,
the train-llm loop and caption-tags journaling."""

from __future__ import annotations

import ast
import csv
import json
import random

import pytest

from j2a.text import prompts
from j2a.training import llm as lt
from j2a.training import llm_data


# ------------------------------------------------------------------------------------ data
@pytest.mark.parametrize(
    "aspects,expected",
    [
        (["male vocalist", "fast tempo", "rock"], ["male vocal", "fast tempo", "rock"]),
        (["no drums", "female voice", "female vocalists"], ["female vocal"]),
        (["acoustic guitar strumming", "hip-hop beat"], ["acoustic guitar", "hip hop"]),
        (["sax solo", "plucked string instrument", "uptempo"], ["saxophone", "plucked strings", "fast tempo"]),
        (["low quality", "crowd noise"], []),
    ],
)
def test_reduce_aspects_maps_onto_analysis_vocabulary(aspects, expected):
    assert llm_data.reduce_aspects(aspects) == expected
    assert set(llm_data.reduce_aspects(aspects)) <= set(llm_data.analysis_tags())


def test_analysis_vocabulary_is_what_describe_puts_in_a_prompt():
    """Reduced training prompts must use describe's words: the fused vocabulary, readable, no skipped words."""
    from j2a.features.fusion import VOCAB
    from j2a.text.aspects import aspect_word

    tags = llm_data.analysis_tags()
    assert {"saxophone", "choir", "rapping", "reggae", "female vocal", "r&b", "fast tempo"} <= set(tags)
    assert not {"fast", "loud", "party", "female vocals", "rnb"} & set(tags)
    for group in ("genre", "instrument", "vocals", "mood"):
        for label in VOCAB[group]:
            assert aspect_word(label) is None or aspect_word(label) in tags


def test_facts_from_caption_win_and_synthetic_ones_are_consistent():
    rng = random.Random(0)
    f = llm_data.synth_facts(["slow tempo"], "A waltz at 90 bpm in the key of F sharp minor.", rng, 1.0)
    assert f["tempo_bpm"] == 90 and f["key"] == "F# minor" and f["meter"] == "3/4"
    for _ in range(30):
        f = llm_data.synth_facts(["fast tempo", "rock"], "An energetic song.", rng, 1.0)
        assert 120 <= f["tempo_bpm"] <= 175
        root, mode = f["key"].split()
        assert any(c.startswith(root + ":") for c in f["chords"])  # every progression visits the tonic of the key
        assert mode in ("major", "minor")
    assert llm_data.synth_facts(["rock"], "A song.", rng, 0.0) == {}


def test_read_csv_and_split_never_mix(captions_dir):
    rows = llm_data.read_captions_csv(captions_dir / "musiccaps-train.csv")
    assert len(rows) == 2663 and rows[0]["aspects"][0] == "guitar song"
    tr, ho = llm_data.split_rows(rows, 96, 0)
    assert len(ho) == 96 and len(tr) == 2663 - 96
    assert not {(r["ytid"], r["start_s"]) for r in tr} & {(r["ytid"], r["start_s"]) for r in ho}
    assert llm_data.split_rows(rows, 96, 0)[1] == ho  # deterministic


def test_bad_csv_is_a_one_line_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no aspect_list column"):
        llm_data.read_captions_csv(p)


# ------------------------------------------------------------------------------------ model
@pytest.fixture(scope="module")
def tiny(tiny_lm):  # noqa: F811
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    return model, tok


def _batch(tok):
    pairs = [
        (prompts.format_prompt(["rock", "guitar"], {"tempo_bpm": 120}), "this is a rock song with guitar ."),
        (prompts.format_prompt(["jazz"]), "a sad jazz song in a minor ."),
    ]
    return [llm_data.encode(tok, p, c, 64) for p, c in pairs]


def test_collate_masks_prompt_and_padding(tiny):
    model, tok = tiny
    enc = _batch(tok)
    ids, mask, labels = llm_data.collate(enc, tok.pad_token_id)
    for i, (seq, start) in enumerate(enc):
        assert (labels[i, :start] == -100).all()
        assert labels[i, start : len(seq)].tolist() == seq[start:]
        assert (labels[i, len(seq) :] == -100).all() and (mask[i, len(seq) :] == 0).all()
        assert seq[-1] == tok.eos_token_id
        assert tok.decode(seq[start:], skip_special_tokens=True).split()[:2] == ["this", "is"][:2] or i == 1


def test_length_batches_cover_every_example_once_with_less_padding():
    rng = random.Random(0)
    examples = [([1] * rng.randint(40, 160), 10) for _ in range(128)]
    batches = llm_data.length_batches(examples, 8, random.Random(1))
    assert sorted(id(e) for b in batches for e in b) == sorted(id(e) for e in examples)
    assert all(len(b) == 8 for b in batches)

    def padded(bs):
        return sum(max(len(e[0]) for e in b) * len(b) for b in bs)

    random_batches = [examples[s : s + 8] for s in range(0, 128, 8)]
    assert padded(batches) < 0.85 * padded(random_batches)
    # batch order is shuffled, not shortest-first
    assert [max(len(e[0]) for e in b) for b in batches] != sorted(max(len(e[0]) for e in b) for b in batches)


def test_target_loss_equals_full_head_loss(tiny):
    """Running the output layer on caption positions only gives the same loss as on all positions."""
    import torch

    model, tok = tiny
    ids, mask, labels = llm_data.collate(_batch(tok), tok.pad_token_id)
    with torch.no_grad():
        ours = lt.target_loss(model, ids, mask, labels)
        ref = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(ours, ref, atol=1e-5)


def test_lora_step_trains_only_adapter_and_save_load_round_trip(tiny_lm, tmp_path):  # noqa: F811
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm)
    model = lt.add_lora(
        AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32),
        lt.LLMTrainConfig(rank=4, alpha=8, dropout=0.0),
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    ids, mask, labels = llm_data.collate(_batch(tok), tok.pad_token_id)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    first = None
    for _ in range(8):
        loss = lt.target_loss(model, ids, mask, labels)
        first = first if first is not None else float(loss)
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert float(lt.target_loss(model, ids, mask, labels)) < first - 0.1
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)

    lt.save_adapter(model, tmp_path / "ad", {"base_model": "tiny"})
    assert (tmp_path / "ad" / "adapter_model.safetensors").exists()
    assert json.loads((tmp_path / "ad" / "adapter_config.json").read_text())["r"] == 4
    model.eval()
    reloaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32), str(tmp_path / "ad")
    ).eval()
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=mask).logits
        b = reloaded(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(a, b, atol=0.05)  # adapter stored in bf16
    assert not torch.allclose(
        b,
        AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)(input_ids=ids, attention_mask=mask).logits,
        atol=0.05,
    )


def _mini_csv(path, n=24):
    words = ["rock", "jazz", "guitar", "piano", "drums", "bass", "male vocal", "female vocal", "slow", "fast"]
    rng = random.Random(1)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["ytid", "start_s", "end_s", "aspect_list", "caption"])
        w.writeheader()
        for i in range(n):
            a = rng.sample(words, 3)
            w.writerow(
                {
                    "ytid": f"id{i}",
                    "start_s": 30,
                    "end_s": 40,
                    "aspect_list": repr(a),
                    "caption": f"this is a {a[0]} song with {a[1]} and {a[2]} .",
                }
            )
    return path


def test_train_llm_cli_writes_best_adapter(tiny_lm, tmp_path):  # noqa: F811
    from j2a.cli import main

    data = _mini_csv(tmp_path / "mini.csv")
    rc = main(
        [
            "train-llm",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "6",
            "--batch-size",
            "4",
            "--holdout",
            "4",
            "--eval-every",
            "3",
            "--rank",
            "4",
            "--dtype",
            "fp32",
            "--base",
            str(tiny_lm),
            "--lr",
            "5e-3",
            "--dropout",
            "0.1",
        ]
    )
    assert rc == 0
    meta = json.loads((tmp_path / "run" / "training.json").read_text())
    assert meta["config"]["dropout"] == 0.1
    assert json.loads((tmp_path / "run" / "adapter_config.json").read_text())["lora_dropout"] == 0.1
    assert [h["step"] for h in meta["history"]] == [3, 6]
    assert meta["best_heldout_loss"] == min(h["heldout_loss"] for h in meta["history"])
    assert meta["train_rows"] == 20 and meta["heldout_rows"] == 4
    assert (tmp_path / "run" / "adapter_model.safetensors").stat().st_size > 0
    # the adapter is usable through load_llm
    from j2a.llm import load_llm

    out = load_llm(f"hf:{tiny_lm}", adapter=str(tmp_path / "run"), dtype="fp32").generate(
        [prompts.format_prompt(["rock"])], max_new_tokens=5
    )
    assert len(out) == 1 and isinstance(out[0], str)


def test_train_llm_rejects_missing_file(tmp_path, capsys):
    from j2a.cli import main

    assert main(["train-llm", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_caption_tags_journal_and_resume(tmp_path):
    from j2a.cli import main

    data = _mini_csv(tmp_path / "mini.csv", n=7)
    out = tmp_path / "caps.jsonl"
    assert main(["caption-tags", str(data), "--out", str(out), "--llm", "none", "--batch", "3", "--limit", "5"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [d["ytid"] for d in lines] == [f"id{i}" for i in range(5)]
    assert set(lines[0]) == {"ytid", "start_s", "prediction"} and lines[0]["start_s"] == 30
    first = ast.literal_eval(next(csv.DictReader(open(data)))["aspect_list"])
    assert lines[0]["prediction"].startswith("This is a") and all(w in lines[0]["prediction"] for w in first)
    assert main(["caption-tags", str(data), "--out", str(out), "--llm", "none", "--reduced"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [d["ytid"] for d in lines] == [f"id{i}" for i in range(7)]  # resumed: only the 2 missing rows were added


def test_soup_adapter_is_the_mean_of_the_members_deltas(tiny_lm, tmp_path):  # noqa: F811
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    def base():
        return AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)

    def merged(folder):
        return {
            n: p.detach()
            for n, p in PeftModel.from_pretrained(base(), str(folder)).merge_and_unload().named_parameters()
        }

    for i, (rank, alpha) in enumerate([(4, 8), (2, 8)]):  # members may differ in rank and scale
        torch.manual_seed(i)
        model = lt.add_lora(base(), lt.LLMTrainConfig(rank=rank, alpha=alpha))
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.05)  # B starts at zero: give each member a real delta
        lt.save_adapter(model, tmp_path / f"m{i}", {"base_model": "tiny"})
        (tmp_path / f"m{i}" / "vocab.json").write_text("[1, 2, 3]")
    cfg1 = json.loads((tmp_path / "m1" / "adapter_config.json").read_text())
    cfg1["target_modules"] = sorted(cfg1["target_modules"], reverse=True)  # peft writes a set: any order
    (tmp_path / "m1" / "adapter_config.json").write_text(json.dumps(cfg1))
    soup = lt.soup_adapters([tmp_path / "m0", tmp_path / "m1"], tmp_path / "soup", {"note": "x"})
    cfg = json.loads((soup / "adapter_config.json").read_text())
    assert cfg["r"] == 6 and cfg["lora_alpha"] == 6
    assert json.loads((soup / "vocab.json").read_text()) == [1, 2, 3]
    assert json.loads((soup / "training.json").read_text())["soup_of"] == [str(tmp_path / "m0"), str(tmp_path / "m1")]
    b = {n: p.detach() for n, p in base().named_parameters()}
    m0, m1, ms = merged(tmp_path / "m0"), merged(tmp_path / "m1"), merged(soup)
    moved = [n for n in b if not torch.equal(m0[n], b[n])]
    assert moved
    for n in moved:
        want = b[n] + ((m0[n] - b[n]) + (m1[n] - b[n])) / 2
        assert torch.allclose(ms[n], want, atol=2e-3), n  # members and soup are stored in bf16


def test_soup_rejects_adapters_of_different_modules(tiny_lm, tmp_path):  # noqa: F811
    import torch
    from transformers import AutoModelForCausalLM

    for i, top in enumerate([0, 1]):
        model = lt.add_lora(
            AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32),
            lt.LLMTrainConfig(rank=2, top_layers=top),
        )
        lt.save_adapter(model, tmp_path / f"m{i}", {})
    with pytest.raises(ValueError, match="not an adapter of the same model"):
        lt.soup_adapters([tmp_path / "m0", tmp_path / "m1"], tmp_path / "soup")


def test_train_llm_seeds_trains_members_and_writes_their_soup(tiny_lm, tmp_path):  # noqa: F811
    from j2a.cli import main

    data = _mini_csv(tmp_path / "mini.csv")
    rc = main(
        [
            "train-llm",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--holdout",
            "4",
            "--eval-every",
            "2",
            "--rank",
            "4",
            "--dtype",
            "fp32",
            "--base",
            str(tiny_lm),
            "--seeds",
            "2",
            "--seed",
            "3",
        ]
    )
    assert rc == 0
    meta = json.loads((tmp_path / "run" / "training.json").read_text())
    assert [m["seed"] for m in meta["members"]] == [3, 4] and meta["config"]["split_seed"] == 3
    members = [json.loads((tmp_path / "run" / "members" / f"seed{s}" / "training.json").read_text()) for s in (3, 4)]
    assert all(m["config"]["split_seed"] == 3 and m["heldout_rows"] == 4 for m in members)
    assert json.loads((tmp_path / "run" / "adapter_config.json").read_text())["r"] == 8
    from j2a.llm import load_llm

    assert (
        len(
            load_llm(f"hf:{tiny_lm}", adapter=str(tmp_path / "run"), dtype="fp32").generate(
                ["Music tags: rock\nDescription:"], max_new_tokens=3
            )
        )
        == 1
    )


def test_train_llm_init_continues_an_adapter_and_refuses_another_shape(tiny_lm, tmp_path, capsys):  # noqa: F811
    from j2a.cli import main

    data = _mini_csv(tmp_path / "mini.csv")
    common = ["--data", str(data), "--batch-size", "4", "--holdout", "4", "--eval-every", "3", "--dtype", "fp32"]
    common += ["--base", str(tiny_lm), "--lr", "5e-3"]
    assert main(["train-llm", *common, "--out", str(tmp_path / "a"), "--max-steps", "6", "--rank", "4"]) == 0
    first = json.loads((tmp_path / "a" / "training.json").read_text())
    rc = main(
        ["train-llm", *common, "--out", str(tmp_path / "b"), "--max-steps", "3", "--rank", "4"]
        + ["--init", str(tmp_path / "a"), "--seed", "1", "--split-seed", "0"]
    )
    assert rc == 0
    second = json.loads((tmp_path / "b" / "training.json").read_text())
    # step 0 is the first adapter itself, scored on the same held-out rows (bf16 weights: near, not equal)
    assert second["history"][0]["step"] == 0
    assert abs(second["history"][0]["heldout_loss"] - first["best_heldout_loss"]) < 0.02
    assert second["best_heldout_loss"] == min(h["heldout_loss"] for h in second["history"])
    assert (tmp_path / "b" / "adapter_model.safetensors").exists()
    # an adapter of another rank cannot be continued
    rc = main(["train-llm", *common, "--out", str(tmp_path / "c"), "--max-steps", "3", "--rank", "8"])
    assert rc == 0
    capsys.readouterr()
    bad = ["train-llm", *common, "--out", str(tmp_path / "d"), "--max-steps", "3", "--rank", "4"]
    assert main(bad + ["--init", str(tmp_path / "c")]) != 0
    assert "differs from this run's" in capsys.readouterr().err
    assert main(bad + ["--init", str(tmp_path)]) != 0  # no adapter there
    assert "no adapter_model.safetensors there" in capsys.readouterr().err
