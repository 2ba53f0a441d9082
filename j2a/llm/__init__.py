"""Language models that turn a J2A prompt into words: backends (`load_llm`), one decoding loop
(`decoding`), J2A's own Gemma 3 inference (`gemma`) and model loading and caching (`loading`)."""

from .backends import LLM, load_llm
from .decoding import GenConfig

__all__ = ["LLM", "GenConfig", "load_llm"]
