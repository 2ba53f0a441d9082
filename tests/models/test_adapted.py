"""J2A-2.x adapted LLM with a tiny random Gemma 3 and tiny encoders: shapes, labels, gradients, files."""

from __future__ import annotations

import math

import pytest
import torch

from j2a.models.adapted import AdaptedLM, J2A2Config, load_clip
from j2a.models.encoders import build_encoder
from j2a.models.presets import projector_dict
from j2a.models.projector import Projector, ProjectorConfig, embedding_rms

_CACHE: dict = {}


def tiny(preset="j2a-2.1", lora=None) -> AdaptedLM:
    key = (preset, bool(lora))
    if key not in _CACHE:
        torch.manual_seed(0)
        _CACHE[key] = AdaptedLM(J2A2Config(preset=preset, projector=projector_dict(preset), clip_s=2.0, lora=lora))
    return _CACHE[key]


@pytest.fixture(scope="module")
def feats():
    g = torch.Generator().manual_seed(1)
    wave = torch.randn(2, 32000, generator=g) * 0.1
    return tiny().encode(wave)


def test_tiny_encoder_shape_and_rate():
    enc = build_encoder("tiny-random")
    x = enc(torch.randn(3, 16000 * 2))
    assert x.shape == (3, 20, 32)
    assert enc.frame_rate == 10.0 and enc.dim == 32
    # seeded: the same spec builds the same weights, another seed does not
    assert torch.equal(build_encoder("tiny-random").proj.weight, enc.proj.weight)
    assert not torch.equal(build_encoder("tiny-random:1").proj.weight, enc.proj.weight)


@pytest.mark.parametrize("kind,expect", [("j2a-2.0", 3), ("j2a-2.1", 7), ("mlp", 7)])
def test_projector_shapes(kind, expect):
    p = Projector(ProjectorConfig(kind=kind, in_dim=32, out_dim=64, n_tokens=3, stride=3, scale=2.5))
    y = p(torch.randn(2, 20, 32))
    assert y.shape == (2, expect, 64)
    assert p.n_tokens(20) == expect
    # LayerNorm output (unit RMS) times scale
    assert y.pow(2).mean().sqrt().item() == pytest.approx(2.5, rel=0.05)


def test_projector_matches_llm_embedding_scale():
    m = tiny()
    emb = m.llm.get_input_embeddings()
    # Gemma scales looked-up rows by sqrt(hidden): the projector must match what the module outputs
    raw = emb.weight.pow(2).mean().sqrt().item()
    assert m.projector.cfg.scale == pytest.approx(embedding_rms(m.llm), rel=1e-6)
    assert m.projector.cfg.scale == pytest.approx(raw * math.sqrt(64), rel=0.05)


def test_unknown_names_fail_clearly():
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("nope")
    with pytest.raises(ValueError, match="unknown projector"):
        Projector(ProjectorConfig(kind="x", in_dim=2, out_dim=2))


def test_labels_masked_on_audio_prompt_and_padding(feats):
    m = tiny()
    audio = m.projector(feats)
    n_audio = audio.shape[1]
    E, M, Y, pos = m.build_inputs(audio, ["Describe this music.", "Q?"], ["slow piano", "a much longer target text"])
    tok = m.tokenizer
    for i, (prompt, target) in enumerate([("Describe this music.", "slow piano"), ("Q?", "a much longer target text")]):
        pre, post = m.template(prompt)
        n_ctx = len(pre) + n_audio + len(post)
        t_ids = tok(target, add_special_tokens=False).input_ids + [tok.eos_token_id]
        assert (Y[i, :n_ctx] == -100).all()  # BOS/chat prefix, audio, prompt
        assert Y[i, n_ctx : n_ctx + len(t_ids)].tolist() == t_ids
        assert (Y[i, n_ctx + len(t_ids) :] == -100).all()  # padding
        assert M[i].sum() == n_ctx + len(t_ids)
        assert (M[i, n_ctx + len(t_ids) :] == 0).all()  # right padding when training
        # audio tokens sit right after the prefix
        assert torch.equal(E[i, len(pre) : len(pre) + n_audio], audio[i])
    assert E.shape[:2] == Y.shape == M.shape == pos.shape


def test_only_projector_gets_gradients(feats):
    m = tiny()
    m.zero_grad(set_to_none=True)
    loss = m.loss(feats, ["Describe this music."] * 2, ["slow piano", "fast drums"])
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    with_grad = {n for n, p in m.named_parameters() if p.grad is not None}
    assert with_grad and all(n.startswith("projector.") for n in with_grad)
    assert with_grad == {n for n, _ in m.projector.named_parameters(prefix="projector")}
    m.zero_grad(set_to_none=True)


def test_lora_trains_adapters_not_base():
    m = tiny(lora={"r": 2, "alpha": 4})
    feats = m.encode(torch.randn(1, 32000) * 0.1)
    m.loss(feats, ["Describe this music."], ["slow"]).backward()
    names = {n for n, p in m.named_parameters() if p.grad is not None}
    assert any("lora_" in n for n in names) and any(n.startswith("projector.") for n in names)
    assert all("lora_" in n or n.startswith("projector.") for n in names)


def test_batched_generation_equals_single(feats):
    m = tiny()
    both = m.generate(feats, ["Describe this music.", "What is the tempo?"], max_new_tokens=6)
    one = m.generate(feats[1:], ["What is the tempo?"], max_new_tokens=6)
    assert len(both) == 2 and all(isinstance(s, str) for s in both)
    assert both[1] == one[0]  # left padding + position ids do not change the answer


@pytest.mark.parametrize("preset", ["j2a-2.0", "j2a-2.1"])
def test_save_load_bit_exact(tmp_path, feats, preset):
    m = tiny(preset)
    with torch.no_grad():
        for p in m.projector.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # make it differ from a fresh init
    m.projector.set_input_stats(feats * 3 + 1)  # and the input statistics from the identity
    m.save_pretrained(tmp_path)
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt"))
    m2 = AdaptedLM.from_pretrained(tmp_path)
    for (n, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), n
    with torch.no_grad():
        assert torch.equal(m.loss(feats, ["x"] * 2, ["a", "b"]), m2.loss(feats, ["x"] * 2, ["a", "b"]))
    assert m.generate(feats, ["x", "y"], 5) == m2.generate(feats, ["x", "y"], 5)


def test_from_pretrained_rejects_other_folders(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        AdaptedLM.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gemma3"}')
    with pytest.raises(ValueError, match="not a J2A-2.x config"):
        AdaptedLM.from_pretrained(tmp_path)


def test_load_clip_middle_and_padding():
    import numpy as np

    from j2a.audio import open_audio

    y = np.sin(np.arange(16000 * 4) / 10).astype(np.float32) * 0.5
    y[: 16000 * 2] *= 0.1  # quieter first half: the middle clip starts at 1 s
    a = open_audio(y, sr=16000)
    c = load_clip(a, 16000, 2.0)
    assert len(c) == 32000 and np.allclose(c, a.load(16000)[16000:48000])
    c = load_clip(a, 16000, 6.0)
    assert len(c) == 96000 and np.all(c[64000:] == 0)
    c = load_clip(a, 16000, 2.0, start=3.0, end=4.0)
    assert np.allclose(c[:16000], a.load(16000)[48000:]) and np.all(c[16000:] == 0)


def test_projector_input_stats_standardise_and_survive_save_load(tmp_path):
    from safetensors.torch import load_file, save_file

    from j2a.models.projector import load_projector_weights

    torch.manual_seed(0)
    cfg = ProjectorConfig(kind="j2a-2.1", in_dim=8, out_dim=16, stride=2, scale=1.0)
    p = Projector(cfg)
    raw = torch.randn(4, 6, 8) * torch.linspace(0.1, 30, 8) + 50.0  # offset and very uneven scales
    p.set_input_stats(raw)
    z = (raw - raw.reshape(-1, 8).mean(0)) / raw.reshape(-1, 8).std(0)
    plain = Projector(cfg)
    plain.load_state_dict({k: v for k, v in p.state_dict().items() if not k.startswith("in_")}, strict=False)
    assert torch.allclose(p(raw), plain(z), atol=1e-5)  # same as feeding standardised features
    # a constant input dimension does not divide by zero
    const = raw.clone()
    const[..., 3] = 7.0
    p.set_input_stats(const)
    assert p.in_std[3] == 1.0 and torch.isfinite(p(const)).all()
    # the statistics are saved with the weights; files written before they existed load as identity
    save_file(p.state_dict(), str(tmp_path / "new.safetensors"))
    q = Projector(cfg)
    load_projector_weights(q, tmp_path / "new.safetensors")
    assert torch.equal(q.in_mean, p.in_mean) and torch.equal(q.in_std, p.in_std)
    old = {k: v for k, v in p.state_dict().items() if not k.startswith("in_")}
    save_file(old, str(tmp_path / "old.safetensors"))
    r = Projector(cfg)
    load_projector_weights(r, tmp_path / "old.safetensors")
    assert torch.equal(r.in_mean, torch.zeros(8)) and torch.equal(r.in_std, torch.ones(8))
    assert set(load_file(str(tmp_path / "new.safetensors"))) >= {"in_mean", "in_std"}


def test_rhythm_features_find_the_beat_period():
    from j2a.models.encoders import RHYTHM_LAGS, rhythm_features

    def maps(period):
        t = torch.arange(187)
        pulse = (t % period == 0).float()  # one onset every `period` 16-ms frames, in every channel
        out = {
            "timbral": pulse[None, :, None].expand(2, 187, 408).clone(),
            "temporal": pulse[None, :, None].expand(2, 187, 153).clone(),
        }
        out.update({f"cnn{i}": pulse[None, :, None].expand(2, 187, 64).clone() for i in (1, 2, 3)})
        return out

    lags = list(RHYTHM_LAGS)
    for period in (25, 40, 60):  # 150, 94 and 62.5 BPM
        r = rhythm_features(maps(period))
        assert r.shape == (2, len(lags) + 6)
        ac = r[0, : len(lags)]
        assert lags[int(ac.argmax())] == period
    # more onsets per window -> larger onset densities (the last six values)
    assert (rhythm_features(maps(25))[0, -6:] > rhythm_features(maps(60))[0, -6:]).all()


def test_musicnn_layer_names():
    enc = build_encoder("musicnn:MTT_musicnn:penultimate+rhythm:1")
    assert enc.dim == 261 and enc.parts == ["penultimate", "rhythm"]
    assert build_encoder("musicnn:MTT_musicnn:pool:1").dim == 1506
    with pytest.raises(ValueError, match="unknown musicnn layer 'bogus'"):
        build_encoder("musicnn:MTT_musicnn:bogus:1")
    x = enc(torch.from_numpy(_sine_clip())[None])
    assert x.shape == (1, 2, 261) and torch.isfinite(x).all()


def _sine_clip():
    import numpy as np

    t = np.arange(16000 * 4) / 16000
    return (0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype("float32")
