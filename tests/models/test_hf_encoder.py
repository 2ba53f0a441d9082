"""`hf:<path>@layer` encoders: a tiny random wav2vec2 saved locally stands in for MERT/AST/Whisper (offline)."""

from __future__ import annotations

import torch


def test_hf_encoder_from_local_folder(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from j2a.models.encoders import build_encoder

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8),
        conv_kernel=(10, 4),
        conv_stride=(5, 4),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        vocab_size=8,
    )
    Wav2Vec2Model(cfg).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(tmp_path)
    enc = build_encoder(f"hf:{tmp_path}@1")
    assert enc.sample_rate == 16000 and enc.dim == 16
    assert enc.frame_rate == 800.0  # 16000 / (5 * 4) frames per second
    x = enc(torch.randn(2, 8000))
    assert x.shape == (2, 399, 16)
    last = build_encoder(f"hf:{tmp_path}")  # default: the last hidden layer
    assert not torch.allclose(last(torch.ones(1, 8000) * 0.1), enc(torch.ones(1, 8000) * 0.1))
