"""Append-only, versioned ledgers on disk: forecast, settled and true-up books kept apart.

Layout: ``<root>/<kind>/<month>/v0001/{lines.csv, hourly.csv, manifest.json}``.
The ``billed`` book records which forecast version went on the bill (one record per billing, with the
approver and time). A version is written into a temporary folder beside it and renamed into place in
one step, so a reader never sees a half-written version. Writers of one month hold an exclusive
``fcntl.flock`` on ``<kind>/<month>/.lock`` while they read the existing versions, check the rules and
rename, so two processes never take the same number, and ``os.rename`` onto an existing (non-empty)
version fails rather than overwrite it. Rules (:class:`LedgerError` otherwise): a version identical to
an existing one (same lines and hourly trace, ``content_sha256``) is refused; a restatement (a new version
of a month that already has one) of the forecast, settled or billed book needs a reason; a ledger holds
one pledge (the manifests' ``pledge``). Money columns are decimal strings, read back as Decimal.
"""

from __future__ import annotations

import fcntl
import hashlib
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

KINDS = ("forecast", "settled", "trueup", "billed")
RESTATED = ("forecast", "settled", "billed")  # books where a new version of a month needs a reason
_V = re.compile(r"^v(\d{4,})$")
MONEY_COLS = ("amount_usd", "p10_usd", "p50_usd", "p90_usd", "forecast_usd", "settled_usd", "difference_usd",
              "interest_usd", "trueup_usd")


class LedgerError(ValueError):
    """A version the ledger refuses; ``key`` is the override that fixes it (``example`` its value)."""

    def __init__(self, key: str, problem: str, example: str):
        self.key, self.problem, self.example = key, problem, example
        super().__init__(f"{key}: {problem}; fix: {key}={example}")


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
        """Write the next version of ``month`` atomically under the month's lock; earlier versions are left
        untouched. Refuses (LedgerError) an identical duplicate, a restatement without ``manifest['reason']``
        and a version of another pledge than the ledger's."""
        d = self._dir(month)
        d.mkdir(parents=True, exist_ok=True)
        digest = content_sha256(lines, hourly)
        with open(d / ".lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
            prev = self._check(month, digest, manifest)
            number = (prev.number if prev else 0) + 1
            meta = {"ledger": self.kind, "month": month, "version": number,
                    "supersedes": prev.label if prev else None, "content_sha256": digest,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **manifest}
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=d))
            try:
                _write(tmp, lines.assign(ledger=self.kind, version=number), meta, hourly)
                shared_mode(tmp)
                os.rename(tmp, d / f"v{number:04d}")  # fails on an existing version: never overwrites
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return Version(self.kind, month, number, d / f"v{number:04d}")

    def _check(self, month: str, digest: str, manifest: dict) -> Version | None:
        """The rules of :meth:`append`; returns the latest version (None for the first)."""
        versions = self.versions(month)
        for v in versions:
            m = v.manifest()
            if manifest.get("pledge") and m.get("pledge") and m["pledge"] != manifest["pledge"]:
                raise LedgerError("out_dir", f"the {self.kind} ledger {self.root} holds pledge {m['pledge']!r} "
                                  f"({v.label} of {month}), not {manifest['pledge']!r}", "<a folder of its own>")
            if m.get("content_sha256") == digest:
                raise LedgerError("reason", f"{self.kind} {month}: identical to {v.label} (same lines and hourly "
                                  "trace); nothing to restate", "<change an input, or keep " + v.label + ">")
        if versions and self.kind in RESTATED and not str(manifest.get("reason") or "").strip():
            raise LedgerError("reason", f"{self.kind} {month} already has {versions[-1].label}; a restatement "
                              "needs a reason", "'<why this version replaces " + versions[-1].label + ">'")
        return versions[-1] if versions else None


def content_sha256(lines: pd.DataFrame, hourly: pd.DataFrame | None) -> str:
    """sha256 of a version's content: its lines (without the ledger/version columns) and hourly trace."""
    h = hashlib.sha256(lines.drop(columns=["ledger", "version"], errors="ignore").to_csv(index=False).encode())
    if hourly is not None:
        h.update(hourly.to_csv(index=False, float_format="%.17g").encode())
    return h.hexdigest()


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
