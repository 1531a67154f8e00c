"""Importing this module registers every reader (the registry is filled by ``@register_reader``)."""

import importlib
import pkgutil
from pathlib import Path

_PACKAGE = __name__.rsplit(".", 1)[0]

for _module in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if not _module.name.startswith("_") and _module.name != "base":
        importlib.import_module(f"{_PACKAGE}.{_module.name}")
