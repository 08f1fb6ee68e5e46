"""GPU power model calibrated on measured power, and occupancy → facility power.

Per GPU, hourly mean board power as a function of hourly mean utilisation u ∈ [0, 1]:

    power_w(u) = P_idle + (P_max − P_idle) · g(u),
    g(0) = 0,  g(u) = b + (1 − b) · u^γ  for u > 0,

``b`` (busy floor) is the jump seen as soon as a job holds the GPU (memory
resident, clocks up) even at near-zero utilisation; γ the curvature.

Calibration data (``../shared/data/gpu_power``, see SOURCES.md):

- Cornell BioHPC hourly per-GPU power vs utilisation (cbsugpu07: 1×A100 80GB;
  cbsugpu08: 2×H100, values averaged over the GPUs): the curve shape and
  levels are fitted by least squares (:func:`fit_power_curve`), with R² and
  MAE in W reported. The H100 power ceiling in that file (~350 W) says it is
  the 350 W PCIe part; :meth:`PowerCurve.scaled` carries the fitted curve to
  another TDP in proportion (an assumption, not a measurement).
- AcmeTrace A100 board-power CDFs of an LLM cluster (Kalos, Seren): the A100
  curve's levels are matched to quantiles of that distribution
  (:func:`match_quantiles`): P_idle = the 10th percentile (the idle mode),
  P_max = the 90th percentile (the upper, training mode), shape kept from the fit.

Measured: hourly board power and utilisation (Cornell), board-power
distributions (AcmeTrace). Modelled: the curve g, its transfer to other TDPs,
host/cooling overheads (PUE) and the mapping from occupancy to utilisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from forecast.data.trace_io import ReadReport
from forecast.data.gpus import gpu_spec
from forecast.errors import ContractError

CORNELL_TZ = "America/New_York"
"""Cornell timestamps are naive local wall-clock times (the footer's completion time is written at -04:00)."""

CORNELL_COLUMNS = ["name", "timestamp", "powerave", "powermin", "powermax", "utilave", "utilmin", "utilmax"]


@dataclass(frozen=True)
class PowerCurve:
    """Per-GPU hourly power (W) as a function of utilisation u ∈ [0, 1]; invariant P_idle ≤ P_max."""

    gpu_type: str
    tdp_w: float
    p_idle_w: float
    p_max_w: float
    gamma: float = 1.0
    busy_floor: float = 0.0
    source: str = ""

    def __post_init__(self):
        if not 0 <= self.p_idle_w <= self.p_max_w:
            raise ValueError(f"need 0 ≤ p_idle_w ≤ p_max_w, got {self.p_idle_w}, {self.p_max_w}")
        if not self.gamma > 0 or not 0 <= self.busy_floor < 1:
            raise ValueError(f"need gamma > 0 and busy_floor in [0, 1), got {self.gamma}, {self.busy_floor}")

    def g(self, u) -> np.ndarray:
        """Shape g(u): 0 at u = 0, busy_floor just above 0, 1 at u = 1 (u clipped to [0, 1])."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        return np.where(u > 0, self.busy_floor + (1.0 - self.busy_floor) * np.power(u, self.gamma), 0.0)

    def power_w(self, u) -> np.ndarray:
        """Hourly mean board power per GPU (W) at utilisation ``u`` (fraction, not percent)."""
        return self.p_idle_w + (self.p_max_w - self.p_idle_w) * self.g(u)

    def scaled(self, tdp_w: float, gpu_type: str | None = None) -> "PowerCurve":
        """The same curve with power levels scaled by tdp_w / self.tdp_w (shape unchanged)."""
        k = tdp_w / self.tdp_w
        return replace(self, tdp_w=tdp_w, p_idle_w=self.p_idle_w * k, p_max_w=self.p_max_w * k,
                       gpu_type=gpu_type or self.gpu_type, source=f"{self.source}, scaled to {tdp_w:g} W TDP")

    @property
    def idle_frac(self) -> float:
        return self.p_idle_w / self.tdp_w

    @property
    def max_frac(self) -> float:
        return self.p_max_w / self.tdp_w


@dataclass(frozen=True)
class PowerFit:
    """A fitted curve with its fit quality on the data it was fitted to."""

    curve: PowerCurve
    r2: float
    mae_w: float
    n: int


# ---------------------------------------------------------------------------- readers
def _cornell_table(src: str) -> tuple[list[str], list[list[str]], int | None]:
    """Header, tab-split data rows and the footer's declared row count (None without one) of a Cornell export.

    Skips the byte-order mark, blank lines, the ``(N rows affected)`` line and the ``Completion time:``
    footer; data after the footer or a row with the wrong field count is an error.
    """
    lines = Path(src).read_text(encoding="utf-8-sig").splitlines()
    if not lines:
        raise ContractError(src, None, "empty file")
    header = lines[0].split("\t")
    missing = [c for c in CORNELL_COLUMNS if c not in header]
    if missing:
        raise ContractError(src, ", ".join(missing), f"missing; found columns {header}")
    body, declared, footer_seen = [], None, False
    for i, line in enumerate(lines[1:]):
        s = line.strip()
        if not s:
            continue
        if s.startswith("(") and "rows affected" in s:
            declared = int(s.strip("()").split()[0])
            continue
        if s.startswith("Completion time:"):
            footer_seen = True
            continue
        if footer_seen:
            raise ContractError(src, None, "data after the 'Completion time:' footer", [i])
        body.append(line.split("\t"))
    bad = [i for i, r in enumerate(body) if len(r) != len(header)]
    if bad:
        raise ContractError(src, None, f"rows with {len(header)} tab-separated fields expected", bad)
    return header, body, declared


def _cornell_numbers(df: pd.DataFrame, src: str) -> None:
    """Power (W) and utilisation (%) columns as numbers, in place; power ≥ 0 and utilisation in 0–100."""
    for c in CORNELL_COLUMNS[2:]:
        v = pd.to_numeric(df[c], errors="coerce")
        nan = v.isna()
        if nan.any():
            raise ContractError(src, c, f"not a number ({int(nan.sum())} rows)", df.loc[nan, [c]])
        df[c] = v
    neg = df["powerave"] < 0
    if neg.any():
        raise ContractError(src, "powerave", f"negative power ({int(neg.sum())} rows)", df.loc[neg, ["powerave"]])
    out_of = (df["utilave"] < 0) | (df["utilave"] > 100)
    if out_of.any():
        raise ContractError(src, "utilave", "utilisation outside 0–100 %", df.loc[out_of, ["utilave"]])


def _cornell_times(df: pd.DataFrame, src: str, tz: str) -> pd.DataFrame:
    """Sorted oldest first with ``local`` (naive) and ``ts`` (UTC; a repeated fall-back hour read as the first,
    daylight-time one; a spring-forward gap shifted forward); duplicated timestamps are an error."""
    t = pd.to_datetime(df["timestamp"].str.strip(), errors="coerce", format="ISO8601")
    if t.isna().any():
        raise ContractError(src, "timestamp", "unparseable timestamps", df.loc[t.isna(), ["timestamp"]])
    df = df.assign(local=t).sort_values("local", kind="stable").reset_index(drop=True)
    dup = df["local"].duplicated(keep=False)
    if dup.any():
        raise ContractError(src, "timestamp", f"duplicated timestamps ({int(dup.sum())} rows)", df.loc[dup, ["timestamp"]])
    df["ts"] = df["local"].dt.tz_localize(tz, ambiguous=np.ones(len(df), dtype=bool),
                                          nonexistent="shift_forward").dt.tz_convert("UTC")
    return df


def read_cornell_usage(path: str | os.PathLike, tz: str = CORNELL_TZ) -> tuple[pd.DataFrame, ReadReport]:
    """Read a Cornell BioHPC ``*_usage_stats.txt`` export.

    Format quirks handled: UTF-8 byte-order mark, tab separation, newest row
    first, a ``(N rows affected)`` line, blank lines and a ``Completion time:``
    footer. The footer row count is checked against the rows read. Returns rows
    sorted oldest first with ``ts`` (UTC; local times localised to ``tz``, a
    repeated fall-back hour taken as the first, daylight-time one), power in W
    (``powerave``, ``powermin``, ``powermax``) and utilisation in percent.
    Missing hours stay missing (reported), never filled.
    """
    src = str(path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src}: no such file")
    header, body, declared = _cornell_table(src)
    df = pd.DataFrame(body, columns=header)
    if declared is not None and declared != len(df):
        raise ContractError(src, None, f"footer says {declared} rows but {len(df)} were read")
    rep = ReadReport(src, len(df))
    _cornell_numbers(df, src)
    df = _cornell_times(df, src, tz)
    gaps = int((df["local"].diff() > pd.Timedelta(hours=1)).sum())
    if gaps:
        rep.flagged["gaps_in_hourly_index"] = gaps
    out = df[["name", "ts", "powerave", "powermin", "powermax", "utilave", "utilmin", "utilmax"]]
    rep.n_rows_out = len(out)
    return out, rep


def read_power_cdf(path: str | os.PathLike) -> pd.DataFrame:
    """Read an AcmeTrace power CDF (``cdf_percent`` + one W column per cluster); returns ``cdf`` ∈ [0, 1] + columns.

    Checks that the CDF is non-decreasing in both the probability and every power column.
    """
    src = str(path)
    df = pd.read_csv(src)
    if "cdf_percent" not in df.columns or df.shape[1] < 2:
        raise ContractError(src, "cdf_percent", f"expected cdf_percent and power columns; found {list(df.columns)}")
    for c in df.columns:
        d = np.diff(df[c].to_numpy(dtype=float))
        if (d < 0).any():
            raise ContractError(src, c, "CDF not non-decreasing", list(np.flatnonzero(d < 0) + 1))
    df = df.rename(columns={"cdf_percent": "cdf"})
    df["cdf"] = df["cdf"] / 100.0
    return df


def cdf_quantile(cdf: pd.DataFrame, column: str, q: float) -> float:
    """Quantile q ∈ [0, 1] of a column of :func:`read_power_cdf` output (linear interpolation)."""
    return float(np.interp(q, cdf["cdf"].to_numpy(), cdf[column].to_numpy()))


# ---------------------------------------------------------------------------- calibration
def fit_power_curve(util_pct, power_w, gpu_type: str, tdp_w: float, source: str = "") -> PowerFit:
    """Least-squares fit of (P_idle, P_max, γ, busy floor) to hourly mean utilisation (%) and power (W)."""
    u = np.asarray(util_pct, dtype=np.float64) / 100.0
    p = np.asarray(power_w, dtype=np.float64)
    if u.shape != p.shape or u.size < 10:
        raise ValueError(f"need ≥ 10 paired points of equal shape, got {u.shape} and {p.shape}")

    def f(x, pi, pm, gam, b):
        return pi + (pm - pi) * np.where(x > 0, b + (1 - b) * np.power(x, gam), 0.0)

    idle0 = float(np.median(p[u == 0])) if (u == 0).any() else float(p.min())
    p0 = [idle0, float(np.percentile(p, 99)), 1.0, 0.1]
    popt, _ = curve_fit(f, u, p, p0=p0, bounds=([0, 0, 0.05, 0], [2 * tdp_w, 2 * tdp_w, 5, 0.95]), maxfev=20000)
    pi, pm, gam, b = (float(v) for v in popt)
    if pm < pi:
        raise ValueError(f"{source}: fitted P_max {pm:.1f} W below P_idle {pi:.1f} W; the data has no utilisation signal")
    curve = PowerCurve(gpu_type, tdp_w, pi, pm, gam, b, source)
    r = p - curve.power_w(u)
    return PowerFit(curve, float(1 - np.sum(r ** 2) / np.sum((p - p.mean()) ** 2)), float(np.mean(np.abs(r))), int(u.size))


def match_quantiles(curve: PowerCurve, cdf: pd.DataFrame, column: str, q_idle: float = 0.10,
                    q_max: float = 0.90) -> PowerCurve:
    """Set P_idle and P_max to quantiles of a measured power distribution, keeping the curve's shape."""
    pi, pm = cdf_quantile(cdf, column, q_idle), cdf_quantile(cdf, column, q_max)
    return replace(curve, p_idle_w=pi, p_max_w=pm,
                   source=f"{curve.source}; levels = q{q_idle * 100:g}/q{q_max * 100:g} of {column}")


@dataclass(frozen=True)
class Calibration:
    """Calibrated curves by GPU type plus the Cornell fits they came from."""

    curves: dict[str, PowerCurve]
    fits: dict[str, PowerFit]
    notes: tuple[str, ...] = ()


def calibrate(data_dir: str | os.PathLike, acme_column: str = "gpu_power_W_kalos") -> Calibration:
    """Calibrate A100 and H100 curves from ``data_dir`` (the shared ``gpu_power`` folder).

    - ``fits['A100_cornell']``, ``fits['H100_PCIe_cornell']``: least-squares fits.
    - ``curves['A100']``: Cornell A100 shape, levels matched to AcmeTrace ``acme_column``
      (TDP 400 W, SXM).
    - ``curves['H100']``: Cornell H100 PCIe fit (350 W TDP) scaled to the H100
      SXM TDP in forecast.data.gpus (700 W) — an assumption.
    """
    d = Path(data_dir)
    a100, _ = read_cornell_usage(d / "cbsugpu07_usage_stats.txt")
    h100, _ = read_cornell_usage(d / "cbsugpu08_usage_stats.txt")
    fa = fit_power_curve(a100["utilave"], a100["powerave"], "A100", gpu_spec("A100").tdp_w, "Cornell cbsugpu07 (A100 80GB)")
    fh = fit_power_curve(h100["utilave"], h100["powerave"], "H100", 350.0, "Cornell cbsugpu08 (H100 PCIe 350 W)")
    cdf = read_power_cdf(d / "gpu_power_cdf.csv")
    a = match_quantiles(fa.curve, cdf, acme_column)
    h = fh.curve.scaled(gpu_spec("H100").tdp_w, "H100")
    return Calibration({"A100": a, "H100": h}, {"A100_cornell": fa, "H100_PCIe_cornell": fh},
                       ("H100 SXM curve scales the PCIe fit by TDP; not measured on SXM",))


def compare_with_defaults(curves: dict[str, PowerCurve]) -> pd.DataFrame:
    """Table: calibrated idle / max power vs the defaults in forecast.data.gpus (idle 10 %, training 76 % of TDP)."""
    rows = []
    for name, c in curves.items():
        spec = gpu_spec(c.gpu_type)
        rows.append({"gpu_type": name, "tdp_w": c.tdp_w,
                     "idle_w_calibrated": c.p_idle_w, "idle_w_default": spec.idle_frac * c.tdp_w,
                     "max_w_calibrated": c.p_max_w, "train_w_default": spec.train_frac * c.tdp_w,
                     "idle_frac": c.idle_frac, "max_frac": c.max_frac, "source": c.source})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- occupancy → power
def facility_power_mw(occupancy, n_gpus, curve: PowerCurve, pue=1.2, utilisation=1.0,
                      base_mw=0.0) -> np.ndarray:
    """Facility power (MW) from hourly occupancy.

    P = PUE · n_gpus · [occ · power_w(u_busy) + (1 − occ) · P_idle] / 1e6 + base_mw.

    ``occupancy`` ∈ [0, 1] (share of GPUs held by jobs), ``utilisation`` the
    mean utilisation of held GPUs (fraction; scalar or per hour), ``n_gpus`` the
    installed GPUs (scalar or per hour), ``pue`` ≥ 1 (scalar or per hour). All
    broadcast together. NaN occupancy gives NaN power (a missing reading is never zero).
    """
    occ = np.asarray(occupancy, dtype=np.float64)
    ok = np.isnan(occ) | ((occ >= 0) & (occ <= 1))
    if not ok.all():
        raise ValueError(f"occupancy outside [0, 1] at positions {np.flatnonzero(~ok)[:5].tolist()}")
    pue = np.asarray(pue, dtype=np.float64)
    if (pue < 1).any():
        raise ValueError(f"PUE must be ≥ 1, got min {pue.min()}")
    n = np.asarray(n_gpus, dtype=np.float64)
    if (n < 0).any():
        raise ValueError("n_gpus must be ≥ 0")
    per_gpu = occ * curve.power_w(utilisation) + (1.0 - occ) * curve.p_idle_w  # W
    return pue * n * per_gpu / 1e6 + base_mw
