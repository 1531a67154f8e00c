"""Helpers of the Space tests: import space/app.py (not a package) once."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

APP_PATH = Path(__file__).resolve().parent.parent / "space" / "app.py"


@functools.lru_cache(maxsize=1)
def load_space_app():
    """The ``space/app.py`` module (``demo`` is built at import)."""
    spec = importlib.util.spec_from_file_location("neuronarrator_space_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

