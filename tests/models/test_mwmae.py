"""MW-MAE: patches, multi-window decoder heads, masked reconstruction (its pretraining: tests/training)."""

from __future__ import annotations

import pytest
import torch

from j2a.models.encoders import build_encoder
from j2a.models.mwmae import MWMAE, Attention, make_config


def test_config_sizes_and_windows():
    base = make_config("base")
    assert (base.dim, base.depth, base.heads) == (768, 12, 12)
    w = make_config("tiny").windows()
    assert len(w) == 4 and w[-1] == 0 and all(x > 0 for x in w[:-1]) and w == sorted(w[:-1]) + [0]
    with pytest.raises(ValueError, match="unknown MW-MAE size"):
        make_config("huge")


def test_local_heads_only_see_their_window():
    att = Attention(8, 2, windows=[3, 0])
    m = att._mask(6, "cpu")[0]
    assert m[0].sum(1).tolist() == [2, 3, 3, 3, 3, 2]  # |i-j| <= 1
    assert m[1].all()  # global head


def test_patchify_is_time_major_and_lossless():
    m = MWMAE(make_config("tiny"))
    mel = torch.arange(200 * 80, dtype=torch.float32).reshape(1, 200, 80)
    p = m.patchify(mel)
    assert p.shape == (1, 50 * 5, 64)
    # patch 1 is the second frequency band of the first 4 frames
    assert torch.equal(p[0, 1].reshape(4, 16), mel[0, :4, 16:32])
    assert torch.equal(p[0, 5].reshape(4, 16), mel[0, 4:8, :16])


def test_features_shape_and_rate():
    enc = build_encoder("mwmae-tiny")
    x = enc(torch.randn(2, 16000 * 3))  # 3 s -> two 2-s clips (second zero-padded) -> 100 frames
    assert x.shape == (2, 100, 32)
    assert enc.frame_rate == 25.0


def test_reconstruction_loss_masks_and_learns():
    torch.manual_seed(0)
    m = MWMAE(make_config("tiny"))
    mel = m.clips(torch.randn(4, 32000) * 0.1)[:, 0]
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(m(mel, g()), m(mel, g()))  # masks are a function of the generator
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    first = float(m(mel, g()).detach())
    for _ in range(30):
        opt.zero_grad()
        m(mel, g()).backward()
        opt.step()
    assert float(m(mel, g()).detach()) < 0.8 * first
