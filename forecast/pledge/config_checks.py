"""Pledge config checks: the error type and the helpers every schema's ``__post_init__`` uses.

Each failed check raises :class:`PledgeConfigError` naming the key (prefixed ``pledge.``), the value,
the problem and the override that fixes it.
"""

from __future__ import annotations

import math
from typing import Any

P = "pledge"  # config path prefix in error messages


class PledgeConfigError(ValueError):
    """A config value that cannot be used; the message names the override to fix it."""

    def __init__(self, key: str, value: Any, problem: str, fix: str | None = None):
        self.key = key
        msg = f"{key}={value!r}: {problem}; fix with the override {key}={fix if fix is not None else '<value>'}"
        super().__init__(msg)

    def under(self, key: str, note: str = "") -> "PledgeConfigError":
        """The same error under another key (a part of a larger config), with ``note`` after the key's value."""
        out = PledgeConfigError.__new__(PledgeConfigError)
        out.key = key
        head, _, rest = str(self).partition(": ")
        ValueError.__init__(out, f"{head.replace(self.key, key, 1)}{note}: {rest.replace(self.key, key)}")
        return out


def check(ok: bool, key: str, value: Any, problem: str, fix: str | None = None) -> None:
    """Raise :class:`PledgeConfigError` unless ``ok``."""
    if not ok:
        raise PledgeConfigError(key, value, problem, fix)


def choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    """``value`` must be one of ``choices``; the fix offered is the first."""
    check(value in choices, key, value, f"must be one of {', '.join(choices)}", choices[0])


def finite(x) -> bool:
    """Not None and a finite number."""
    return x is not None and math.isfinite(float(x))
