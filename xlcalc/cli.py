"""The ``xlcalc`` command line.

Each subcommand is one function ``cmd_<name>(args) -> result`` registered in
:data:`COMMANDS` with its argument setup; a result is a pandas Series/DataFrame or a
dict, printed as a table or, with ``--json``, as JSON.  A plan command puts its verdict in
the result's ``attrs`` (:func:`verdict`): it is printed first (``FITS: 18.58 of 72 GB per
GPU`` / ``DOES NOT FIT: short by 12.3 GB per GPU``, ``xlcalc plan``'s ``fits: ...``) and
a plan that does not fit exits with status 1 (``attrs["exit_status"]``, when a command
sets one, is the exit status).  In ``--json`` a verdict leads: flat beside a plan's
figures, or ``{"verdict", "fits", "plans"}`` around a table.  Bad input prints the
library's message (``xlcalc: error: batch must be a positive integer, got 0``) and exits
with status 2.  Every count accepts ``8k``, ``32k``, ``2T``, ``1.5e12`` (SI: k = 1,000;
``8Ki`` = 8,192).  Numbers print one way: whole numbers in full, others to 4 significant
digits.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys

__all__ = ["main", "COMMANDS", "parse_count", "fmt_number", "verdict"]

#: name -> (setup(parser), run(args), help)
COMMANDS: dict = {}

#: modules that register more subcommands with :func:`command` when imported
FAMILY_COMMANDS = ("xlcalc.cli_hardware", "xlcalc.cli_training", "xlcalc.cli_serving",
                   "xlcalc.cli_sizing",
                   "xlcalc.cli_analysis",
                   "xlcalc.cli_validation",
                   "xlcalc.workbooks.cli")


def command(name: str, help: str, setup=None):
    """Register ``run(args)`` as subcommand ``name``; ``setup(parser)`` adds its arguments."""
    def decorate(run):
        COMMANDS[name] = (setup or (lambda parser: None), run, help)
        return run
    return decorate


#: count suffixes: SI (k, M, B or G, T) and binary (Ki, Mi, Gi)
_SUFFIXES = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12,
             "ki": 2 ** 10, "mi": 2 ** 20, "gi": 2 ** 30}
_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]{0,2})\s*$", re.I)


def parse_count(text: str) -> float:
    """A number as a planner writes it: ``4096``, ``1.5e12``, ``8k`` (8,000), ``32k``,
    ``2T`` (2e12), ``70B``, ``8Ki`` (8,192); ValueError for anything else."""
    m = _COUNT.match(str(text).replace(",", "").replace("_", ""))
    if m is None or m.group(2).lower() not in _SUFFIXES:
        raise ValueError(f"not a number: {text!r} (e.g. 4096, 8k, 32Ki, 2T, 1.5e12)")
    return float(m.group(1)) * _SUFFIXES[m.group(2).lower()]


def _number(text, kind=float):
    try:
        value = parse_count(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if kind is int:
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
        return int(value)
    return value


def verdict(result, fits: bool, line: str):
    """Attach a plan's verdict to a command's result: printed first, exit status 1 when
    ``fits`` is False."""
    result.attrs["fits"] = bool(fits)
    result.attrs["verdict"] = line
    return result


def fmt_number(value) -> str:
    """The CLI's one number format: whole numbers in full with thousands separators,
    others (and whole numbers from 1e12 on) to 4 significant digits; NaN is n/a."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if hasattr(value, "item"):
            return fmt_number(value.item())
        return str(value)
    x = float(value)
    if x != x:
        return "n/a"
    if x.is_integer() and abs(x) < 1e12:
        return f"{int(x):,}"
    return f"{x:,.4g}"


# ---------------------------------------------------------------------- commands

@command("models", "list the model presets")
def cmd_models(args):
    from .models import load_model, models_table
    cols = ["model_type", "num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim",
            "intermediate_size", "vocab_size", "num_experts", "nominal_params"]
    table = models_table()[cols].copy()
    # the layer kinds and attention/MLP family in words, and the Hub repo id people type
    table.insert(1, "architecture", [load_model(n).architecture for n in table.index])
    table["hub_id"] = [(load_model(n).config.get("xlcalc_hub_ids") or [""])[0]
                       for n in table.index]
    return table


def _setup_params(p):
    p.add_argument("model", help="preset name or path to a config.json")


@command("params", "parameter count by part", _setup_params)
def cmd_params(args):
    from .basics import params
    return params(args.model)


def _setup_kv(p):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--batch", type=_number, required=True, help="sequences")
    p.add_argument("--seq-len", type=_number, required=True, help="tokens per sequence")
    p.add_argument("--kv-dtype", default="bf16", help="KV-cache dtype (default bf16)")
    p.add_argument("--tp", type=_number, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--block-size", type=_number, default=1,
                   help="KV block size in tokens: 1 = exact, 16 = vLLM pages (default 1)")
    p.add_argument("--unit", default="GB", help="memory unit (default GB = 1e9 bytes)")


@command("kv-cache", "KV-cache memory per GPU", _setup_kv)
def cmd_kv_cache(args):
    import pandas as pd
    from .estimate import estimate
    from .units import to_unit, unit_factor
    unit_factor(args.unit)
    v = estimate(["kv_cache_bytes", "kv_cache_bytes_per_token", "kv_heads_per_gpu"],
                 model=args.model, batch=args.batch, seq_len=args.seq_len,
                 kv_dtype=args.kv_dtype, tp=args.tp, block_size=args.block_size)
    return pd.Series({
        "model": args.model, "batch": args.batch, "seq_len": args.seq_len,
        "kv_dtype": args.kv_dtype, "tp": args.tp,
        f"kv_cache_{args.unit}": to_unit(v["kv_cache_bytes"], args.unit),
        "kv_cache_bytes": v["kv_cache_bytes"],
        "bytes_per_token": v["kv_cache_bytes_per_token"],
        "kv_heads_per_gpu": v["kv_heads_per_gpu"],
    }, name="kv_cache")


def _setup_seed(p):
    p.add_argument("example", nargs="?", help="worked example name (omit to list them)")


@command("seed", "the seeds' worked examples: each printed figure beside xlcalc's value",
         _setup_seed)
def cmd_seed(args):
    import pandas as pd
    from .worked import compare, examples
    if not args.example:
        return pd.DataFrame([{"example": n, "seed": e.seed, "title": e.title,
                              "figures": len(e.figures)} for n, e in examples().items()])
    return compare(args.example)


# --------------------------------------------------------------------------- main

def _jsonable(result):
    import pandas as pd
    if isinstance(result, pd.DataFrame):
        return json.loads(result.reset_index().to_json(orient="records"))
    if isinstance(result, pd.Series):
        return {k: _plain(v) for k, v in result.items()}
    return result


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _text(result) -> str:
    """The result as text: the verdict first, then warnings in full, then the table."""
    import pandas as pd
    lines = []
    attrs = getattr(result, "attrs", {})
    if "verdict" in attrs:
        lines.append(attrs["verdict"])
    if isinstance(result, pd.Series):
        warnings = [str(v) for k, v in result.items()
                    if str(k).startswith("warning") and isinstance(v, str) and v]
        lines += [f"WARNING: {w}" for w in warnings]
        body = result[[not str(k).startswith("warning") for k in result.index]]
        width = max((len(str(k)) for k in body.index), default=0)
        lines += [f"{str(k):<{width}}  {fmt_number(v)}" for k, v in body.items()]
    elif isinstance(result, pd.DataFrame):
        with pd.option_context("display.max_rows", 500, "display.max_columns", 50,
                               "display.width", 200, "display.max_colwidth", 200):
            lines.append(result.to_string(float_format=fmt_number))
    else:
        lines.append(str(result))
    return "\n".join(lines)


def _write(text: str) -> None:
    """Print; a reader that stopped early (``| head``) is not an error."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's own recipe: point stdout at devnull so the flush at exit stays quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="xlcalc", description="LLM capacity planning: parameters, memory, FLOPs, "
        "latency, serving capacity and training time.")
    parser.add_argument("--version", action="version", version=f"xlcalc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (setup, _, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        setup(p)
        p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _load_commands():
    # Family modules add their subcommands here (import for the registration side effect).
    for module in FAMILY_COMMANDS:
        try:
            __import__(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def main(argv=None) -> int:
    from .errors import XlcalcError
    from .extras import MissingDependency
    _load_commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    _, run, _ = COMMANDS[args.command]
    try:
        result = run(args)
    except (XlcalcError, MissingDependency) as e:
        print(f"xlcalc: error: {e}", file=sys.stderr)
        return 2
    attrs = getattr(result, "attrs", None) or {}
    if getattr(args, "json", False):
        out = _jsonable(result)
        if "verdict" in attrs:                              # the verdict leads
            if isinstance(out, dict):                        # flat beside the figures
                out = {"verdict": attrs["verdict"], "fits": _fits(attrs),
                       **{k: v for k, v in out.items() if k != "fits"}}
            else:                                            # around a table of plans
                out = {"verdict": attrs["verdict"], "fits": _fits(attrs), "plans": out}
        _write(json.dumps(out, indent=2, default=str))
    else:
        _write(_text(result))
    return _exit_status(attrs)


def _exit_status(attrs) -> int:
    """A command's own ``exit_status``, else 1 for a plan that does not fit, else 0."""
    if "exit_status" in attrs:
        return int(attrs["exit_status"])
    return 1 if attrs.get("fits") is False else 0


def _fits(attrs) -> bool:
    return bool(attrs["fits"]) if "fits" in attrs else _exit_status(attrs) == 0


if __name__ == "__main__":  # pragma: no cover
    # run the importable module's main: family modules register into xlcalc.cli, not
    # into this __main__ copy
    from xlcalc.cli import main as _main
    sys.exit(_main())
