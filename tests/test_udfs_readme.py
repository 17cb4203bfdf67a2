"""The README's Excel-function table is what the functions return, so it cannot go stale.

The "## Excel functions" section of README.md lists every function of
``xlcalc.udfs.CATALOGUE`` with its signature, what it returns, one example formula and
the result.  This test parses each example formula (Excel syntax: text in double quotes,
numbers, empty arguments), calls the function as Excel would (numbers as floats, an
omitted argument as None) and checks the shown result, formatted as the README shows it.
The error examples below the table are checked the same way.

Regenerate the table after changing a function: ``python tests/test_udfs_readme.py``.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import pytest

import xlcalc.udfs as u

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Excel functions"

#: one example per function (used to write the table; the test reads the README)
EXAMPLES = {
    "LLM_PARAMS": '=LLM_PARAMS("llama-2-70b")',
    "LLM_MODEL": '=LLM_MODEL("llama-3.1-8b", "num_kv_heads")',
    "LLM_MODELS": "=LLM_MODELS()",
    "GPU_SPEC": '=GPU_SPEC("h100-sxm", "memory_bandwidth_gb_per_s")',
    "GPU_LIST": "=GPU_LIST()",
    "WEIGHTS_MEM": '=WEIGHTS_MEM("llama-2-70b", "int4", 2)',
    "KV_CACHE": '=KV_CACHE("llama-2-70b", 8, 4096, , 8)',
    "INFER_MEM": '=INFER_MEM("llama-2-70b", 8, 4096, , , 8)',
    "TRAIN_MEM": '=TRAIN_MEM("llama-2-7b", 32, 2048, , , 2, 8)',
    "MEM_TABLE": '=MEM_TABLE("llama-2-70b", "inference", 8, 4096, "h100-sxm", , , 8)',
    "LLM_FLOPS": '=LLM_FLOPS("llama-2-70b", 1E+12, "training")',
    "PREFILL_MS": '=PREFILL_MS("llama-2-70b", "h100-sxm", 8, 512, , 8)',
    "DECODE_MS": '=DECODE_MS("llama-2-70b", "h100-sxm", 8, 768, , , 8)',
    "GEN_SECONDS": '=GEN_SECONDS("llama-2-70b", "h100-sxm", 8, 512, 256, , , 8)',
    "TOKENS_PER_S": '=TOKENS_PER_S("llama-2-70b", "h100-sxm", 8, 512, 256, , , 8)',
    "MAX_BATCH": '=MAX_BATCH("llama-2-70b", "h100-sxm", 4096, , , 8)',
    "GPUS_NEEDED": '=GPUS_NEEDED("llama-2-70b", "h100-sxm", 8, 4096)',
    "TRAIN_DAYS": '=TRAIN_DAYS("llama-2-70b", 2E+12, "h100-sxm", 1024)',
    "ALLREDUCE_BYTES": "=ALLREDUCE_BYTES(1E+9, 8)",
    "COMM_MS": "=COMM_MS(1E+9, 450)",
    "TP_COMM": '=TP_COMM("llama-2-70b", 1, 2048, 4)',
    "TPOT_MS": '=TPOT_MS("llama-2-70b", "h100-sxm", 8, 512, 256, , , 8)',
    "LATENCY_TABLE": '=LATENCY_TABLE("llama-2-70b", "h100-sxm", 8, 512, 256, , , 8)',
    "INFER_FITS": '=INFER_FITS("llama-2-70b", "h100-sxm", 8, 4096, , , 8)',
    "INFER_HEADROOM": '=INFER_HEADROOM("llama-2-70b", "h100-sxm", 8, 4096, , , 8)',
    "CAPACITY": '=CAPACITY("llama-2-13b", "a100-80gb", 2048, 10000, , , 2)',
    "KV_PER_TOKEN": '=KV_PER_TOKEN("llama-2-70b", , , "MB")',
    "CHINCHILLA_TOKENS": '=CHINCHILLA_TOKENS("llama-2-70b")',
    "TRAIN_GPU_HOURS": '=TRAIN_GPU_HOURS("llama-2-70b", 2E+12, "h100-sxm", 1024)',
    "TRAIN_COST": '=TRAIN_COST("llama-2-70b", 2E+12, "h100-sxm", 1024, 2.5)',
    "TRAIN_MFU": '=TRAIN_MFU("llama-2-7b", 1024, 4096, 10, "h100-sxm", 64)',
    "GEMM_MS": '=GEMM_MS(16, 4096, 4096, "a100-40gb", "fp16")',
    "CRITICAL_BATCH": '=CRITICAL_BATCH("llama-3.1-8b", "a100-80gb", 1024)',
    "SEED_CHECK": '=SEED_CHECK("llama-70b-inference")',
    "SERVE": '=SERVE("llama-3.1-8b", "h100-sxm", 2048, 256, , , , , , , 64, 20)',
    "SERVING_PLAN": '=SERVING_PLAN("llama-3.1-70b", 2048, 500, 200, 1000, 33, '
                    '"h100-sxm,h200,b200")',
    "COST_PER_M_TOKENS": '=COST_PER_M_TOKENS("llama-3.1-8b", "h100-sxm", 2048, 256, 2.95, , '
                         ', 64, 20)',
}

ERROR_EXAMPLES = [
    '=KV_CACHE("llama-2-70b", -1, 4096)',
    '=KV_CACHE("llama-2-70", 8, 4096)',
    '=MAX_BATCH("llama-2-70b", "h100-sxm", 4096, , , 3)',
    '=PREFILL_MS("llama-2-70b", "v100-32gb", 1, 512, , , , "bf16")',
]


# ------------------------------------------------------------------ Excel syntax

def parse_formula(formula: str):
    """``=NAME(arg, …)`` → (NAME, [Python values as Excel passes them])."""
    m = re.fullmatch(r"=([A-Z_][A-Z0-9_]*)\((.*)\)", formula.strip())
    assert m, formula
    name, body = m.groups()
    args, current, quoted, i = [], "", False, 0
    while i < len(body):
        c = body[i]
        if c == '"':
            if quoted and body[i + 1:i + 2] == '"':       # "" inside text
                current += '"'
                i += 2
                continue
            quoted = not quoted
            current += c
        elif c == "," and not quoted:
            args.append(current)
            current = ""
        else:
            current += c
        i += 1
    if body.strip():
        args.append(current)
    return name, [_value(a.strip()) for a in args]


def _value(token: str):
    if token == "":
        return None                                     # an omitted argument
    if token.startswith('"'):
        assert token.endswith('"') and len(token) >= 2, token
        return token[1:-1].replace('""', '"')
    if token in ("TRUE", "FALSE"):
        return token == "TRUE"
    return float(token)                                 # Excel sends numbers as floats


def show(value) -> str:
    """A result as the README shows it."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        header = value[0]
        names = ", ".join(str(h) for h in header[:4]) + (", …" if len(header) > 4 else "")
        return f"spills {len(value)} × {len(header)}: {names}"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1e15 or abs(value) < 1e-3:
        return f"{value:.4g}"
    digits = 3 - math.floor(math.log10(abs(value)))       # four significant digits
    return f"{value:,.{digits}f}" if digits >= 0 else f"{round(value, digits):,.0f}"


def signature(name: str) -> str:
    parts = []
    for p in inspect.signature(u.CATALOGUE[name]).parameters.values():
        if p.default is inspect.Parameter.empty:
            parts.append(p.name)
        elif p.default is None:
            parts.append(f"[{p.name}]")
        elif isinstance(p.default, str):
            parts.append(f'[{p.name}="{p.default}"]')
        else:
            parts.append(f"[{p.name}={u._show_default(p.default)}]")
    return f"{name}({', '.join(parts)})"


def returns(name: str) -> str:
    """What a function returns: its description up to the first colon or full stop
    outside parentheses."""
    doc, depth = u.CATALOGUE[name].__doc__, 0
    for i, c in enumerate(doc):
        depth += (c == "(") - (c == ")")
        if depth == 0 and (c == ":" or (c == "." and doc[i + 1:i + 2] in (" ", ""))):
            return doc[:i]
    return doc


def evaluate(formula: str):
    name, args = parse_formula(formula)
    return u.CATALOGUE[name](*args)


def table() -> str:
    lines = ["| function | returns | example | result |", "|---|---|---|---|"]
    for name in u.CATALOGUE:
        formula = EXAMPLES[name]
        lines.append(f"| `{signature(name)}` | {returns(name)} | `{formula}` | "
                     f"{show(evaluate(formula))} |")
    return "\n".join(lines)


def errors() -> str:
    return "\n".join(f"- `{f}` → `{evaluate(f)}`" for f in ERROR_EXAMPLES)


# ------------------------------------------------------------------------ tests

def _section() -> str:
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:] if end < 0 else text[start:end]


def _rows():
    rows = []
    for line in _section().splitlines():
        m = re.fullmatch(r"\| `(\w+)\((.*?)\)` \| (.*?) \| `(=.*)` \| (.*) \|", line.strip())
        if m:
            rows.append(m.groups())
    return rows


def test_section_comes_after_the_command_line_section():
    text = README.read_text()
    headings = re.findall(r"^## .*$", text, flags=re.M)
    assert headings.count(SECTION) == 1
    assert headings.index(SECTION) > headings.index("## Command line")


def test_every_function_has_one_row_in_catalogue_order():
    assert [r[0] for r in _rows()] == list(u.CATALOGUE)


@pytest.mark.parametrize("name", list(u.CATALOGUE))
def test_row_is_what_the_function_returns(name):
    row = {r[0]: r for r in _rows()}[name]
    _, args, what, formula, shown = row
    assert f"{name}({args})" == signature(name)
    assert what == returns(name)
    called, _ = parse_formula(formula)
    assert called == name
    result = evaluate(formula)
    assert not (isinstance(result, str) and result.startswith("#")), result
    assert shown == show(result), f"README shows {shown!r}, {formula} gives {show(result)!r}"


def test_error_examples_are_what_the_functions_return():
    found = re.findall(r"^- `(=.*?)` → `(#.*)`$", _section(), flags=re.M)
    assert len(found) == len(ERROR_EXAMPLES)
    for formula, text in found:
        assert evaluate(formula) == text


def test_formula_parser():
    assert parse_formula('=KV_CACHE("a ""b""", 8, , 1E+12, TRUE)') == \
        ("KV_CACHE", ['a "b"', 8.0, None, 1e12, True])
    assert parse_formula("=LLM_MODELS()") == ("LLM_MODELS", [])


if __name__ == "__main__":
    print(table())
    print()
    print(errors())
