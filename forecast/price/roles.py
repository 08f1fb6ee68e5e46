"""Roles of a market's exogenous day-ahead inputs, which fix the sign the price model may give them.

- ``load``: a load or demand forecast; the price is non-decreasing in it;
- ``supply``: a renewable (wind, solar, PV) or total generation forecast; the price is non-increasing in it;
- ``free``: no sign imposed.

:func:`infer_role` reads a column's words (a plural counts as its singular): load or demand makes it
``load``; wind, solar, PV, photovoltaic, generation or renewable makes it ``supply``. A name with words of both kinds or of
neither has no inferred role; :func:`resolve_roles` then raises a :class:`forecast.config.ConfigError`
that names the column and the setting that fixes it (``--exog-roles`` on ``forecast epf-bench``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from forecast.config import ConfigError

ROLES = ("load", "supply", "free")
SIGN = {"load": 1, "supply": -1, "free": 0}
LOAD_WORDS = frozenset({"load", "demand"})
SUPPLY_WORDS = frozenset({"wind", "solar", "pv", "photovoltaic", "generation", "renewable"})
ROLES_KEY = "model.exog_roles"


def infer_role(name: str) -> str | None:
    """``load`` / ``supply`` from the column's words (see the module docstring); None when neither or both."""
    words = {w.removesuffix("s") for w in re.findall(r"[a-z]+", str(name).lower())}  # "loads" -> "load"
    load, supply = bool(words & LOAD_WORDS), bool(words & SUPPLY_WORDS)
    if load == supply:
        return None
    return "load" if load else "supply"


def check_roles(roles: Sequence[str], key: str = ROLES_KEY) -> tuple[str, ...]:
    """``roles`` as a tuple, each one of :data:`ROLES` (ConfigError naming ``key`` otherwise)."""
    out = tuple(str(r).strip().lower() for r in roles)
    bad = [r for r in out if r not in ROLES]
    if bad:
        raise ConfigError(key, f"exogenous role {bad[0]!r} is not one of {', '.join(ROLES)}", "[load,supply]")
    return out


def resolve_roles(names: Sequence[str], given: Sequence[str] = (), key: str = ROLES_KEY) -> tuple[str, ...]:
    """One role per exogenous column ``names``: ``given`` (checked, one per column) or inferred from each name.

    Raises ConfigError (key ``key``) for a column whose role cannot be inferred, naming that column."""
    names = [str(n).strip() for n in names]
    if given:
        roles = check_roles(given, key)
        if len(roles) != len(names):
            raise ConfigError(key, f"{len(roles)} roles given for {len(names)} exogenous columns "
                              f"({', '.join(map(repr, names))})", "[" + ",".join(_guess(names)) + "]")
        return roles
    for n in names:
        if infer_role(n) is None:
            raise ConfigError(key, f"the role of exogenous column {n!r} cannot be inferred from its name (load and "
                              f"demand are load; wind, solar, PV, generation and renewable are supply); give one "
                              f"role per column, in order, each load, supply or free",
                              "[" + ",".join(_guess(names)) + "]")
    return tuple(infer_role(n) for n in names)


def _guess(names: Sequence[str]) -> list[str]:
    return [infer_role(n) or "free" for n in names]


def signs(roles: Sequence[str]) -> np.ndarray:
    """(K,) +1 (load), −1 (supply), 0 (free)."""
    return np.array([SIGN[r] for r in check_roles(roles)], dtype=np.int8)
