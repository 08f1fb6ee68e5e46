"""The report kit: tables (units, number formats, escaping), the one money formatter, embedded PNGs, pages."""

from __future__ import annotations

import base64
import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from forecast import io as fio
from forecast.evaluation import reportkit as kit
from forecast.evaluation.report import metrics_table
from forecast.pledge.money import cents, fmt_usd


def _cells(doc: str, tag: str = "td") -> list[str]:
    return re.findall(rf"<{tag} class='([^']*)'>(.*?)</{tag}>", doc)


# ----------------------------------------------------------------------------- tables
def test_table_puts_units_in_headers_and_formats_each_column():
    df = pd.DataFrame({"model": ["model", "naive"], "mae": [12.3456, 20.0], "coverage": [0.8123, 0.5],
                       "hours": [1234567, 8], "cost": [Decimal("34782000"), Decimal("-12.5")]})
    doc = kit.table(df, units={"mae": "MW"}, labels={"mae": "MAE"},
                    formats={"mae": kit.fixed(2), "coverage": kit.percent(1), "hours": kit.integer(),
                             "cost": kit.money})
    assert [h for _, h in _cells(doc, "th")] == ["model", "MAE (MW)", "coverage", "hours", "cost"]
    assert _cells(doc) == [("txt", "model"), ("num", "12.35"), ("num", "81.2%"), ("num", "1,234,567"),
                           ("num", "$34,782,000.00"),
                           ("txt", "naive"), ("num", "20.00"), ("num", "50.0%"), ("num", "8"), ("num", "-$12.50")]


def test_table_escapes_headers_and_cells_and_marks_long_and_missing_cells():
    df = pd.DataFrame({"a<b": ["x < y & z", "<script>"], "formula": ["q × p", "<i>"], "v": [1.5, np.nan]})
    doc = kit.table(df, long=("formula",))
    assert "<script>" not in doc and "<i>" not in doc
    assert [h for _, h in _cells(doc, "th")] == ["a&lt;b", "formula", "v"]
    assert _cells(doc) == [("txt", "x &lt; y &amp; z"), ("txt long", "q × p"), ("num", "1.5"),
                           ("txt", "&lt;script&gt;"), ("txt long", "&lt;i&gt;"), ("num", kit.MISSING)]


def test_number_formats():
    assert kit.fixed(1)(12345.67) == "12,345.7"
    assert kit.fixed(3, thousands=False)(12345.6789) == "12345.679"
    assert kit.integer()(1234567.4) == "1,234,567"
    assert kit.percent(0)(0.805) == "80%" and kit.percent(2)(1.0) == "100.00%"
    assert kit.general(4)(0.0123456) == "0.01235"
    assert kit.grouped(Decimal("632400.000")) == "632,400.000" and kit.grouped(1234) == "1,234"
    assert kit.header_label("mae", "MAE", "MW") == "MAE (MW)" and kit.header_label("n") == "n"


def test_metrics_table_bolds_the_lowest_error_and_shows_coverage_in_percent():
    rows = {"model": {"mae": 10.0, "coverage_p10_p90": 0.79}, "naive": {"mae": 12.5, "coverage_p10_p90": 0.5}}
    doc = metrics_table(rows, "MW")
    assert [h for _, h in _cells(doc, "th")] == ["model", "MAE (MW)", "P10–P90 coverage"]
    assert _cells(doc) == [("txt", "model"), ("num", "<b>10.000</b>"), ("num", "79.0%"),
                           ("txt", "naive"), ("num", "12.500"), ("num", "50.0%")]


# ----------------------------------------------------------------------------- money
@pytest.mark.parametrize("x, want", [
    (Decimal("34782000"), "$34,782,000.00"),
    (Decimal("5841477.37"), "$5,841,477.37"),
    (Decimal("-1234.5"), "-$1,234.50"),
    (Decimal("0.125"), "$0.12"),       # half-even: ties go to the even cent
    (Decimal("0.135"), "$0.14"),
    (Decimal("-0.125"), "-$0.12"),
    (Decimal("-0.004"), "$0.00"),      # rounds to zero: no minus sign
    (Decimal("999.995"), "$1,000.00"),
    (0, "$0.00"),
    (1234567, "$1,234,567.00"),
    (2.675, "$2.67"),                  # the float's exact binary value is 2.67499999…
])
def test_format_money(x, want):
    assert kit.format_money(x) == want


def test_pledge_money_formats_through_the_kit_and_rounds_like_the_ledger():
    for x in ("34782000", "-12.345", "0.005", "0.015", "1e6", "-0.5"):
        d = Decimal(x)
        assert fmt_usd(d) == kit.format_money(d)
        assert kit.format_money(d).lstrip("-$").replace(",", "") == str(abs(cents(d)))
    assert kit.format_money(0.1 + 0.2) == "$0.30" and fmt_usd(cents(0.1 + 0.2)) == "$0.30"


def test_format_money_refuses_non_finite_amounts():
    for x in (float("nan"), float("inf"), Decimal("NaN")):
        with pytest.raises(ValueError):
            kit.format_money(x)


# ----------------------------------------------------------------------------- images
def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    return fig


def _decoded(img: str) -> bytes:
    m = re.fullmatch(r"<img alt='([^']*)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", img)
    assert m is not None, img
    return base64.b64decode(m.group(2), validate=True)


def test_embedded_figure_is_a_png_data_uri_and_the_same_bytes_are_saved_beside_the_page(tmp_path):
    img = kit.embed_figure(_figure(), "a <chart>", save_to=tmp_path / "chart.png", dpi=50)
    png = _decoded(img)
    assert png.startswith(kit.PNG_SIGNATURE) and len(png) > 100
    assert "alt='a &lt;chart&gt;'" in img
    assert (tmp_path / "chart.png").read_bytes() == png
    assert _decoded(kit.embed_png(tmp_path / "chart.png", "from file")) == png


def test_png_data_uri_refuses_bytes_that_are_not_a_png():
    with pytest.raises(ValueError, match="PNG"):
        kit.png_data_uri(b"GIF89a....")


# ----------------------------------------------------------------------------- page
def _page() -> kit.Page:
    page = kit.Page("Costs <draft>", lead=["First & foremost.", "Second."])
    page.section("Totals", kit.table(pd.DataFrame({"x": [1.25]})))
    page.section("Detail", kit.paragraph("a < b"), level=3)
    page.section("Notes", kit.preformatted('{"k": "<v>"}'))
    return page


def test_page_contains_title_lead_stylesheet_and_each_section_in_order(tmp_path):
    path = _page().write(tmp_path / "out" / "report.html")
    doc = path.read_text(encoding="utf-8")
    assert doc.startswith("<!doctype html>") and "<title>Costs &lt;draft&gt;</title>" in doc
    assert "<h1>Costs &lt;draft&gt;</h1>" in doc
    assert "<p class='lead'>First &amp; foremost.</p>" in doc and "<p class='lead'>Second.</p>" in doc
    heads = re.findall(r"<h([23])>(.*?)</h\1>", doc)
    assert heads == [("2", "Totals"), ("3", "Detail"), ("2", "Notes")]
    assert "<p>a &lt; b</p>" in doc and "<pre>{&quot;k&quot;: &quot;&lt;v&gt;&quot;}</pre>" in doc
    assert f"<style>{kit.STYLESHEET}</style>" in doc
    for rule in ("overflow-wrap:anywhere", "font-variant-numeric:tabular-nums", "text-align:right"):
        assert rule in kit.STYLESHEET
    assert "http://" not in doc and "https://" not in doc
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]  # no temp file left behind


def test_page_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old page", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _page().write(path)
    assert path.read_text(encoding="utf-8") == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    monkeypatch.undo()
    assert _page().write(path) == path and "<h2>Totals</h2>" in path.read_text(encoding="utf-8")



# ----------------------------------------------------------------------------- the demo page
def test_demo_report_has_the_metrics_table_the_training_plots_and_the_forecast_path(tmp_path):
    from forecast.pipeline.demo import write_demo_report
    from forecast.pipeline.predict import PredictOutput
    from forecast.pipeline.train import TrainResult

    plots = [tmp_path / "plots" / "fan_dc-1.png", tmp_path / "plots" / "mae_by_horizon.png"]
    for p in plots:
        kit.save_figure(_figure(), p, dpi=40)
    metrics = {"model": {"mae": 3.21, "rmse": 4.0, "smape": 1.5, "pinball": 1.1, "coverage_p10_p90": 0.8,
                         "top5_mae": 5.0, "mae_h1_24": 2.0},
               "physics": {"mae": 6.5, "rmse": 8.0, "smape": 3.0, "pinball": 2.2, "coverage_p10_p90": 0.6,
                           "top5_mae": 9.0}}
    tr = TrainResult("run1", "7", metrics, tmp_path / "m.pt", plots, 1.0, {}, "file:mlruns")
    out = PredictOutput(tmp_path / "forecast.parquet", None, 1344, pd.Timestamp("2025-12-01", tz="UTC"), "7",
                        "run2", pd.DataFrame())
    doc = write_demo_report(tmp_path / "report.html", tr, out, 168).read_text(encoding="utf-8")
    heads = [h for _, h in _cells(doc, "th")]
    assert heads[:3] == ["model", "MAE (MW)", "RMSE (MW)"] and "MAE h 1–24 (MW)" in heads
    assert "<td class='num'><b>3.210</b></td>" in doc and "<td class='num'>6.500</td>" in doc
    imgs = re.findall(r"<img alt='[^']*' src='[^']*'>", doc)
    assert [_decoded(i) for i in imgs] == [p.read_bytes() for p in plots]
    assert f"<code>{tmp_path / 'forecast.parquet'}</code>" in doc and "1,344 rows" in doc
    assert "Learned model vs best baseline (physics): MAE 3.210 vs 6.500 MW" in doc and "horizons 1–168 h" in doc
    assert "<b>2.000</b>" not in doc  # MAE h 1–24 only for the model: nothing to compare, so not bold


# ----------------------------------------------------------------------------- the backtest / series-bench page
def test_backtest_report_embeds_the_pngs_it_saves_and_tables_the_scores(tmp_path):
    from forecast.evaluation.report import write_report
    from forecast.evaluation.rolling import Refit, RollingResult, score

    rng = np.random.default_rng(0)
    N, H, levels = 6, 24, (0.1, 0.5, 0.9)
    y = rng.normal(10, 1, (N, H))
    band = np.array([-1.5, 0.0, 1.5])
    q = {name: y[..., None] + off + band for name, off in (("model", 0.2), ("seasonal_naive_24h", 1.0))}
    res = RollingResult(np.arange(N), pd.date_range("2024-03-01", periods=N, freq="D", tz="UTC"), np.zeros(N, int),
                        y, np.full(N, 2.0), q, np.zeros(N, int),
                        [Refit(0, "2024-03-01T00:00", "2024-01-01T00:00", "2024-02-23T00:00", "2024-03-01T00:00",
                               500, 100, N, 3, 12.34)])
    sc = score(res, levels, np.ones(1), ["price"])
    page = write_report(tmp_path, "bench <x>", res, sc, ["price"], levels, units="$/MWh",
                        refits=res.refit_table(), notes=["Note one."])
    doc = page.read_text(encoding="utf-8")
    pngs = [tmp_path / "error_by_horizon.png", tmp_path / "fan_price.png"]
    imgs = re.findall(r"<img alt='[^']*' src='[^']*'>", doc)
    assert [_decoded(i) for i in imgs] == [p.read_bytes() for p in pngs]
    heads = [h for _, h in _cells(doc, "th")]
    assert heads[:4] == ["model", "MAE ($/MWh)", "RMSE ($/MWh)", "sMAPE (%)"] and "fit time (s)" in heads
    mae = f"{sc['aggregate']['model']['mae']:,.3f}"
    assert f"<td class='num'><b>{mae}</b></td>" in doc  # the model is closest, so its MAE is in bold
    assert "<td class='num'>12.3</td>" in doc and "<p class='lead'>Note one.</p>" in doc
    assert "<h1>bench &lt;x&gt;</h1>" in doc


def test_a_below_column_is_a_full_width_row_under_its_row_not_a_column():
    import pandas as pd

    from forecast.evaluation import reportkit as kit

    df = pd.DataFrame({"line": ["a", "b"], "amount": [1.0, 2.0], "formula": ["x < y", "z"]})
    out = kit.table(df, below="formula")
    assert "<th class='txt'>formula</th>" not in out and out.count("colspan='2'") == 2
    first, second = out.index("formula:</span> x &lt; y"), out.index("formula:</span> z")
    assert out.index(">a<") < first < out.index(">b<") < second  # each formula right under its own row
