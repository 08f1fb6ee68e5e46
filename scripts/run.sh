#!/usr/bin/env bash
# One entry point that sets itself up: creates .venv, installs the package, then
#   scripts/run.sh demo [hydra overrides]   simulate -> train -> register -> batch forecast
#   scripts/run.sh test [pytest args]       the test suite
#   scripts/run.sh <forecast subcommand> …  any `forecast` command
# Commands other than `test` run in the caller's working directory (outputs land there).
# Torch: a CUDA build already importable by python3 is kept (the venv sees the
# system site-packages); otherwise the CPU build torch==2.13.0 is installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
venv=${FORECAST_VENV:-$root/.venv}
stamp=$venv/.installed

if [[ ! -x $venv/bin/python ]]; then
  # a CUDA *build* of torch (torch.version.cuda set), even where no GPU is visible (e.g. docker build)
  if "$py" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    echo "[setup] CUDA torch found in $py: keeping it (venv with system site-packages)"
    "$py" -m venv --system-site-packages "$venv"
  else
    "$py" -m venv "$venv"
  fi
fi
vpy=$venv/bin/python
if [[ ! -f $stamp || $root/pyproject.toml -nt $stamp ]]; then
  echo "[setup] installing into $venv"
  "$vpy" -m pip install -q --upgrade pip
  if ! "$vpy" -c 'import torch' 2>/dev/null; then
    "$vpy" -m pip install -q torch==2.13.0
  fi
  "$vpy" -m pip install -q -e "$root[test]"
  touch "$stamp"
fi

cmd=${1:-demo}
[[ $# -gt 0 ]] && shift
case "$cmd" in
  test) cd "$root" && exec "$vpy" -m pytest "$@" ;;
  *)    exec "$venv/bin/forecast" "$cmd" "$@" ;;
esac
