"""J2A — open music description: audio in, truthful words out.

The three jobs, as functions: `j2a.analyze(path)`, `j2a.describe(path)`, `j2a.ask(path, question)`.
They are imported here, not wrapped lazily: `describe` and `ask` are also submodule names, and importing
a submodule rebinds the package attribute to the module, so a lazy wrapper worked once and then
`j2a.describe(...)` raised "'module' object is not callable". Importing them costs about 0.2 s and
loads no model (models load on first use).
"""
__version__ = "0.1.0"

from .analysis import Analysis, analyze  # noqa: E402
from .ask import ask  # noqa: E402
from .describe import describe  # noqa: E402

__all__ = ["Analysis", "analyze", "ask", "describe", "__version__"]
