"""Atomic file writes: readers never see a half-written file, and a failed write leaves the old one.

Temporary files and folders are created private (mode 0600 / 0700); before they are renamed into place they
get the modes an ordinary ``open`` / ``mkdir`` would give under the process umask (0644 / 0755 under 0022), so a
teammate in the group can read the outputs."""

from __future__ import annotations

import contextlib
import filecmp
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def umask() -> int:
    """The process umask (read by setting and restoring it)."""
    m = os.umask(0o022)
    os.umask(m)
    return m


def shared_mode(path: str | os.PathLike) -> None:
    """Give a file (0666) or folder (0777) the permissions the umask allows, as open/mkdir would have."""
    base = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, base & ~umask())


@contextlib.contextmanager
def _staged(path: Path, write: Callable[[str], object]) -> Iterator[str]:
    """A temp file beside ``path`` holding ``write``'s bytes, fsynced and with the shared modes; removed on exit
    unless the caller renamed it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        shared_mode(tmp)
        yield tmp
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    with _staged(path, write) as tmp:
        os.replace(tmp, path)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_once(path: str | os.PathLike, write: Callable[[str], object]) -> tuple[Path, bool]:
    """Like :func:`atomic_write`, but never replaces a file: (path, True) when it was written; (path, False) when
    the file was there with the same bytes. Raises ``FileExistsError`` when it is there with other bytes."""
    path = Path(path)
    with _staged(path, write) as tmp:
        try:
            os.link(tmp, path)  # creates path only where none exists, atomically
            return path, True
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: create-if-absent, then the rename
            if not path.exists():
                os.replace(tmp, path)
                return path, True
        if filecmp.cmp(tmp, path, shallow=False):
            return path, False
        raise FileExistsError(f"{path} exists with other contents; it is never overwritten")
