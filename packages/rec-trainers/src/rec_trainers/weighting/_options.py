"""Validation of the weighters' numeric options (one-line ConfigErrors)."""

from __future__ import annotations

import math
from collections.abc import Callable

from rec_core.errors import ConfigError

__all__ = ["check_number"]


def check_number(owner: str, key: str, value: object, valid: Callable[[float], bool], what: str) -> float:
    """Return ``value`` as a finite float for which ``valid`` holds.

    Args:
        owner: The weighter's class name, for the message.
        key: The option's name.
        value: What the user passed.
        valid: The range check.
        what: The range in words, e.g. ``"in [0, 1)"``.

    Raises:
        ConfigError: ``value`` is not a finite number (booleans included) or out of range.
    """
    number = math.nan
    if not isinstance(value, bool):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    if not math.isfinite(number) or not valid(number):
        raise ConfigError(f"{owner} option {key!r} must be a number {what}, got {value!r}")
    return number
