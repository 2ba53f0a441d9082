"""J2A — open music description: audio in, truthful words out.

The three jobs, as functions: `j2a.analyze(path)`, `j2a.describe(path)`, `j2a.ask(path, question)`;
a collection as `j2a.Library("music.db")` (index, search, similar, duplicates, playlist).
Importing them loads no model (models load on first use).

The tree: `analysis/` (the schema, the pipeline that runs `features/`), `text/` (prompts, claims and
their evidence, the faithfulness guard, describe, sections, ask), `llm/` (backends, decoding, Gemma
inference, loading), `models/` (J2A-2.x inference), `training/`, `eval/`, `data/`, `theory.py`,
`library/` (one SQLite file), `serve.py` (HTTP API and page), `cluster.py` (`--engine ray`).
"""

__version__ = "0.1.0"

from .analysis import Analysis, analyze  # noqa: E402
from .library import Library  # noqa: E402
from .text.ask import ask  # noqa: E402
from .text.describe import describe  # noqa: E402

__all__ = ["Analysis", "Library", "analyze", "ask", "describe", "__version__"]
