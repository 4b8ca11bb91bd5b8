"""The error hierarchy of rec.

Every :class:`RecError` is a *handled* error: the command line prints its message as one
red line and exits with code 1, without a traceback (``rec --debug`` re-raises it).
Messages name the thing and the place, e.g. ``column 'label' missing in train.csv``.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "PluginLoadError",
    "RecError",
    "UnknownNameError",
]


class RecError(Exception):
    """Base class of all handled errors: a user mistake or a broken input, not a bug."""


class PluginLoadError(RecError):
    """A plugin failed to import, raised inside a hook or registered something invalid."""


class UnknownNameError(RecError, KeyError):
    """A registry was asked for a name nobody registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigError(RecError, ValueError):
    """A configuration key is unknown, has the wrong type or an invalid value."""


class DataError(RecError, ValueError):
    """Input data is missing, malformed or inconsistent (names file, column and row)."""


class CheckpointError(RecError):
    """A checkpoint file is corrupt, incompatible or does not exist."""
