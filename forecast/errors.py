"""Errors a user can fix: bad input (:class:`ContractError` names the file, the column and the first bad rows),
a bad command line (:class:`UsageError`), and :func:`explain`, which turns any such error (Hydra's and
OmegaConf's config errors included) into (key, problem, fix) for the one line the CLI prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

MAX_ROWS_SHOWN = 5


class ContractError(ValueError):
    """Input that breaks a data contract.

    The message always reads ``<file>: column '<col>': <problem>; first offending rows: ...``
    so a user can go straight to the bad line. Row numbers are 0-based data rows
    (the header is not counted), as pandas shows them.
    """

    def __init__(self, source: str, column: str | None, problem: str,
                 rows: pd.DataFrame | Sequence[int] | None = None):
        self.source = source
        self.column = column
        self.problem = problem
        self.rows = _row_labels(rows)
        where = f"column '{column}'" if column else "table"
        msg = f"{source}: {where}: {problem}"
        if rows is not None and len(self.rows):
            shown = _render(rows)
            msg += f"; first offending rows: {shown}"
        super().__init__(msg)

    @classmethod
    def where(cls, source: str, column: str, problem: str, frame, mask) -> ContractError:
        """The error for the rows of ``frame`` (a frame or series) where ``mask`` holds, with their count."""
        mask = np.asarray(mask, dtype=bool)
        frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
        return cls(source, column, f"{problem} ({int(mask.sum())} rows)", frame[mask])


def _row_labels(rows) -> list:
    if rows is None:
        return []
    if isinstance(rows, pd.DataFrame):
        return list(rows.index[:MAX_ROWS_SHOWN])
    return list(rows)[:MAX_ROWS_SHOWN]


def _render(rows) -> str:
    if isinstance(rows, pd.DataFrame):
        head = rows.head(MAX_ROWS_SHOWN)
        parts = []
        for idx, rec in head.iterrows():
            vals = ", ".join(f"{k}={v!r}" for k, v in rec.items())
            parts.append(f"row {idx} ({vals})")
        extra = len(rows) - len(head)
        return "; ".join(parts) + (f" … and {extra} more" if extra > 0 else "")
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    extra = len(rows) - MAX_ROWS_SHOWN
    return f"rows {shown}" + (f" … and {extra} more" if extra > 0 else "")


class UsageError(ValueError):
    """A command line that cannot be translated (unknown flag, missing value)."""

    def __init__(self, key: str, problem: str, fix: str):
        self.key, self.problem, self.fix = key, problem, fix
        super().__init__(f"{key}: {problem}; fix: {fix}")


# how to set a key in the user's terms: fix(key, example) -> its flag or the override
Fix = Callable[[str, "str | None"], str]


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def first_line(text: str) -> str:
    return one_line(str(text).strip().splitlines()[0] if str(text).strip() else text)


def unknown_key(key: str, keys: Callable[[], list[str]], command: str) -> tuple[str, str, str]:
    import difflib

    close = difflib.get_close_matches(key, keys(), n=1, cutoff=0.6)
    return key, "unknown key", (f"{close[0]}=<value>" if close else f"forecast {command} --help lists the keys")


def explain_omegaconf(exc, fix: Fix, keys: Callable[[], list[str]], command: str) -> tuple[str, str, str]:
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, MissingMandatoryValue

    key = exc.full_key or (str(exc.key) if exc.key is not None else "config")
    if isinstance(exc, MissingMandatoryValue):
        return key, "no value given", fix(key, None)
    if isinstance(exc, (ConfigAttributeError, ConfigKeyError)) and " not in " in str(exc):
        return unknown_key(key, keys, command)
    return key, first_line(exc), fix(key, None)


def explain_missing(exc) -> tuple[str, str, str]:
    """A group option (or primary config) that has no file: ``pledge=nosuch``."""
    path = exc.missing_cfg_file or ""
    group, _, option = path.rpartition("/")
    if not group:
        return path or "config", f"no conf/{path}.yaml", "point FORECAST_CONF_DIR at the conf/ folder"
    opts = [o for o in exc.options or [] if not o.endswith("schema")]
    return (group, f"no option {option!r} (no conf/{group}/{option}.yaml)",
            " or ".join(f"{group}={o}" for o in opts) or f"add conf/{group}/{option}.yaml")


def explain_value(exc: ValueError, fix: Fix) -> tuple[str, str, str]:
    """A config check that names its key: forecast.config.ConfigError (key, problem, example) or
    forecast.pledge.config.PledgeConfigError ("<key>=<value>: <problem>; fix with the override <fix>")."""
    key = exc.key
    if hasattr(exc, "problem"):
        return key, exc.problem, fix(key, getattr(exc, "example", None))
    left, _, fix = str(exc).partition("; fix with the override ")
    return key, left.removeprefix(f"{key}="), fix or fix(key, None)


def explain(exc: BaseException, command: str, fix: Fix, keys: Callable[[], list[str]]) -> tuple[str, str, str] | None:
    """(key, problem, fix) of an error the user can fix (config, command line, input data); None for a bug.

    ``fix(key, example)`` says how to set a key in the user's terms (its flag or the override); ``keys()``
    lists the command's config keys, for suggestions."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException


    if isinstance(exc, UsageError):
        return exc.key, exc.problem, exc.fix
    if isinstance(exc, MissingConfigException):
        return explain_missing(exc)
    if isinstance(exc, OverrideParseException):
        return exc.override, first_line(exc.message), f"write key=value; forecast {command} --help lists the keys"
    if isinstance(exc, ConfigCompositionException):
        if isinstance(exc.__cause__, OmegaConfBaseException):
            return explain_omegaconf(exc.__cause__, fix, keys, command)
        return "override", first_line(exc), f"forecast {command} --help lists the keys"
    if isinstance(exc, OmegaConfBaseException):
        return explain_omegaconf(exc, fix, keys, command)
    if isinstance(exc, ContractError):
        return exc.source, str(exc).removeprefix(f"{exc.source}: "), "correct the input (README: Data contracts)"
    if isinstance(exc, FileNotFoundError):
        if exc.filename:
            return str(exc.filename), "no such file or folder", "check the path"
        where, sep, problem = str(exc).partition(": ")
        return (where, problem, "check the path") if sep else ("input", str(exc), "check the path")
    if isinstance(exc, ValueError) and isinstance(getattr(exc, "key", None), str):
        return explain_value(exc, fix)
    return None
