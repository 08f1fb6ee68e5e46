"""Own data, first hour: a template folder that passes, and a check that lists every table's problem."""

from __future__ import annotations

import pandas as pd
import pytest

from forecast.cli import main


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    d = tmp_path_factory.mktemp("onboard") / "my-data"
    assert main(["init", "--dir", str(d)]) == 0
    return d


def test_init_writes_every_table_and_they_pass(template, capsys):
    assert {p.name for p in template.iterdir()} >= {"sites.csv", "jobs.parquet", "meter.parquet", "grid.parquet"}
    sites = pd.read_csv(template / "sites.csv")
    assert sites["site_id"].tolist() == ["my-site"]
    meter = pd.read_parquet(template / "meter.parquet")
    assert meter["ts"].nunique() == 31 * 24
    assert main(["validate", f"data.dir={template}"]) == 0
    assert "every table passes" in capsys.readouterr().out


def test_init_never_overwrites(template, capsys):
    assert main(["init", "--dir", str(template)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_validate_lists_the_problem_of_every_table_not_only_the_first(template, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(template, bad)
    sites = pd.read_csv(bad / "sites.csv")
    sites["capacity_mw"] = -1.0
    sites.to_csv(bad / "sites.csv", index=False)
    jobs = pd.read_parquet(bad / "jobs.parquet").drop(columns=["n_gpus"])
    jobs.to_parquet(bad / "jobs.parquet")
    assert main(["validate", f"data.dir={bad}"]) == 1
    out = capsys.readouterr().out
    assert "sites:" in out and "capacity_mw" in out
    assert "jobs:" in out and "n_gpus" in out
    assert out.strip().endswith("2 problem(s)")
