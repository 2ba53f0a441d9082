"""J2A — open music description: audio in, truthful words out."""
__version__ = "0.1.0"


def analyze(source, sr=None, config=None):
    """Analyse a file path or a mono/stereo array (with `sr`). See j2a.analysis.analyze."""
    from .analysis import analyze as _analyze

    return _analyze(source, sr=sr, config=config)


def describe(source, llm="local", sections=False, max_tries=3, **kw):
    """Describe a whole track in words, guarded against unsupported claims. See j2a.describe.describe."""
    from .describe import describe as _describe

    return _describe(source, llm=llm, sections=sections, max_tries=max_tries, **kw)


def ask(source, question, llm="local", **kw):
    """Answer a question about a recording (facts from the analysis). See j2a.ask.ask."""
    from .ask import ask as _ask

    return _ask(source, question, llm=llm, **kw)
