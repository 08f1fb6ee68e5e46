"""One error type for bad input: it names the file, the column and the first bad rows."""

from __future__ import annotations

from collections.abc import Sequence

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
