"""Append-only, versioned ledgers on disk: forecast, settled and true-up books kept apart.

Layout: ``<root>/<kind>/<month>/v0001/{lines.csv, hourly.csv, manifest.json}``.
A version is written into a temporary folder beside it and renamed into place
in one step (``os.rename`` of a folder onto a new name is atomic and fails if
the name exists), so a reader never sees a half-written version and an existing
version is never overwritten. A restatement is simply the next version; the
manifest says which version it supersedes and why. Money columns are decimal
strings, read back as :class:`decimal.Decimal`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd

import forecast
from forecast.io import shared_mode

KINDS = ("forecast", "settled", "trueup")
_V = re.compile(r"^v(\d{4,})$")
MONEY_COLS = ("amount_usd", "p10_usd", "p50_usd", "p90_usd", "forecast_usd", "settled_usd", "difference_usd",
              "interest_usd", "trueup_usd")


@dataclass(frozen=True)
class Version:
    kind: str
    month: str
    number: int
    path: Path

    @property
    def label(self) -> str:
        return f"v{self.number:04d}"

    def lines(self) -> pd.DataFrame:
        """Line items with money as Decimal."""
        df = pd.read_csv(self.path / "lines.csv", dtype=str, keep_default_na=False)
        for c in MONEY_COLS:
            if c in df.columns:
                df[c] = [Decimal(x) if x != "" else None for x in df[c]]
        return df

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())


class Ledger:
    """One book (``kind``) under ``root``; versions per local month."""

    def __init__(self, root: str | os.PathLike, kind: str):
        if kind not in KINDS:
            raise ValueError(f"ledger kind must be one of {KINDS}, got {kind!r}")
        self.root = Path(root)
        self.kind = kind

    def _dir(self, month: str) -> Path:
        return self.root / self.kind / month

    def versions(self, month: str) -> list[Version]:
        d = self._dir(month)
        if not d.is_dir():
            return []
        out = []
        for p in d.iterdir():
            m = _V.match(p.name)
            if m and p.is_dir():
                out.append(Version(self.kind, month, int(m.group(1)), p))
        return sorted(out, key=lambda v: v.number)

    def latest(self, month: str) -> Version | None:
        v = self.versions(month)
        return v[-1] if v else None

    def months(self) -> list[str]:
        d = self.root / self.kind
        return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []

    def append(self, month: str, lines: pd.DataFrame, manifest: dict, hourly: pd.DataFrame | None = None) -> Version:
        """Write the next version of ``month`` atomically; earlier versions are left untouched."""
        d = self._dir(month)
        d.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=d))
        try:
            for attempt in range(1000):
                prev = self.latest(month)
                number = (prev.number if prev else 0) + 1
                meta = {"ledger": self.kind, "month": month, "version": number,
                        "supersedes": prev.label if prev else None,
                        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **manifest}
                _write(tmp, lines.assign(ledger=self.kind, version=number), meta, hourly)
                shared_mode(tmp)
                try:
                    os.rename(tmp, d / f"v{number:04d}")
                    return Version(self.kind, month, number, d / f"v{number:04d}")
                except OSError:  # another writer took this number: try the next one
                    if not (d / f"v{number:04d}").exists():
                        raise
            raise RuntimeError(f"could not allocate a version under {d}")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _write(folder: Path, lines: pd.DataFrame, meta: dict, hourly: pd.DataFrame | None) -> None:
    cols = ["ledger", "version"] + [c for c in lines.columns if c not in ("ledger", "version")]
    lines[cols].to_csv(folder / "lines.csv", index=False)
    if hourly is not None:
        hourly.to_csv(folder / "hourly.csv", index=False, float_format="%.17g")
    (folder / "manifest.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def code_version() -> dict:
    """forecast.__version__ and the git commit (with '-dirty' when tracked files differ), if known."""
    try:
        from forecast.tracking import git_commit
        commit = git_commit()
    except ImportError:
        commit = "unknown"
    return {"forecast_version": forecast.__version__, "git_commit": commit}
