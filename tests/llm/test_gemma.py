"""j2a.llm.gemma (J2A's own Gemma 3 inference module) against transformers' Gemma 3 on random weights."""

import json

import pytest
import torch

from j2a.llm import backends, decoding, gemma, loading
from j2a.text import prompts


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(transformers model, j2a.llm.gemma model, folder): 3 layers (sliding, global, sliding), a 4-token
    window so that 11-token inputs exercise it, 2 kv heads for 4 query heads, non-trivial norms."""
    from transformers import AutoModelForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig

    folder = tmp_path_factory.mktemp("gemma")
    cfg = Gemma3TextConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=256,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.normal_(0, 0.5)  # transformers initialises them to 0 (scale 1): make them matter
    model.save_pretrained(folder)
    ref = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    return ref, gemma.load(folder), folder


def _ids(b=2, t=11, seed=1):
    return torch.randint(3, 50, (b, t), generator=torch.Generator().manual_seed(seed))


def test_logits_match_transformers_full_and_cached(pair):
    ref, ours, _ = pair
    x = _ids()
    with torch.inference_mode():
        want = ref(x).logits
        torch.testing.assert_close(ours(x).logits, want, atol=1e-5, rtol=1e-5)
        # prefill 6 tokens, then one token at a time through the cache (past the 4-token window)
        dec = ours.get_decoder()
        o = dec(input_ids=x[:, :6], use_cache=True)
        hs = [o.last_hidden_state]
        for i in range(6, 11):
            o = dec(
                input_ids=x[:, i : i + 1],
                past_key_values=o.past_key_values,
                use_cache=True,
                position_ids=torch.full((2, 1), i),
            )
            hs.append(o.last_hidden_state)
        got = torch.cat(hs, 1) @ ours.get_output_embeddings().weight.T
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert ours.get_output_embeddings().weight is ours.get_input_embeddings().weight  # tied


def test_left_padding_matches_transformers(pair):
    ref, ours, _ = pair
    x = _ids(seed=2)
    mask = torch.ones_like(x)
    mask[0, :3] = 0
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        want = ref(input_ids=x, attention_mask=mask, position_ids=pos).logits
        got = ours(input_ids=x, attention_mask=mask, position_ids=pos).logits
    assert torch.isfinite(got).all()  # fully masked (padding) rows stay finite
    torch.testing.assert_close(got[mask.bool()], want[mask.bool()], atol=1e-5, rtol=1e-5)


def test_beam_cache_operations(pair):
    """repeat_interleave + reorder_cache give the same next state as running the chosen rows afresh."""
    _, ours, _ = pair
    dec = ours.get_decoder()
    x = _ids(b=1, t=5, seed=3)
    with torch.inference_mode():
        o = dec(input_ids=x, use_cache=True)
        cache = o.past_key_values
        cache.batch_repeat_interleave(3)
        step = torch.tensor([[7], [8], [9]])
        o = dec(input_ids=step, past_key_values=cache, use_cache=True, position_ids=torch.full((3, 1), 5))
        cache.reorder_cache(torch.tensor([2, 2, 0]))  # beams 0 and 1 continue from old beam 2, beam 2 from 0
        o = dec(
            input_ids=torch.tensor([[10], [11], [12]]),
            past_key_values=cache,
            use_cache=True,
            position_ids=torch.full((3, 1), 6),
        )
        fresh = dec(
            input_ids=torch.cat([x.repeat(3, 1), torch.tensor([[9, 10], [9, 11], [7, 12]])], 1)
        ).last_hidden_state
    torch.testing.assert_close(o.last_hidden_state[:, -1], fresh[:, -1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind,tol", [("bf16", 0.05), ("int8", 0.1)])
def test_decode_precision_only_changes_decode_steps(pair, kind, tol):
    _, _, folder = pair
    fp32, low = gemma.load(folder), gemma.load(folder).quantize_decode(kind)
    assert low.decode_precision == kind and low.model.layers[0].small["qkv"][0].dtype == (
        torch.int8 if kind == "int8" else torch.bfloat16
    )
    x = _ids(b=1, t=6, seed=4)
    with torch.inference_mode():
        torch.testing.assert_close(low(x).logits, fp32(x).logits, atol=1e-5, rtol=1e-5)  # prompts stay fp32
        a = fp32.get_decoder()(input_ids=x, use_cache=True)
        b = low.get_decoder()(input_ids=x, use_cache=True)
        nxt, pos = torch.tensor([[5]]), torch.tensor([[6]])
        ha = fp32.get_decoder()(
            input_ids=nxt, past_key_values=a.past_key_values, use_cache=True, position_ids=pos
        ).last_hidden_state
        hb = low.get_decoder()(
            input_ids=nxt, past_key_values=b.past_key_values, use_cache=True, position_ids=pos
        ).last_hidden_state
    err = ((ha - hb).norm() / ha.norm()).item()
    assert 0 < err < tol  # the copies are used (not bit-identical) and close
    with pytest.raises(ValueError, match="decode precision"):
        gemma.load(folder).quantize_decode("int4")


def test_generation_matches_transformers_backend(pair):
    """The whole J2A decoding loop (greedy and 4 beams) writes the same tokens on either module."""
    ref, ours, _ = pair

    class Tok:  # a 50-id tokenizer: word i <-> id i
        pad_token_id, eos_token_id, bos_token_id, unk_token_id, padding_side = 0, 1, 2, 3, "left"
        eos_token, pad_token = "<eos>", "<pad>"

        def __call__(self, batch, return_tensors=None, padding=False, add_special_tokens=True):
            ids = [[2] + [4 + (ord(c) % 40) for c in s] for s in batch]
            n = max(map(len, ids))
            return {
                "input_ids": torch.tensor([[0] * (n - len(i)) + i for i in ids]),
                "attention_mask": torch.tensor([[0] * (n - len(i)) + [1] * len(i) for i in ids]),
            }

        def decode(self, ids, skip_special_tokens=True):
            return " ".join(f"w{i}" for i in ids)

        def convert_ids_to_tokens(self, ids):
            return [f"w{i}" for i in ids]

        def convert_tokens_to_ids(self, t):
            return 3

    batch = ["abc", "hello there"]
    for beams in (1, 4):
        texts = [
            backends.HFLLM(m, Tok(), "t", decoding.GenConfig(num_beams=beams)).generate(batch, max_new_tokens=8)
            for m in (ref, ours)
        ]
        assert texts[0] == texts[1] and all(texts[0])


def test_config_from_older_transformers_and_errors(pair, tmp_path):
    _, _, folder = pair
    old = {
        "model_type": "gemma3_text",
        "num_hidden_layers": 6,
        "sliding_window_pattern": 3,
        "rope_theta": 1e6,
        "rope_local_base_freq": 1e4,
        "rope_scaling": {"rope_type": "linear", "factor": 8.0},
    }
    cfg = gemma.GemmaConfig.from_dict(old)
    assert cfg.layer_types == ["sliding_attention", "sliding_attention", "full_attention"] * 2
    assert cfg.rope_theta == {"full_attention": 1e6, "sliding_attention": 1e4} and cfg.rope_factor == {
        "full_attention": 8.0
    }
    with pytest.raises(ValueError, match="rope"):
        gemma.GemmaConfig.from_dict({**old, "rope_scaling": {"rope_type": "yarn", "factor": 2.0}})
    with pytest.raises(ValueError, match="not a Gemma 3"):
        gemma.GemmaConfig.from_dict({"model_type": "llama"})
    # weights that do not fit the config: one clear error naming the folder
    import shutil

    from safetensors.torch import load_file, save_file

    for change in ("drop", "extra"):
        bad = tmp_path / change
        shutil.copytree(folder, bad)
        state = load_file(str(bad / "model.safetensors"))
        if change == "drop":
            state.pop(next(k for k in state if "mlp" in k))
        else:
            state["model.layers.9.mlp.up_proj.weight"] = torch.zeros(2, 2)
        save_file(state, str(bad / "model.safetensors"), metadata={"format": "pt"})
        with pytest.raises(ValueError, match=f"{change}: weights do not match"):
            gemma.load(bad)


def test_load_folder_uses_j2a_gemma_with_int8_decode(tiny_lm):  # noqa: F811
    folder = tiny_lm
    model, tok = loading.load_folder(folder, dtype="fp32")
    assert isinstance(model, gemma.GemmaForCausalLM) and model.decode_precision == "int8"
    assert loading.load_folder(folder, dtype="fp32", decode="fp32")[0].decode_precision == "fp32"
    with pytest.raises(ValueError, match="decode precision"):
        loading.load_folder(folder, dtype="fp32", decode="fp8")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "gemma3_text"
    text = backends.HFLLM(model, tok, "tiny").generate([prompts.format_prompt(["rock"])], max_new_tokens=5)
    assert isinstance(text[0], str)


def test_int8_skips_widths_the_kernel_cannot_read_and_falls_back_without_it(tmp_path, monkeypatch):
    """torch's int8 kernel needs the inner dimension in multiples of 8 (others crashed it): a 36-wide
    model keeps fp32 steps for the matrices that read the 36-wide hidden state, int8 for the rest."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    cfg = Gemma3TextConfig(
        vocab_size=50,
        hidden_size=36,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        sliding_window=16,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    torch.manual_seed(0)
    Gemma3ForCausalLM(cfg).save_pretrained(tmp_path / "m")
    fp32, low = gemma.load(tmp_path / "m"), gemma.load(tmp_path / "m").quantize_decode("int8")
    assert set(low.model.layers[0].small) == {"o", "down"}  # their inputs are 64 wide; qkv / gate_up read 36
    x = _ids(b=1, t=5, seed=5)
    with torch.inference_mode():
        outs = []
        for m in (fp32, low):
            o = m.get_decoder()(input_ids=x, use_cache=True)
            outs.append(
                m.get_decoder()(
                    input_ids=torch.tensor([[7]]),
                    past_key_values=o.past_key_values,
                    use_cache=True,
                    position_ids=torch.tensor([[5]]),
                ).last_hidden_state
            )
    assert torch.isfinite(outs[1]).all() and ((outs[0] - outs[1]).norm() / outs[0].norm()) < 0.1
    monkeypatch.setattr(gemma, "_int8_kernel_works", lambda: False)
    with pytest.warns(UserWarning, match="int8"):
        m = gemma.load(tmp_path / "m").quantize_decode("int8")
    assert m.decode_precision == "fp32" and not m.model.layers[0].small


@pytest.mark.parametrize("decode", ["int8", "fp32"])
def test_a_prompt_gets_the_same_caption_alone_or_in_a_batch(tiny_lm, decode):  # noqa: F811
    """int8 copies serve every decode step whatever the batch size, so batching never changes a caption."""
    model, tok = loading.load_folder(tiny_lm, dtype="fp32", decode=decode)
    llm = backends.HFLLM(model, tok, "tiny")
    ps = [
        prompts.format_prompt(["rock", "guitar"]),
        prompts.format_prompt(["jazz"], {"tempo_bpm": 120, "key": "A minor"}),
        prompts.format_prompt(["slow", "piano", "sad", "female vocal"]),
    ]
    for beams in (1, 4):
        both = llm.generate(ps, max_new_tokens=10, num_beams=beams)
        assert [llm.generate([p], max_new_tokens=10, num_beams=beams)[0] for p in ps] == both


def test_softcapping_fields_follow_transformers(tmp_path):
    """final_logit_softcapping squashes logits; attn_logit_softcapping is ignored by Gemma 3 (q/k norms)."""
    from transformers import AutoModelForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig

    cfg = Gemma3TextConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        sliding_window=4,
        attn_logit_softcapping=0.5,
        final_logit_softcapping=2.0,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    torch.manual_seed(0)
    Gemma3ForCausalLM(cfg).save_pretrained(tmp_path / "m")
    ref = AutoModelForCausalLM.from_pretrained(
        str(tmp_path / "m"), dtype=torch.float32, attn_implementation="eager"
    ).eval()
    ours = gemma.load(tmp_path / "m")
    x = _ids(seed=6)
    with torch.inference_mode():
        got = ours(x).logits
        torch.testing.assert_close(got, ref(x).logits, atol=1e-5, rtol=1e-5)
    assert got.abs().max() < 2.0
