"""Switches of the compiled face; each also set by an environment variable at import."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _env_size(name: str, default: int) -> int | None:
    value = os.environ.get(name, "")
    if not value:
        return default
    return None if value.lower() == "none" else int(value)


@dataclass
class Config:
    """`explain_retraces` and `debug_nans` are public (the functions below); `verify` runs
    the IR verifier after every simplification pass (the test suite turns it on);
    `cache_size` is how many signatures each compiled function keeps built, least recently
    used dropped first (None: no bound; SYMGRAD_CACHE_SIZE, a transform's `cache_size=`)."""

    explain_retraces: bool = _env("SYMGRAD_EXPLAIN_RETRACES")
    debug_nans: bool = _env("SYMGRAD_DEBUG_NANS")
    verify: bool = _env("SYMGRAD_VERIFY")
    cache_size: int | None = _env_size("SYMGRAD_CACHE_SIZE", 64)


config = Config()


def explain_retraces(flag: bool = True) -> None:
    """Log (logger "symgrad", level WARNING) why each retrace of a compiled function happens.

    Also on with the environment variable SYMGRAD_EXPLAIN_RETRACES=1.
    """
    config.explain_retraces = bool(flag)


def debug_nans(flag: bool = True) -> None:
    """Make compiled functions raise FloatingPointError at the first op that produces a NaN,
    naming the op and the source line it was traced from (also SYMGRAD_DEBUG_NANS=1)."""
    config.debug_nans = bool(flag)
