"""J2A-2.x: audio encoder -> trained projector -> frozen LLM. `load_j2a2(path)` for inference."""

from __future__ import annotations


def load_j2a2(path):
    """Load a trained J2A-2.x model folder (from `j2a train`); it has .describe(audio) and .ask(audio, question)."""
    from .adapted import AdaptedLM

    return AdaptedLM.from_pretrained(path)
