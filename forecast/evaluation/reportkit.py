"""The report kit every HTML report is built with: one page layout and stylesheet, tables from DataFrames
(units in the headers, per-column number formats, HTML-escaped), PNGs from matplotlib figures (embedded as
base64 data URIs and, where wanted, saved beside the page) and the one money formatter.

    page = Page("Backtest", lead="What was run and how.")
    page.section("Metrics", table(df, units={"mae": "MW"}, formats={"mae": fixed(3)}))
    page.section("Error by horizon", embed_figure(fig, "MAE by horizon", save_to=folder / "mae.png"))
    page.write(folder / "report.html")          # atomic

Pages are self-contained: no scripts, fonts or links to other hosts.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from forecast.io import atomic_write, atomic_write_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MISSING = "—"
CENT = Decimal("0.01")

STYLESHEET = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1360px;margin:1.5em auto;"
    "padding:0 16px;color:#222;line-height:1.45}"
    "h1{font-size:1.6em;margin-bottom:.3em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}"
    "h3{font-size:1.05em;margin-top:1.2em}p.lead{font-size:1.05em;color:#333}"
    ".tw{overflow-x:auto;margin:.6em 0 1.2em}"
    "table.t{border-collapse:collapse;font-size:13px}"
    "table.t th,table.t td{border-bottom:1px solid #ddd;padding:3px 8px;vertical-align:top;text-align:left}"
    "table.t th{background:#f4f4f4;border-bottom:2px solid #bbb}"
    "table.t .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "table.t td.txt{overflow-wrap:break-word}"
    "table.t td.long{overflow-wrap:anywhere;min-width:16em}"
    "table.t tr.below td{color:#444;font-size:12px;border-bottom:1px solid #ccc;padding-left:2em}"
    "table.t tr:has(+ tr.below) td{border-bottom:none}span.bl{color:#777}"
    "img{max-width:100%;height:auto;display:block;margin:.5em 0}"
    "pre{background:#f6f6f6;padding:1em;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}"
    "code{overflow-wrap:anywhere}"
)

Format = Callable[[object], str]


# ----------------------------------------------------------------------------- money and number formats
def format_money(x: Decimal | float | int) -> str:
    """USD to the cent, '$34,782,000.00'; negative amounts with a leading minus, '-$1,234.50'.

    Rounded half-even to the cent (the ledger's rule); a float is taken at its exact binary value first.
    """
    if isinstance(x, Decimal):
        d = x
    elif isinstance(x, numbers.Integral):
        d = Decimal(int(x))
    else:
        f = float(x)
        if not math.isfinite(f):
            raise ValueError(f"money amount must be finite, got {x!r}")
        d = Decimal(f)
    if not d.is_finite():
        raise ValueError(f"money amount must be finite, got {x!r}")
    d = d.quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


def fixed(decimals: int = 2, thousands: bool = True) -> Format:
    """Fixed decimals, with thousands separators unless ``thousands=False``: fixed(1)(12345.67) == '12,345.7'."""
    spec = f"{',' if thousands else ''}.{int(decimals)}f"
    return lambda v: format(v, spec)


def integer(thousands: bool = True) -> Format:
    """Whole numbers: integer()(1234567) == '1,234,567'."""
    return fixed(0, thousands)


def percent(decimals: int = 1) -> Format:
    """A fraction as a percentage: percent(1)(0.8123) == '81.2%'."""
    return lambda v: f"{float(v) * 100:.{int(decimals)}f}%"


def general(significant: int = 4) -> Format:
    """Significant digits, general notation: general(4)(0.0123456) == '0.01235'."""
    return lambda v: format(v, f".{int(significant)}g")


def grouped(v) -> str:
    """Thousands separators, every digit kept (for exact decimals): grouped(Decimal("632400.000")) == '632,400.000'."""
    return format(v, ",")


def money(v) -> str:
    """Column format for USD amounts (see :func:`format_money`)."""
    return format_money(v)


def text(v) -> str:
    return str(v)


# ----------------------------------------------------------------------------- tables
def _is_missing(v) -> bool:
    import pandas as pd

    if v is None:
        return True
    try:
        return bool(pd.api.types.is_scalar(v) and pd.isna(v))
    except (TypeError, ValueError):
        return False


def _is_number(v) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


def _default_format(v) -> str:
    if isinstance(v, float) or (_is_number(v) and not isinstance(v, (numbers.Integral, Decimal))):
        return general()(v)
    return str(v)


def header_label(name: str, label: str | None = None, unit: str | None = None) -> str:
    """'MAE (MW)': the column's label (or name) and its unit in parentheses when it has one."""
    base = label if label is not None else str(name)
    return f"{base} ({unit})" if unit else base


def _cell(v, fmt: Format | None, col_class: str, strong: bool) -> str:
    if _is_missing(v):
        txt, cls = MISSING, col_class
    else:
        txt = fmt(v) if fmt is not None else _default_format(v)
        cls = "num" if _is_number(v) else col_class
    body = html.escape(txt)
    return f"<td class='{cls}'>{'<b>' + body + '</b>' if strong else body}</td>"


def _best_rows(df, cols: Iterable[str]) -> dict[str, set[int]]:
    """Row positions holding the lowest finite value of each column (only where there is something to compare)."""
    out: dict[str, set[int]] = {}
    for c in cols:
        vals = [(i, float(v)) for i, v in enumerate(df[c].tolist()) if _is_number(v) and math.isfinite(float(v))]
        if len(vals) > 1:
            lo = min(v for _, v in vals)
            out[c] = {i for i, v in vals if v == lo}
    return out


def table(df, *, units: Mapping[str, str] | None = None, formats: Mapping[str, Format] | None = None,
          labels: Mapping[str, str] | None = None, long: Iterable[str] = (), best_min: Iterable[str] = (),
          index: bool = False, below: str | None = None) -> str:
    """An HTML table of a DataFrame, every header and cell HTML-escaped.

    units: column -> unit shown in the header ("MAE (MW)"); formats: column -> value formatter
    (:func:`fixed`, :func:`integer`, :func:`percent`, :func:`money`, :func:`general` or any callable);
    labels: column -> header text; long: text columns that may break anywhere (formulas, ids);
    best_min: columns whose lowest finite value is set in bold; below: a text column (a formula) shown as a
    full-width row under each row instead of a column, so wide tables fit the page. Numbers are right-aligned with
    tabular figures, missing values show as an em dash; without a format, floats get 4 significant digits.
    """
    units, formats, labels = dict(units or {}), dict(formats or {}), dict(labels or {})
    if index:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]
    df = df.set_axis(cols, axis=1)
    under = df[below].tolist() if below is not None else None
    if below is not None:
        df, cols = df.drop(columns=[below]), [c for c in cols if c != below]
    long = set(long)
    best = _best_rows(df, [c for c in best_min if c in cols])
    numeric = {c: any(_is_number(v) for v in df[c].tolist()) for c in cols}
    head = "".join(f"<th class='{'num' if numeric[c] else 'txt'}'>"
                   f"{html.escape(header_label(c, labels.get(c), units.get(c)))}</th>" for c in cols)
    body = []
    for i, row in enumerate(zip(*(df[c].tolist() for c in cols))):
        cells = [_cell(v, formats.get(c), "txt long" if c in long else ("num" if numeric[c] else "txt"),
                       i in best.get(c, ()))
                 for c, v in zip(cols, row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
        if under is not None:
            label = html.escape(labels.get(below, below))
            body.append(f"<tr class='below'><td class='txt long' colspan='{len(cols)}'><span class='bl'>{label}:</span> "
                        f"{html.escape(str(under[i]))}</td></tr>")
    return (f"<div class='tw'><table class='t'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


# ----------------------------------------------------------------------------- images
def figure_png(fig, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    """'data:image/png;base64,…' for PNG bytes (refuses anything that is not a PNG)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (missing the PNG signature)")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def embed_png(png: bytes | str | Path, alt: str) -> str:
    """An <img> with the PNG (bytes, or a PNG file's path) embedded as a data URI."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    return f"<img alt='{html.escape(alt, quote=True)}' src='{png_data_uri(data)}'>"


def save_png(png: bytes, path: str | Path) -> Path:
    """Write PNG bytes to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Render a figure, close it and write it to ``path`` as a PNG (atomic)."""
    return save_png(figure_png(fig, dpi), path)


def embed_figure(fig, alt: str, save_to: str | Path | None = None, dpi: int = 110) -> str:
    """Render a figure once: an <img> embedding it, and (``save_to``) the same PNG written beside the page."""
    png = figure_png(fig, dpi)
    if save_to is not None:
        save_png(png, save_to)
    return embed_png(png, alt)


# ----------------------------------------------------------------------------- page
def paragraph(txt: str) -> str:
    return f"<p>{html.escape(txt)}</p>"


def preformatted(txt: str) -> str:
    return f"<pre>{html.escape(txt)}</pre>"


def code(txt: str) -> str:
    return f"<code>{html.escape(txt)}</code>"


@dataclass
class Section:
    heading: str
    parts: list[str] = field(default_factory=list)  # HTML fragments, already escaped
    level: int = 2

    def html(self) -> str:
        lv = min(max(int(self.level), 2), 6)
        return f"<section><h{lv}>{html.escape(self.heading)}</h{lv}>\n" + "\n".join(self.parts) + "\n</section>"


@dataclass
class Page:
    """A report page: title, lead paragraph(s) (plain text), sections; one shared stylesheet."""

    title: str
    lead: str | Sequence[str] = ()
    sections: list[Section] = field(default_factory=list)

    def section(self, heading: str, *parts: str, level: int = 2) -> Section:
        """Append a section (heading + HTML fragments) and return it (more parts may be appended to it)."""
        s = Section(heading, [p for p in parts if p], level)
        self.sections.append(s)
        return s

    def html(self) -> str:
        lead = [self.lead] if isinstance(self.lead, str) else list(self.lead)
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        body += [f"<p class='lead'>{html.escape(x)}</p>" for x in lead if x]
        body += [s.html() for s in self.sections]
        return ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>{html.escape(self.title)}</title><style>{STYLESHEET}</style></head>\n<body>\n"
                + "\n".join(body) + "\n</body></html>\n")

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` atomically (readers never see half a page) and return the path."""
        return atomic_write_text(path, self.html())


__all__ = ["Page", "Section", "table", "header_label", "fixed", "integer", "percent", "general", "grouped", "money",
           "text", "format_money", "figure_png", "png_data_uri", "embed_png", "embed_figure", "save_png", "save_figure",
           "paragraph", "preformatted", "code", "STYLESHEET", "PNG_SIGNATURE"]
