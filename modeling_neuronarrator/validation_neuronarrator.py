"""Argument checks whose messages name the parameter, the allowed values and what was given.

The project's one helper for "is this one of the allowed values" and "is this of the right type"
(in the manner of MNE's ``_check_option`` / ``_validate_type``), used by every layer: the front-end,
the model, the corpus builder, training and evaluation. A plain module with no dependencies, so it
is copied beside the model files into a Hub repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["check_option", "validate_type"]


def check_option(name: str, value: Any, allowed: Iterable[Any], where: str = "") -> Any:
    """Return ``value`` when it is one of ``allowed``, else raise a ValueError that lists them.

    Args:
        name: the parameter as the user wrote it (``"on_bad_files"``, ``"--baselines"``).
        value: what was given.
        allowed: the allowed values.
        where: what the parameter belongs to (a file, a config section), put first in the message.
    """
    allowed = tuple(allowed)
    if value in allowed:
        return value
    prefix = f"{where}: " if where else ""
    raise ValueError(
        f"{prefix}Invalid value for the {name!r} parameter. Allowed values are "
        f"{', '.join(repr(a) for a in allowed)}, but got {value!r} instead."
    )


def validate_type(value: Any, types: type | tuple[type, ...], name: str, where: str = "") -> Any:
    """Return ``value`` when it is an instance of ``types``, else raise a TypeError naming them."""
    if isinstance(value, types):
        return value
    expected = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
    prefix = f"{where}: " if where else ""
    raise TypeError(f"{prefix}{name} must be an instance of {expected}, got {type(value).__name__} instead.")
