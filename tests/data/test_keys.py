"""Text keys as positions: the categorical path equals the plain one, missing and unknown values are -1."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.data.keys import positions


def test_positions_of_plain_and_categorical_columns_agree_unknown_and_missing_are_minus_one():
    values = pd.Series(["b", "a", "zz", None, "b"], dtype=object)
    among = ["a", "b", "c"]
    plain = positions(values, among)
    assert plain.tolist() == [1, 0, -1, -1, 1]
    cat = positions(values.astype("category"), among)
    assert cat.dtype == np.int64 and cat.tolist() == plain.tolist()
    assert positions(pd.Series([], dtype="category"), among).tolist() == []
