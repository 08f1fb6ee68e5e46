"""Readers for public GPU-cluster traces: schedules and hourly occupancy (one module per trace, re-exported here).

Three sources (see ``../shared/data/SOURCES.md`` for where they are published):

- Helios **Venus** (SenseTime): 10-minute counts of submitted / started / ended
  jobs and GPUs → :func:`read_venus` (hourly event counts and a running-GPU
  occupancy proxy) and :func:`venus_events` (long-format job-event schedule);
  :mod:`forecast.data.venus`.
- Microsoft **Philly**: hourly mean of active nodes out of the cluster's nodes →
  :func:`read_philly` (occupancy = active / total); :mod:`forecast.data.philly`.
- Alibaba **openb** (cluster-trace-gpu-v2023): one row per task (pod) with
  GPU request and creation / scheduled / deletion times in seconds from trace
  start → :func:`read_openb_pods` (a jobs-contract-like schedule),
  :func:`read_openb_nodes` and :func:`openb_occupancy` (hourly GPUs in use);
  :mod:`forecast.data.openb`.

Every reader returns ``(frame, ReadReport)`` (:mod:`forecast.data.trace_io`). The report counts each row that
was left out and why; nothing is dropped without being counted, and input that
cannot be read honestly raises :class:`forecast.errors.ContractError`. All output
timestamps are tz-aware UTC, hour-beginning; hours without data are present as
NaN rows (explicit gaps), never filled.

What is measured and what is modelled: the event counts, active nodes and task
times are measured; Venus' running-GPU level is *derived* (its initial level is
unknown and estimated, see :func:`read_venus`); openb GPU shares are the
requested shares, not measured utilisation.
"""

from __future__ import annotations

import pandas as pd

from forecast.data.openb import (OPENB_ANCHOR, OPENB_DEFAULT_GPU_TYPE, OPENB_SITE, POD_COLUMNS, openb_occupancy,
                                 read_openb_nodes, read_openb_pods)
from forecast.data.philly import PHILLY_TZ, read_philly
from forecast.data.trace_io import ReadReport
from forecast.data.venus import VENUS_COLUMNS, VENUS_TZ, read_venus, venus_events

HOUR = pd.Timedelta(hours=1)

__all__ = ["HOUR", "OPENB_ANCHOR", "OPENB_DEFAULT_GPU_TYPE", "OPENB_SITE", "PHILLY_TZ", "POD_COLUMNS", "VENUS_COLUMNS",
           "VENUS_TZ", "ReadReport", "openb_occupancy", "read_openb_nodes", "read_openb_pods", "read_philly",
           "read_venus", "venus_events"]
