"""musicnn port: TF-checkpoint reader, agreement with real TensorFlow, front-end, and tags on real music.

The reference numbers in tests/fixtures/musicnn_tf_reference.npz were produced by TensorFlow 2.15.1 +
librosa 0.10.2 running musicnn 0.1.0's own extractor (scripts/make_musicnn_fixture.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from j2a.audio import open_audio
from j2a.features import musicnn_net as mn
from j2a.features import tags as T

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "musicnn_tf_reference.npz"


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURE)


@pytest.fixture(scope="module")
def fixture_script():
    spec = importlib.util.spec_from_file_location("make_musicnn_fixture", REPO / "scripts" / "make_musicnn_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _log(mel16: np.ndarray) -> np.ndarray:
    return np.log10(10000 * mel16.astype(np.float32) + 1)


# -- checkpoint reader and the shipped weights ---------------------------------------------------
# musicnn_MTT_musicnn.index: the `.index` of musicnn 0.1.0's MTT_musicnn TF1 checkpoint (ISC licence,
# j2a/assets/models/LICENSES/musicnn-ISC.txt), 5 kB; its 9.5-MB `.data` file is not kept.
INDEX = REPO / "tests" / "fixtures" / "musicnn_MTT_musicnn.index"


def test_reader_reads_musicnn_checkpoint_index():
    e = mn.read_index(INDEX)
    assert len(e) == 150  # 64 weights + their Adam slots + optimizer counters
    assert e["conv2d/kernel"].shape == (7, 38, 1, 204)  # timbral 7x(0.4*96), 1.6*128 filters
    assert e["conv2d_1/kernel"].shape == (7, 67, 1, 204)
    assert e["conv2d_2/kernel"].shape == (128, 1, 1, 51)
    assert e["dense/kernel"].shape == (1506, 200)
    assert e["dense_1/kernel"].shape == (200, 50)
    assert e["conv2d/kernel"].dtype == 1 and e["conv2d/kernel"].size == 7 * 38 * 204 * 4  # DT_FLOAT


def test_reader_round_trips_the_shipped_weights(tmp_path):
    """The real index + a data file holding the shipped tensors at the index's offsets: read_checkpoint
    returns those tensors (offsets, sizes, shapes, dtypes parsed right), and the shipped file holds
    exactly the variables MusiCNN.load_tf reads, with the checkpoint's shapes."""
    w = mn.load_weights("MTT_musicnn")
    e = mn.read_index(INDEX)
    data = bytearray(max(x.offset + x.size for x in e.values()))
    for name, arr in w.items():
        assert arr.shape == e[name].shape and arr.dtype == np.float32
        data[e[name].offset : e[name].offset + e[name].size] = arr.astype("<f4").tobytes()
    (tmp_path / ".index").write_bytes(INDEX.read_bytes())
    (tmp_path / ".data-00000-of-00001").write_bytes(bytes(data))
    back = mn.read_checkpoint(tmp_path)
    for name, arr in w.items():
        np.testing.assert_array_equal(back[name], arr)
    assert len(w) == 64 and all(k in e for k in w)
    mn.MusiCNN().load_tf(w)  # every variable the port reads is there


def test_shipped_weights_are_real():
    t = mn.load_weights("MTT_musicnn")
    var = t["batch_normalization_9/moving_variance"]
    assert np.all(var > 0) and np.all(np.isfinite(var))  # real statistics, not garbage bytes
    assert 1e-4 < np.abs(t["dense/kernel"]).mean() < 1.0
    msd = mn.load_weights("MSD_musicnn")
    assert not np.array_equal(msd["dense_1/kernel"], t["dense_1/kernel"])


def test_reader_rejects_non_checkpoint(tmp_path):
    bad = tmp_path / "x.index"
    bad.write_bytes(b"not a table" * 10)
    with pytest.raises(ValueError, match="not a TF tensor-bundle index"):
        mn.read_index(bad)
    with pytest.raises(ValueError, match="unknown musicnn model"):
        mn.load_musicnn("MSD_musicnn_big")


# -- port vs real TensorFlow --------------------------------------------------------------------
@pytest.mark.parametrize("model", mn.MODELS)
def test_port_matches_tensorflow_on_tf_input(ref, model):
    """Same input patches as TF got -> same probabilities, penultimate and pooled features."""
    net = mn.load_musicnn(model)
    for name in ref["names"]:
        x = torch.from_numpy(_log(ref[f"{name}/mel16"]))
        with torch.inference_mode():
            out = net(x)
        np.testing.assert_allclose(out["probs"].numpy(), ref[f"{name}/{model}/probs"], atol=1e-3, rtol=0)
        np.testing.assert_allclose(
            out["penultimate"][:1].numpy(), ref[f"{name}/{model}/penultimate"], atol=1e-3, rtol=0
        )
        np.testing.assert_allclose(out["mean_pool"].numpy(), ref[f"{name}/{model}/mean_pool"], atol=1e-3, rtol=0)
    assert str(ref["tf_version"]).startswith("2.")


def test_frontend_matches_librosa(ref, fixture_script):
    """Our numpy log-mel equals librosa's (as musicnn computes it) on a synthetic and a real signal."""
    for name, y in (
        ("synthetic", fixture_script.test_signal()),
        ("techno_loop", ref["techno_loop/signal16k"].astype(np.float32)),
    ):
        batch, fps = mn.musicnn_windows(y)
        want = _log(ref[f"{name}/mel16"])
        assert batch.shape == want.shape
        # float16 rounding of the mel power may flip by one step: 1 ulp of float16 is < 3e-4 in log10
        np.testing.assert_allclose(batch.numpy(), want, atol=1e-3, rtol=0)
        assert fps == pytest.approx(16000 / (187 * 256))


@pytest.mark.parametrize("model", mn.MODELS)
def test_audio_to_probabilities_matches_tensorflow(ref, fixture_script, model):
    """Whole pipeline from samples (our front-end + port) against librosa + TF end to end."""
    batch, _ = mn.musicnn_windows(fixture_script.test_signal())
    with torch.inference_mode():
        probs = mn.load_musicnn(model)(batch)["probs"].numpy()
    np.testing.assert_allclose(probs, ref[f"synthetic/{model}/probs"], atol=1e-3, rtol=0)


def test_encoder_api_features_and_cache():
    net = mn.load_musicnn("MSD_musicnn")
    assert mn.load_musicnn("MSD_musicnn") is net  # loaded once per process
    y = np.sin(2 * np.pi * 440 * np.arange(16000 * 7) / 16000).astype(np.float32) * 0.3
    batch, fps = mn.musicnn_windows(y, hop_s=1.0)
    assert batch.shape[1:] == (187, 96) and len(batch) == 5  # windows start every 62 frames (~1 s)
    assert fps == pytest.approx(16000 / (62 * 256))
    with torch.inference_mode():
        out = net(batch, return_maps=True)
    assert out["logits"].shape == (5, 50) and out["penultimate"].shape == (5, 200)
    assert out["mean_pool"].shape == (5, 753) and out["max_pool"].shape == (5, 753)
    assert out["cnn3"].shape == (5, 187, 64) and out["timbral"].shape == (5, 187, 408)
    torch.testing.assert_close(out["probs"], torch.sigmoid(out["logits"]))


# -- chunk-wise processing ----------------------------------------------------------------------
def test_mel_stream_equals_whole_signal():
    y = np.random.default_rng(0).standard_normal(16000 * 5 + 77).astype(np.float32)
    st = mn.MelStream()
    parts = [st.push(y[i : i + 7001]) for i in range(0, len(y), 7001)] + [st.finish()]
    np.testing.assert_allclose(np.concatenate(parts), mn.mel_power(y), rtol=1e-4, atol=1e-6)


def test_chunked_patches_equal_whole_track_patches(fixture_script):
    y = np.tile(fixture_script.test_signal(), 2)  # 18 s: 6 full patches + 0.05 s leftover (no tail patch)
    audio = open_audio(y, sr=16000)
    got = torch.cat(list(T._patches(audio, T.TagConfig(chunk_s=4.0, batch=4))))
    want, _ = mn.musicnn_windows(y)
    assert got.shape == want.shape == (6, 187, 96)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-3, rtol=0)


def test_short_and_tail_patches():
    y = np.sin(2 * np.pi * 220 * np.arange(int(16000 * 1.5)) / 16000).astype(np.float32) * 0.3
    assert len(torch.cat(list(T._patches(open_audio(y, sr=16000), T.TagConfig())))) == 1  # repeat-padded
    y5 = np.tile(y, 3)[: 16000 * 5]  # 5 s: one full patch + 2 s leftover -> a tail patch
    patches = torch.cat(list(T._patches(open_audio(y5, sr=16000), T.TagConfig())))
    assert len(patches) == 2
    tags = T.analyze_tags(open_audio(y, sr=16000))
    assert len(tags.scores) == 100 and all(0 <= v <= 1 for v in tags.scores.values())


def test_tag_groups_cover_every_tag_once():
    raws = [r for g in T.TAG_GROUPS.values() for rs in g.values() for r in rs]
    every = {f"mtt:{t}" for t in mn.MTT_LABELS} | {f"msd:{t}" for t in mn.MSD_LABELS}
    assert len(raws) == len(set(raws)) == 100 and set(raws) == every
    tempo_loudness = {"fast", "slow", "loud", "quiet", "soft"}
    assert not tempo_loudness & set(T.TAG_GROUPS["genre"]) and tempo_loudness <= set(T.TAG_GROUPS["mood"])


# -- real music -----------------------------------------------------------------------------
CLIPS = [
    "pistachio_ragtime.ogg",
    "brahms_hungarian_dance_5.ogg",
    "techno_loop.mp3",
    "vocadito_1.wav",
    "choice_drum_bass.ogg",
]


@pytest.fixture(scope="module")
def clip_tags(audio_dir):
    """The tags `j2a.analyze` gives: musicnn fused with YAMNet (j2a.features.fusion)."""
    from j2a.features import yamnet

    out = {}
    for c in CLIPS:
        audio = open_audio(audio_dir / c)
        out[c] = T.analyze_tags(audio, yamnet_windows=yamnet.window_scores(audio))
    return out


def _specific(tags):
    from j2a.features.fusion import BROAD

    return [t.label for t in tags if t.label not in BROAD]


def _labels(tags):
    return [t.label for t in tags]


@pytest.mark.slow
def test_tags_structure(clip_tags):
    for name, tags in clip_tags.items():
        assert set(tags.scores) == {f"mtt:{t}" for t in mn.MTT_LABELS} | {f"msd:{t}" for t in mn.MSD_LABELS}
        for group in T.EXPORTED_GROUPS:
            scores = [t.score for t in getattr(tags, group)]
            assert scores == sorted(scores, reverse=True), (name, group)
            assert all(s >= T.TagConfig().threshold for s in scores), (name, group)


@pytest.mark.slow
def test_ragtime_is_piano(clip_tags):
    t = clip_tags["pistachio_ragtime.ogg"]
    assert _specific(t.instrument)[0] == "piano"
    assert t.scores["mtt:piano"] > 0.5
    assert "drums" not in _labels(t.instrument)


@pytest.mark.slow
def test_brahms_is_classical_strings(clip_tags):
    t = clip_tags["brahms_hungarian_dance_5.ogg"]
    assert _labels(t.genre)[0] == "classical"
    assert {"strings", "violin"} <= set(_labels(t.instrument))
    assert not {"drums", "synth", "piano"} & set(_labels(t.instrument))
    assert not [v for v in _labels(t.vocals) if v != "instrumental (no vocals)"]  # no singing tag


@pytest.mark.slow
def test_techno_is_techno(clip_tags):
    t = clip_tags["techno_loop.mp3"]
    assert _labels(t.genre)[0] == "techno"
    assert "electronic" in _labels(t.genre) and "classical" not in _labels(t.genre)
    assert "drums" in _labels(t.instrument)


@pytest.mark.slow
def test_singing_has_vocal_tags(clip_tags):
    t = clip_tags["vocadito_1.wav"]
    assert "vocals" in _labels(t.vocals)
    assert "instrumental (no vocals)" not in _labels(t.vocals)
    # the same tags stay low on the instrumental clips
    for clip in ("pistachio_ragtime.ogg", "brahms_hungarian_dance_5.ogg", "techno_loop.mp3"):
        assert "vocals" not in _labels(clip_tags[clip].vocals)
        assert clip_tags[clip].scores["mtt:vocal"] < t.scores["mtt:vocal"]


@pytest.mark.slow
def test_drum_and_bass_stems_have_drums(clip_tags):
    t = clip_tags["choice_drum_bass.ogg"]
    assert "drums" in _labels(t.instrument)
    assert "piano" not in _labels(t.instrument)
