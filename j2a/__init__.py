"""J2A — open music description: audio in, truthful words out."""
__version__ = "0.1.0"


def analyze(source, sr=None, config=None):
    """Analyse a file path or a mono/stereo array (with `sr`). See j2a.analysis.analyze."""
    from .analysis import analyze as _analyze

    return _analyze(source, sr=sr, config=config)
