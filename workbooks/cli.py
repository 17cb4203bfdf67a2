"""``xlcalc workbook``: write a planning workbook (template) to a file."""

from __future__ import annotations

from pathlib import Path

from xlcalc.cli import command
from xlcalc.errors import XlcalcError


def _setup(p):
    p.add_argument("name", nargs="?", help="template name (see --list)")
    p.add_argument("-o", "--output", help="file to write (.xlsx); with --all, a folder")
    p.add_argument("--list", action="store_true", help="list the templates")
    p.add_argument("--all", action="store_true", help="write every template into a folder "
                   "(default: the repository's templates/)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="change an input, e.g. --set model=llama-3-70b --set batch=16")


def _value(text: str):
    """A --set value: a number as a planner writes it (``16``, ``8k``, ``2T``, ``1.5e12``),
    else text (a preset name)."""
    from xlcalc.cli import parse_count
    try:
        number = parse_count(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


@command("workbook", "write a planning workbook (live Excel formulas)", _setup)
def cmd_workbook(args):
    import pandas as pd
    from .templates import TEMPLATES, regenerate, template, write_template
    if args.list:
        return pd.DataFrame([{"workbook": n, "title": template(n).title_for()}
                             for n in TEMPLATES])
    if args.all:
        paths = regenerate(args.output) if args.output else regenerate()
        return pd.Series({p.stem: str(p) for p in paths}, name="written")
    if not args.name:
        raise XlcalcError("name a template (xlcalc workbook --list) or use --all", "name")
    inputs = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise XlcalcError(f"--set takes NAME=VALUE, got {item!r}", "set")
        inputs[key.strip()] = _value(value.strip())
    path = Path(args.output or f"{args.name}.xlsx")
    built = write_template(args.name, path, inputs)
    return pd.Series({"written": str(path), "formulas": len(built.values),
                      "defined names": len(built.names)}, name=args.name)
