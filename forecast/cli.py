"""The ``forecast`` console command. Each subcommand is a few lines over a stage function ``f(cfg)``;
stages are imported only when called, so ``forecast --help`` stays fast.

One way to configure every command: its config is composed with Hydra from ``conf/<config>.yaml``
and ``key=value`` overrides; the documented flags are aliases of overrides (:data:`COMMANDS`, each
command's ``flags``: ``--horizon 24`` is ``horizon=24``, ``--no-net`` is ``model.net=false``),
translated by :func:`translate`; ``--help`` lists the flags and the config's keys with their defaults. A
config or input error is one line on stderr (``forecast <command>: <key>: <problem>; fix: <override or
flag>``) and exit code 2; ``--debug`` (or ``FORECAST_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import textwrap
from forecast.commands import COMMANDS, Flag
from forecast.errors import UsageError, explain, one_line

USAGE_ERROR = 2


def quote(value: str) -> str:
    """``value`` as a quoted Hydra override string: spaces, '=', ',', quotes and ``${`` kept literally."""
    body = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)  # backslashes before a quote doubled
    body = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, body).replace("${", "\\${")
    return f"'{body}'"


def flag_value(flag: Flag, value: str) -> str:
    if flag.kind == "list":
        return "[" + ",".join(quote(v.strip()) for v in value.split(",") if v.strip()) + "]"
    return quote(value)


def translate(name: str, argv: list[str]) -> list[str]:
    """Hydra overrides from a command line: each flag (``--flag X`` or ``--flag=X``) becomes its override;
    ``key=value`` words pass through; a leading action word becomes ``action=<word>``."""
    cmd = COMMANDS[name]
    args = [a for a in argv if a != "--"]
    out = [f"action={args.pop(0)}"] if cmd.actions and args and args[0] in cmd.actions else []
    i = 0
    while i < len(args):
        word, i = args[i], i + 1
        if not word.startswith("-"):
            out.append(word)
            continue
        name_, eq, value = word.partition("=")
        flag = cmd.flags.get(name_)
        if flag is None:
            raise UsageError(name_, "unknown flag", f"forecast {name} --help lists the flags and overrides")
        if flag.kind in ("true", "false"):
            if eq:
                raise UsageError(name_, "takes no value", f"{name_} alone, or {flag.key}=true|false")
            out.append(f"{flag.key}={flag.kind}")
            continue
        if not eq:
            if i == len(args):
                raise UsageError(name_, "needs a value", f"{name_} {flag.metavar}")
            value, i = args[i], i + 1
        out.append(f"{flag.key}={flag_value(flag, value)}")
    return out


def compose_for(name: str, overrides: list[str]):
    """The command's config, conf/<config>.yaml composed with ``overrides`` (its schema registered first)."""
    cmd = COMMANDS[name]
    module, _, register = cmd.schema.partition(":")
    mod = importlib.import_module(module)
    if register:
        getattr(mod, register)()
    from forecast.config import compose

    return compose(overrides, cmd.config)


def show(value) -> str:
    """A config value on one line, YAML-like: ``{a: 1, b: [x, y]}``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def groups(config: str) -> dict[str, list[str]]:
    """Config groups in conf/<config>.yaml's defaults list -> their options (conf/<group>/*.yaml)."""
    from omegaconf import OmegaConf

    from forecast.config import conf_dir

    root = conf_dir()
    defaults = OmegaConf.to_container(OmegaConf.load(root / f"{config}.yaml")).get("defaults", [])
    return {g: sorted(p.stem for p in (root / g).glob("*.yaml")) for d in defaults if isinstance(d, dict) for g in d}


def help_text(name: str, overrides: list[str] | None = None) -> str:
    """Usage, the one-line description, the flags and the config's top-level keys with their defaults."""
    from omegaconf import OmegaConf

    cmd = COMMANDS[name]
    tree = OmegaConf.to_container(compose_for(name, list(overrides or [])), resolve=False, throw_on_missing=False)
    lines = [f"usage: forecast {name}" + (f" [{'|'.join(cmd.actions)}]" if cmd.actions else "")
             + (" [flags]" if cmd.flags else "") + " [key=value ...] [--debug]", "", cmd.help, ""]
    if cmd.actions:
        lines += [f"first word: {', '.join(cmd.actions)} (the same as action=<word>)", ""]
    if cmd.flags:
        lines.append("flags (each an alias of the override beside it):")
        switch = ("true", "false")
        rows = [(flag if f.kind in switch else f"{flag} {f.metavar}", f"{f.key}={f.kind}" if f.kind in switch else f.key,
                 f.help) for flag, f in cmd.flags.items()]
        w1, w2 = (min(32, max(len(r[i]) for r in rows)) for i in (0, 1))
        lines += [f"  {a:<{w1}}  {b:<{w2}}  {c}".rstrip() for a, b, c in rows] + [""]
    options = groups(cmd.config)
    if options:
        lines.append("config groups: " + ", ".join(f"{g}={'|'.join(o)}" for g, o in options.items()))
    lines.append(f"overrides (key=value, nested keys with dots; conf/{cmd.config}.yaml, defaults):")
    for key, value in tree.items():
        text = f"{key}: {show(value)}" if isinstance(value, dict) else f"{key}={show(value)}"
        lines += textwrap.wrap(text, 116, initial_indent="  ", subsequent_indent="      ", max_lines=3,
                               placeholder=" …", break_on_hyphens=False)
    lines += ["", "--debug (or FORECAST_DEBUG=1): the traceback of an error instead of one line"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- errors
def fix_for(name: str, key: str, example: str | None = None) -> str:
    """How to set ``key``: its flag (if it has one) or the override."""
    flags = [(f, s) for f, s in COMMANDS[name].flags.items() if s.key == key and s.kind in ("value", "list")]
    if not flags:
        return f"{key}={'<value>' if example is None else example}"
    flag, spec = flags[0]
    ex = spec.metavar if example is None else example.strip("[]") if spec.kind == "list" else example
    return f"{flag} {ex} or {key}={f'[{ex}]' if spec.kind == 'list' else ex}"


def known_keys(name: str) -> list[str]:
    from omegaconf import OmegaConf

    def walk(tree: dict, prefix: str):
        for k, v in tree.items():
            yield f"{prefix}{k}"
            if isinstance(v, dict):
                yield from walk(v, f"{prefix}{k}.")

    try:
        return list(walk(OmegaConf.to_container(compose_for(name, []), throw_on_missing=False), ""))
    except Exception:  # the default config itself does not compose: no suggestion
        return []


# ---------------------------------------------------------------------------------------------- commands
def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def train_main(argv: list[str]) -> int:
    """forecast train [hydra overrides]"""
    from forecast.config import compose, to_object
    from forecast.evaluation.holdout import format_table
    from forecast.pipeline.train import train

    res = train(to_object(compose(argv)))
    if res.is_global_zero:
        print(format_table(res.metrics))
        print(f"\nMLflow run {res.run_id} ({res.tracking_uri}); model version {res.model_version}; "
              f"checkpoint {res.checkpoint}\npromotion: {res.promotion}")
    return 0


def run_main(argv: list[str]) -> int:
    """forecast run [hydra overrides]: from the job schedule to next month's pledge ledger."""
    from forecast.config import compose, to_object
    from forecast.pipeline.run import RunConfig, format_run, run

    res = run(to_object(compose(argv, "run"), RunConfig))
    if res is not None:
        print(format_run(res))
    return 0


def demo_main(argv: list[str]) -> int:
    """forecast demo [hydra overrides]: simulate -> train -> register -> forecast -> next month's pledge ledger."""
    from forecast.config import compose, to_object
    from forecast.evaluation.holdout import format_summary, format_table
    from forecast.pipeline.demo import demo
    from forecast.pipeline.run import RunConfig, format_run

    cfg = to_object(compose(argv, "run"), RunConfig)
    res = demo(cfg)
    if res.forecast is None:
        return 0
    tr, out = res.train, res.forecast
    print("\nHeld-out test weeks (forecasts issued daily, horizons 1–%d h, MW):" % cfg.data.horizon_h)
    print(format_table(tr.metrics))
    print("\n" + format_summary(tr.metrics))
    print(f"training: {tr.throughput['train_windows_per_s']:.0f} windows/s, {tr.throughput['epoch_s_median']:.1f} s/epoch")
    print(f"\nbatch forecast: {out.path} ({out.rows} rows, issued {out.issued_at}, model version {out.model_version})")
    print(f"MLflow: run {tr.run_id} in experiment '{cfg.tracking.experiment}' at {tr.tracking_uri}\n"
          f"promotion: {tr.promotion}\nplots: {', '.join(str(p) for p in tr.plots)}\nreport: {res.report}")
    print(format_run(res.run))
    print(f"total {res.seconds:.0f} s")
    return 0


def predict_main(argv: list[str]) -> int:
    """forecast predict --reference-time 2025-12-01T00:00Z [--model registry|PATH] [--out DIR] [--csv] [overrides]"""
    from forecast.config import ConfigError, compose, to_object
    from forecast.pipeline.predict import predict

    given_data = (any(a.split("=", 1)[0] in ("data", "data.dir", "data.source") for a in argv)
                  and not any(a.startswith("predict.data_from=") for a in argv))
    cfg = to_object(compose([*argv, "predict.data_from=config"] if given_data else argv))  # data.* given: used
    if cfg.predict.reference_time is None:
        raise ConfigError("predict.reference_time", "forecast predict needs the issue time", "2025-12-01T00:00Z")
    res = predict(cfg)
    print(f"{res.path}: {res.rows} rows, issued {res.issued_at}, model {res.model_version} (run {res.run_id})"
          f"{'' if res.written else ' (unchanged: the same file was already there)'}")
    print(f"data: {res.data_dir} ({'recorded with the model' if res.data_from == 'model' else 'data.dir'})")
    if res.csv_path:
        print(res.csv_path)
    return 0


def simulate_main(argv: list[str]) -> int:
    """forecast simulate [--out DIR] [--seed N] [--days N] [overrides]: the built-in scenario's input files."""
    from forecast.config import SimulateConfig, load
    from forecast.data.simulate import write_scenario

    cfg = load("simulate", SimulateConfig, argv)
    for k, p in write_scenario(cfg.scenario, cfg.out).items():
        print(f"{k:>6}: {p}")
    return 0


def run(name: str, argv: list[str]) -> int:
    """One command: its help, or its function called with the translated overrides."""
    if "-h" in argv or "--help" in argv:
        print(help_text(name, translate(name, [a for a in argv if a not in ("-h", "--help")])))
        return 0
    module, fn = COMMANDS[name].target.split(":")
    return int(getattr(importlib.import_module(module), fn)(translate(name, argv)) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage: forecast <command> [flags] [key=value ...]   (forecast <command> --help for its options)"
              "\n\ncommands:")
        for name, cmd in COMMANDS.items():
            print(f"  {name:<14} {cmd.help}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"forecast: unknown command {name!r}; run 'forecast --help'", file=sys.stderr)
        return USAGE_ERROR
    debug = "--debug" in rest or os.environ.get("FORECAST_DEBUG", "") not in ("", "0")
    setup_logging()
    try:
        return run(name, [a for a in rest if a != "--debug"])
    except Exception as e:
        why = None if debug else explain(e, name, lambda key, ex=None: fix_for(name, key, ex),
                                         lambda: known_keys(name))
        if why is None:
            raise
        print(one_line(f"forecast {name}: {why[0]}: {why[1]}; fix: {why[2]}"), file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
