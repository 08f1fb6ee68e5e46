"""Text keys (site ids, zones, GPU types) as integer positions, hashed in pyarrow: no Python object per row."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def positions(values: pd.Series, among: Sequence[str] | pa.Array) -> np.ndarray:
    """(n,) int64 position of each value in ``among`` (-1: not there or missing). A categorical column is looked
    up once per category, its rows by their codes."""
    among = among if isinstance(among, pa.Array) else pa.array(list(among), pa.string())
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        per_cat = _lookup(pd.Series(cats.astype(str), dtype=object), among) if len(cats) else np.zeros(0, np.int64)
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, np.append(per_cat, -1)[codes], -1)
    return _lookup(values, among)


def _lookup(values: pd.Series, among: pa.Array) -> np.ndarray:
    found = pc.index_in(pa.array(values.astype(str), pa.string()), value_set=among)
    return found.fill_null(-1).to_numpy().astype(np.int64)
