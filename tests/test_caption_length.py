"""Caption-length control: the length model, the prompt's Length line, training prompts, and the
inference prompts of caption-tags and describe."""
from __future__ import annotations

import json
import random

import pytest

from j2a import llm_train as lt
from j2a import prompts
from j2a.caption_length import LengthModel, features, round_words

from .test_llm import tiny_lm  # noqa: F401 (session fixture)
from .test_llm_train import _mini_csv


def _rows(n=200, seed=0):
    """Synthetic rows whose caption length is set by the writer's style word, as in MusicCaps."""
    rng = random.Random(seed)
    pool = ["rock", "piano", "drums", "sad", "fast tempo", "guitar", "female vocal", "ambient", "bass", "synth"]
    rows = []
    for i in range(n):
        style, words = rng.choice([("low quality", 25), ("amateur recording", 65), ("", 45)])
        aspects = rng.sample(pool, 4) + ([style] if style else [])
        length = words + rng.randint(-3, 3)
        rows.append({"aspects": aspects, "caption": " ".join(["word"] * length)})
    return rows


def test_round_words_steps_and_limits():
    assert [round_words(x) for x in (47, 48, 3, 500, 61.2)] == [45, 50, 10, 120, 60]


def test_features_are_words_bigrams_and_phrases():
    assert features(["Low quality", "fast-tempo"]) == {"low", "quality", "low quality", "#low quality", "fast", "tempo",
                                                       "fast tempo", "#fast tempo"}


def test_fit_learns_length_from_style_words(tmp_path):
    m = LengthModel.fit(_rows())
    assert m.predict(["rock", "piano", "sad", "bass", "low quality"]) < 32
    assert m.predict(["rock", "piano", "sad", "bass", "amateur recording"]) > 57
    assert m.words(["rock", "piano", "sad", "bass", "amateur recording"]) in (60, 65, 70)
    assert m.predict([]) == m.mean and m.predict(["never seen"]) == m.mean
    m.save(tmp_path / "lm.json")
    again = LengthModel.load(tmp_path / "lm.json")
    assert again.predict(["sad", "low quality"]) == pytest.approx(m.predict(["sad", "low quality"]))
    assert LengthModel.load(tmp_path / "missing.json") is None


def test_prompt_length_line_round_trips():
    p = prompts.format_prompt(["rock"], {"tempo_bpm": 120, "words": 45})
    assert p.endswith("Length: about 45 words\nDescription:")
    assert prompts.parse_prompt(p) == (["rock"], {"tempo_bpm": 120.0, "words": 45})
    assert "Length" not in prompts.format_prompt(["rock"]) and "45" not in prompts.template_caption(["rock"], {"words": 45})


def test_training_prompts_carry_the_captions_own_length():
    row = {"aspects": ["rock", "guitar"], "caption": " ".join(["w"] * 52)}
    assert prompts.parse_prompt(lt.make_example(row, random.Random(0), 0.25, 1.0))[1]["words"] == 50
    assert "Length" not in lt.make_example(row, random.Random(0), 0.25, 0.0)
    # p_length 0 draws nothing: the older recipe's prompts are reproduced exactly
    assert [lt.make_example(row, random.Random(s), 0.25, 0.0) for s in range(5)] == \
           [lt.make_example(row, random.Random(s), 0.25) for s in range(5)]


def test_row_prompt_asks_the_backends_length_model():
    class Backend:
        length_model = LengthModel.fit(_rows())

    row = {"aspects": ["rock", "piano", "sad", "bass", "amateur recording"], "caption": ""}
    assert prompts.parse_prompt(lt.row_prompt(row, Backend()))[1]["words"] in (60, 65, 70)
    assert lt.row_prompt(row, object()) == prompts.format_prompt(row["aspects"])  # no model: no line


def test_describe_words_option():
    from j2a.describe import DescribeConfig, describe

    from .test_describe import ROCK, ScriptedLLM, make_analysis

    class WithLength(ScriptedLLM):
        length_model = LengthModel(mean=41.0, weights={})

    good = "An energetic rock song in E minor with a driving guitar riff, steady drums and a male vocalist at 128 BPM."
    for words, line in [(None, "Length: about 40 words"), (83, "Length: about 85 words"), (0, None)]:
        llm = WithLength(good)
        describe(make_analysis(**ROCK), llm=llm, config=DescribeConfig(words=words))
        assert (line in llm.calls[0][0]) if line else ("Length" not in llm.calls[0][0])
    plain = ScriptedLLM(good)  # a backend without a length model gets no Length line by default
    describe(make_analysis(**ROCK), llm=plain)
    assert "Length" not in plain.calls[0][0]


def test_train_llm_writes_the_length_model(tiny_lm, tmp_path):  # noqa: F811
    from j2a.cli import main
    from j2a.llm import load_llm

    data = _mini_csv(tmp_path / "mini.csv")
    rc = main(["train-llm", "--data", str(data), "--out", str(tmp_path / "run"), "--max-steps", "2", "--batch-size", "4",
               "--holdout", "4", "--eval-every", "2", "--rank", "4", "--dtype", "fp32", "--base", str(tiny_lm),
               "--p-length", "0.5"])
    assert rc == 0
    assert json.loads((tmp_path / "run" / "training.json").read_text())["config"]["p_length"] == 0.5
    lm = LengthModel.load(tmp_path / "run" / "length_model.json")
    assert lm is not None and lm.mean == pytest.approx(sum(len(r["caption"].split()) for r in
                                                           lt.split_rows(lt.read_captions_csv(data), 4, 0)[0]) / 20)
    assert load_llm(f"hf:{tiny_lm}", adapter=str(tmp_path / "run"), dtype="fp32").length_model.mean == lm.mean
