"""Outputs are written atomically and are readable by the group under the process umask."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from forecast.io import atomic_write, atomic_write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_atomic_files_get_the_umask_modes_not_the_private_temp_mode(tmp_path, umask_022):
    p = atomic_write_text(tmp_path / "a" / "x.json", "{}")
    assert mode(p) == 0o644
    q = atomic_write(tmp_path / "f.parquet", lambda tmp: pd.DataFrame({"a": [1]}).to_parquet(tmp))
    assert mode(q) == 0o644
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []  # no temp file left behind


def test_a_stricter_umask_is_respected(tmp_path):
    old = os.umask(0o077)
    try:
        assert mode(atomic_write_text(tmp_path / "x.txt", "hi")) == 0o600
    finally:
        os.umask(old)


def test_a_failed_write_leaves_the_old_file(tmp_path, umask_022):
    p = atomic_write_text(tmp_path / "x.txt", "old")

    def boom(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(p, boom)
    assert p.read_text() == "old"
    assert len(list(tmp_path.iterdir())) == 1


def test_ledger_versions_are_group_readable(tmp_path, umask_022):
    from forecast.pledge.ledger import Ledger

    led = Ledger(tmp_path / "ledger", "forecast")
    v = led.append("2026-01", pd.DataFrame({"line_id": ["a"], "amount": ["1.00"]}), {"k": 1})
    assert mode(v.path) == 0o755
    assert all(mode(f) == 0o644 for f in v.path.iterdir())


def test_write_once_creates_keeps_identical_bytes_and_refuses_other_bytes(tmp_path):
    from forecast.io import write_once

    p = tmp_path / "sub" / "f.bin"
    assert write_once(p, lambda tmp: open(tmp, "wb").write(b"abc")) == (p, True)
    mtime = p.stat().st_mtime_ns
    assert write_once(p, lambda tmp: open(tmp, "wb").write(b"abc")) == (p, False)
    assert p.stat().st_mtime_ns == mtime
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_once(p, lambda tmp: open(tmp, "wb").write(b"abd"))
    assert p.read_bytes() == b"abc" and sorted(x.name for x in p.parent.iterdir()) == ["f.bin"]  # no temp left
