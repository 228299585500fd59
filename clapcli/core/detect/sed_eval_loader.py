"""sed_eval (and sed_scores_eval, which imports it), loaded lazily with the stand-in they need today."""

from __future__ import annotations

import sys
import types

from clapcli.errors import missing_extra


def load_sed_eval():
    """``sed_eval``, imported lazily. Its dcase_util imports ``pkg_resources`` (gone from setuptools
    >= 81) for version helpers only, so a stand-in is registered for the import alone when it is missing."""
    try:
        import pkg_resources  # noqa: F401
        stub = False
    except ImportError:
        stub = True
        sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
    try:
        import sed_eval
        import sed_eval.sound_event  # noqa: F401
    except ImportError:
        raise missing_extra("sed_eval", "eval") from None
    finally:
        if stub:
            sys.modules.pop("pkg_resources", None)
    return sed_eval
