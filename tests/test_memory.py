"""forecast.memory: freed memory kept in the process for reuse (glibc settings, arrow on the same allocator)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings: Linux only")
def test_keep_freed_memory_applies_once_and_puts_arrow_on_the_system_allocator():
    code = ("import pyarrow as pa; from forecast.memory import keep_freed_memory as k; "
            "before = pa.default_memory_pool().backend_name; a = k(); b = k(); "
            "print(before, a, b, pa.default_memory_pool().backend_name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["True", "True", "system"]
