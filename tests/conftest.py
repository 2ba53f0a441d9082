"""Shared test fixtures: where the shared data lives, and synthetic clips with exact truth."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__import__("os").environ.get("J2A_SHARED", REPO.parent / "shared")).resolve()
AUDIO_DIR = SHARED / "data" / "audio"
CAPTIONS_DIR = SHARED / "data" / "captions"


def _require_shared():
    if not AUDIO_DIR.is_dir():
        pytest.fail(f"shared data not found at {SHARED} (set J2A_SHARED); these tests need it")


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    _require_shared()
    return AUDIO_DIR


@pytest.fixture(scope="session")
def labelled_dir() -> Path:
    _require_shared()
    return SHARED / "data" / "labelled"


@pytest.fixture(scope="session")
def captions_dir() -> Path:
    _require_shared()
    return CAPTIONS_DIR


@pytest.fixture(scope="session")
def manifest(audio_dir) -> list[dict]:
    with open(audio_dir / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def bench_script():
    """load(name): a bench/ script as a module (bench/ on sys.path first, for its `_common`)."""
    import importlib.util
    import sys

    def load(name: str):
        bench = REPO / "bench"
        if str(bench) not in sys.path:
            sys.path.insert(0, str(bench))
        spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory):
    """30 s, 120 BPM, 4/4, C-F-G-C one chord per bar: (path, SynthSpec)."""
    from j2a.data.synth import SynthSpec, render_to_file

    spec = SynthSpec()
    path = render_to_file(spec, tmp_path_factory.mktemp("synth") / "synth_120_4-4_CFGC.wav")
    return path, spec


@pytest.fixture(scope="session")
def analysis_of():
    """Analyse an audio file once per test session: analysis_of(path) -> j2a Analysis (cached)."""
    import functools

    from j2a.analysis import analyze

    @functools.cache
    def cached(path: str) -> object:
        return analyze(path)

    return lambda path: cached(str(Path(path).resolve()))


@pytest.fixture(scope="session")
def test_model() -> dict:
    """The model real-audio description tests use: the shipped J2A-LLM by default; J2A_TEST_LLM overrides
    (e.g. 'none'), J2A_TEST_ADAPTER points 'local' at another LoRA adapter folder. Keyword arguments of describe."""
    import os

    return {"llm": os.environ.get("J2A_TEST_LLM", "local"), "adapter": os.environ.get("J2A_TEST_ADAPTER")}


@pytest.fixture(scope="session")
def described_music(analysis_of, test_model):
    """Every music clip of both shared manifests described once (batched LLM calls): {file: (Truth, Description)}."""
    from j2a.eval.truth import music_truth
    from j2a.text.describe import describe_many

    _require_shared()
    truths = music_truth(SHARED)
    analyses = [analysis_of(t.path) for t in truths]
    descs = describe_many(analyses, **test_model)
    return {t.file: (t, d) for t, d in zip(truths, descs)}


@pytest.fixture(scope="session")
def small_library(tmp_path_factory, audio_dir) -> Path:
    """A library database of three shared clips (trumpet loop, tenor sax in D minor, ragtime piano), analysed
    but not described, the files copied beside it: for the server's tests."""
    import shutil

    from j2a.library import Library

    d = tmp_path_factory.mktemp("small-library")
    for name in ("trumpet_loop_f_90bpm.ogg", "sax_tenor_d_minor.wav", "pistachio_ragtime.ogg"):
        shutil.copy(audio_dir / name, d / name)
    with Library(d / "music.db") as L:
        L.index([str(d)], describe=False)
    return d / "music.db"


def make_tiny_lm(path):
    """A randomly initialised Gemma-3-style causal LM with a 60-word tokenizer, saved to path."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<bos>", "<unk>"] + (
        "music tags description tempo key meter chords duration bpm this is a song with rock jazz guitar piano "
        "drums bass male female vocal slow fast happy sad the and in of minor major : , . - s 4/4 120"
    ).split()
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    cfg = Gemma3TextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=256,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny_lm"))
