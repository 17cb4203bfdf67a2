"""%xl and %%xlsheet through a real IPython shell: the same numbers, defaults, units and
``#`` texts as the Excel functions, hand-derived values, Excel's own operators and
functions, sheets with names, and hostile formulas that execute nothing."""

from __future__ import annotations

import math

import pandas as pd
import pytest

pytest.importorskip("IPython")
pytest.importorskip("formulas")
udfs = pytest.importorskip("xlcalc.udfs")

from IPython.core.error import UsageError  # noqa: E402

from xlcalc.magics import FormulaError, evaluate_formula, evaluate_sheet  # noqa: E402


@pytest.fixture(scope="module")
def shell():
    from IPython.testing.globalipapp import get_ipython
    ip = get_ipython()
    ip.run_line_magic("load_ext", "xlcalc")
    return ip


def xl(shell, formula):
    return shell.run_line_magic("xl", formula)


def run(shell, source):
    """Run a cell as a user does; returns (result, error)."""
    result = shell.run_cell(source, store_history=False)
    return result.result, result.error_in_exec or result.error_before_exec


# --------------------------------------------------- the catalogue, as in Excel

# (formula typed in %xl, the Excel function called as xlwings calls it)
SAME_AS_EXCEL = [
    ('=KV_CACHE("llama-2-70b", 8, 4096)', lambda: udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0)),
    ('=KV_CACHE("llama-2-70b", 8, 4096, "fp8", 8, "GiB")',
     lambda: udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0, "fp8", 8.0, "GiB")),
    # an omitted argument is an empty cell: the function's default
    ('=KV_CACHE("llama-2-70b", 8, 4096, , 8)',
     lambda: udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0, None, 8.0)),
    ('=WEIGHTS_MEM("llama-3-8b", "int8", 2, 1, "MiB")',
     lambda: udfs.WEIGHTS_MEM("llama-3-8b", "int8", 2.0, 1.0, "MiB")),
    ('=INFER_MEM("llama-2-70b", 8, 768, "bf16", "bf16", 8, 1, "kv_cache")',
     lambda: udfs.INFER_MEM("llama-2-70b", 8.0, 768.0, "bf16", "bf16", 8.0, 1.0, "kv_cache")),
    ('=TRAIN_MEM("llama-2-7b", 8, 2048, "bf16-mixed", "adamw", 1, 8)',
     lambda: udfs.TRAIN_MEM("llama-2-7b", 8.0, 2048.0, "bf16-mixed", "adamw", 1.0, 8.0)),
    ('=LLM_PARAMS("mixtral-8x7b", "active")', lambda: udfs.LLM_PARAMS("mixtral-8x7b", "active")),
    ('=LLM_MODEL("llama-2-70b", "model_type")', lambda: udfs.LLM_MODEL("llama-2-70b", "model_type")),
    ('=GPU_SPEC("h100-sxm", "memory_gb")', lambda: udfs.GPU_SPEC("h100-sxm", "memory_gb")),
    ('=PREFILL_MS("llama-2-70b", "h100-sxm", 8, 512, , 8)',
     lambda: udfs.PREFILL_MS("llama-2-70b", "h100-sxm", 8.0, 512.0, None, 8.0)),
    ('=TOKENS_PER_S("llama-2-70b", "h100-sxm", 8, 512, 256, , , 8)',
     lambda: udfs.TOKENS_PER_S("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0, None, None, 8.0)),
    ('=MAX_BATCH("llama-2-70b", "h100-sxm", 4096, , , 8)',
     lambda: udfs.MAX_BATCH("llama-2-70b", "h100-sxm", 4096.0, None, None, 8.0)),
    ('=INFER_FITS("llama-2-70b", "h100-sxm", 8, 4096)',
     lambda: udfs.INFER_FITS("llama-2-70b", "h100-sxm", 8.0, 4096.0)),
    ('=TRAIN_DAYS("llama-2-7b", 2E12, "a100-80gb", 1024)',
     lambda: udfs.TRAIN_DAYS("llama-2-7b", 2e12, "a100-80gb", 1024.0)),
    ('=COMM_MS(ALLREDUCE_BYTES(1E9, 8), 450)',
     lambda: udfs.COMM_MS(udfs.ALLREDUCE_BYTES(1e9, 8.0), 450.0)),
    # # error texts: the very text of the Excel function
    ('=KV_CACHE("llama-2-70b", 8, 4096, "bf16", 3)',
     lambda: udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0, "bf16", 3.0)),
    ('=KV_CACHE("llama-2-70b", "eight", 4096)',       # text in a numeric argument
     lambda: udfs.KV_CACHE("llama-2-70b", "eight", 4096.0)),
    ('=KV_CACHE("llama-2-71b", 8, 4096)', lambda: udfs.KV_CACHE("llama-2-71b", 8.0, 4096.0)),
    ('=KV_CACHE("llama-2-70b", 8, 4096, "bf16", 1, "parsecs")',
     lambda: udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0, "bf16", 1.0, "parsecs")),
    ('=KV_CACHE("llama-2-70b", -1, 4096)', lambda: udfs.KV_CACHE("llama-2-70b", -1.0, 4096.0)),
]


@pytest.mark.parametrize("formula,excel", SAME_AS_EXCEL, ids=[f for f, _ in SAME_AS_EXCEL])
def test_xl_equals_the_excel_function(shell, formula, excel):
    got = xl(shell, formula)
    expected = excel()
    assert type(got) is type(expected)
    assert got == expected
    assert evaluate_formula(formula) == expected      # the pure function the magic calls


def test_error_texts_name_the_argument(shell):
    assert xl(shell, '=KV_CACHE("llama-2-70b", 8, 4096, "bf16", 3)') == \
        "#VALUE! tp must be a divisor of num_heads=64, got 3"
    assert xl(shell, '=KV_CACHE("llama-2-70b", "eight", 4096)') == \
        "#VALUE! batch must be a positive integer, got 'eight'"
    # an error inside arithmetic: Excel shows #VALUE!; %xl says why
    assert xl(shell, '=KV_CACHE("llama-2-70b", 8, 4096, "bf16", 3) * 2') == \
        "#VALUE! tp must be a divisor of num_heads=64, got 3"
    assert xl(shell, "=1/0") == "#DIV/0!"


@pytest.mark.parametrize("formula,excel", [
    ('=MEM_TABLE("llama-2-70b", "inference", 8, 4096, "h100-sxm")',
     lambda: udfs.MEM_TABLE("llama-2-70b", "inference", 8.0, 4096.0, "h100-sxm")),
    ('=LATENCY_TABLE("llama-2-70b", "h100-sxm", 8, 512, 256, , , 8)',
     lambda: udfs.LATENCY_TABLE("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0, None, None, 8.0)),
    ("=GPU_LIST()", lambda: udfs.GPU_LIST()),
])
def test_a_spilled_table_is_a_dataframe_header_row_first(shell, formula, excel):
    table = excel()
    got = xl(shell, formula)
    assert isinstance(got, pd.DataFrame)
    assert list(got.columns) == table[0]
    pd.testing.assert_frame_equal(got, pd.DataFrame(table[1:], columns=table[0]))
    assert evaluate_formula(formula) == table        # empty cells (None) included


def test_hand_derived_values(shell):
    # llama-2-70b: 80 layers, 8 KV heads × 128, bf16: K and V per token per layer
    kv_bytes = 2 * 80 * 8 * 128 * 2 * 8 * 4096
    assert xl(shell, '=KV_CACHE("llama-2-70b", 8, 4096)') == pytest.approx(kv_bytes / 1e9,
                                                                          rel=1e-15)
    # tp=8 shards the 8 KV heads: one per GPU
    assert xl(shell, '=KV_CACHE("llama-2-70b", 8, 4096, , 8, "B")') == kv_bytes / 8
    assert xl(shell, '=KV_CACHE("llama-2-70b", 8, 4096, "bf16", 1, "GiB")') == \
        pytest.approx(kv_bytes / 2**30, rel=1e-15)
    # 68,976,648,192 parameters (transformers' count) at 2 bytes, split over 8 GPUs
    assert xl(shell, '=LLM_PARAMS("llama-2-70b")') == 68_976_648_192
    assert xl(shell, '=WEIGHTS_MEM("llama-2-70b", "bf16", 8)') == \
        pytest.approx(68_976_648_192 * 2 / 8 / 1e9, rel=1e-15)
    # GPUs for the weights alone, in Excel arithmetic: ceil(137.95 / 80) = 2
    assert xl(shell, '=ROUNDUP(WEIGHTS_MEM("llama-2-70b") / GPU_SPEC("h100-sxm", '
                     '"memory_gb"), 0)') == 2
    # the KV share of total memory of one plan, spilled table indexed like Excel
    share = xl(shell, '=INDEX(MEM_TABLE("llama-2-70b", "inference", 8, 4096), 3, 2) / '
                      'INDEX(MEM_TABLE("llama-2-70b", "inference", 8, 4096), 6, 2)')
    assert share == pytest.approx(
        kv_bytes / 1e9 / udfs.INFER_MEM("llama-2-70b", 8.0, 4096.0), rel=1e-12)


@pytest.mark.parametrize("formula,expected", [
    ("=1+2*3-4/2", 5.0),
    ("=2^10", 1024.0),
    ("=-2^2", 4.0),                  # Excel: negation before ^
    ("=50%", 0.5),
    ('="KV " & 2 & " GB"', "KV 2 GB"),
    ("=SUM(1, 2, 3) * MAX(4, 5) - MIN(6, 7)", 24.0),
    ("=ROUNDUP(2.01, 0) + ROUND(2.345, 2) + ROUNDDOWN(1.99, 0)", 3 + 2.35 + 1),
    ('=IF(AND(1 < 2, OR(FALSE, 3 >= 3)), "yes", "no")', "yes"),
    ("=1=1", True),
    ('="a"<>"A"', False),            # Excel compares text ignoring case
    ('=IF(KV_CACHE("llama-2-70b", 8, 4096) > 10, "big", "small")', "big"),
    ('=SUM(MEM_TABLE("llama-2-70b", "inference", 8, 4096, "h100-sxm"))', None),
])
def test_excel_operators_and_functions(shell, formula, expected):
    got = xl(shell, formula)
    if expected is None:             # SUM over a spilled table adds its numbers
        table = udfs.MEM_TABLE("llama-2-70b", "inference", 8.0, 4096.0, "h100-sxm")
        expected = sum(v for row in table[1:] for v in row if isinstance(v, float))
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-12)
    else:
        assert got == expected


def test_names_from_the_notebook(shell):
    shell.user_ns.update(batch_n=8, model_name="llama-2-70b",
                         frame=pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}))
    assert xl(shell, "=KV_CACHE(model_name, batch_n, 4096)") == \
        udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0)
    assert xl(shell, "=KV_CACHE(MODEL_NAME, Batch_N, 4096)") == \
        udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0)          # names ignore case, as in Excel
    assert xl(shell, "=INDEX(frame, 3, 2)") == 4.0          # a DataFrame: header row first
    run(shell, "value = %xl =KV_CACHE(\"llama-2-70b\", 8, 4096) * 2")
    assert shell.user_ns["value"] == pytest.approx(2 * 10.73741824, rel=1e-15)


# --------------------------------------------------------------------- sheets

SHEET = '''# a sheet: each line may use the names above it
model = "llama-2-70b"
batch = 8
seq = 512 + 256
tp_ = 8
kv = =KV_CACHE(model, batch, seq, "bf16", tp_)
total = INFER_MEM(model, batch, seq, , , tp_)
gpus = ROUNDUP(total * tp_ / GPU_SPEC("h100-sxm", "memory_gb"), 0)
fits = INFER_FITS(model, "h100-sxm", batch, seq, , , tp_)
table = MEM_TABLE(model, "inference", batch, seq, "h100-sxm")
'''


def test_sheet_values_table_and_namespace(shell):
    sheet = shell.run_cell_magic("xlsheet", "", SHEET)
    assert sheet.errors == []
    assert list(sheet.table.columns) == ["line", "name", "formula", "value"]
    assert list(sheet.table["name"]) == ["model", "batch", "seq", "tp_", "kv", "total",
                                         "gpus", "fits", "table"]
    assert list(sheet.table["line"]) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert sheet.table["formula"][4] == '=KV_CACHE(model, batch, seq, "bf16", tp_)'
    ns = shell.user_ns
    assert ns["model"] == "llama-2-70b" and ns["batch"] == 8 and ns["seq"] == 768
    assert ns["kv"] == udfs.KV_CACHE("llama-2-70b", 8.0, 768.0, "bf16", 8.0)
    total = udfs.INFER_MEM("llama-2-70b", 8.0, 768.0, None, None, 8.0)
    assert ns["total"] == total
    assert ns["gpus"] == math.ceil(total * 8 / 80)
    assert ns["fits"] is udfs.INFER_FITS("llama-2-70b", "h100-sxm", 8.0, 768.0, None, None,
                                         8.0)
    table = udfs.MEM_TABLE("llama-2-70b", "inference", 8.0, 768.0, "h100-sxm")
    assert ns["table"].values.tolist() == table[1:]
    html = sheet._repr_html_()
    assert "<code>=KV_CACHE(model, batch, seq, &quot;bf16&quot;, tp_)</code>" in html
    # a later %xl reads the sheet's names
    assert xl(shell, "=kv * 2") == 2 * ns["kv"]


def test_sheet_errors_point_to_the_line_and_the_argument(shell):
    sheet = shell.run_cell_magic("xlsheet", "", '''model = "llama-2-70b"
batch = 8
kv = KV_CACHE(model, batch, 4096, "bf16", 3)
double = kv * 2
fine = batch + 1
wrong = KV_CACHE(model, "eight", 4096)
''')
    assert sheet.errors == [
        "line 3 (kv): #VALUE! tp must be a divisor of num_heads=64, got 3",
        "line 4 (double): #VALUE! because kv (line 3) is an error",
        "line 6 (wrong): #VALUE! batch must be a positive integer, got 'eight'",
    ]
    assert sheet.values["fine"] == 9          # the other lines are evaluated
    assert sheet.values["kv"] == "#VALUE! tp must be a divisor of num_heads=64, got 3"
    assert "background:#FFC7CE" in sheet._repr_html_()


@pytest.mark.parametrize("cell,message", [
    ("a = b + 1\nb = a + 1\n", "line 1 (a): circular reference: a → b → a"),
    ("a = 1\nb = d * 2\nd = b + a\n", "line 2 (b): circular reference: b → d → b"),
    ("a = a + 1\n", "line 1 (a): circular reference: a uses itself"),
    ("a = later * 2\nlater = 3\n",
     "line 1 (a): later is defined below (line 2); a line may only use names defined above"),
    ("x = 1\nX = 2\n", "line 2 (X): X is already defined on line 1"),
    ("a = 1\nb = nowhere + 1\n", "line 2 (b): unknown name nowhere"),
    ("kv1 = 2\n", "'kv1' cannot be a name: Excel reads it as a cell reference"),
    ("a = 1\nb = kv_cache + a\n", "line 2 (b): kv_cache is a function: call it as KV_CACHE(…)"),
    ("a = 1\nb = NOPE(a)\n", "line 2 (b): unknown function NOPE"),
    ("a = (1 + 2\n", "line 1 (a): cannot parse =(1 + 2: mismatched parentheses"),
    ("just a formula\n", "line 1: expected name = formula"),
])
def test_sheet_structure_errors(shell, cell, message):
    before = dict(shell.user_ns)
    _, error = run(shell, "%%xlsheet\n" + cell)
    assert isinstance(error, UsageError)
    assert message in str(error)
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*").replace("+", r"\+")):
        evaluate_sheet(cell)
    # nothing was evaluated, nothing assigned
    assert {k: v for k, v in shell.user_ns.items() if k in before} .keys() == before.keys()
    assert "a" not in shell.user_ns or shell.user_ns["a"] is before.get("a")


# ------------------------------------------------------------------ hostile input

def hostile(path):
    p = str(path).replace('"', "")
    return [
        '=__import__("os")',
        f'=__import__("os").system("touch {p}")',
        f'=__import__("pathlib").Path("{p}").touch()',
        f'=open("{p}", "w")',
        f'=exec("open(\'{p}\', \'w\')")',
        f'=eval("open(\'{p}\', \'w\')")',
        f'=OPEN("{p}", "w")',
        f'=SYSTEM("touch {p}")',
        f'=WEBSERVICE("file://{p}")',
        f'=LAMBDA(x, x)("{p}")',
        f'=[1]Sheet1!A1 & "{p}"',
        f'=INDIRECT("{p}")',
        '=A1 + 1',
        '=os',
        '=get_ipython',
    ]


def test_hostile_formulas_execute_nothing(shell, tmp_path):
    import os
    target = tmp_path / "created-by-a-formula"
    shell.user_ns["os"] = os
    for formula in hostile(target):
        _, error = run(shell, "%xl " + formula)
        assert isinstance(error, UsageError), formula
        assert str(error) and "Traceback" not in str(error)
        with pytest.raises(FormulaError):
            evaluate_formula(formula, shell.user_ns)
        _, error = run(shell, f"%%xlsheet\nharmless = 1\nevil = {formula}\n")
        assert isinstance(error, UsageError), formula
        assert str(error).startswith("line 2 (evil): ")
        assert "harmless" not in shell.user_ns      # checked before anything ran
    assert not target.exists()
    # Python in a sheet line is not a formula
    for line in (f"import os; os.system('touch {target}')",
                 f"__import__('os').system('touch {target}')",
                 f"x = 1; open('{target}', 'w')",
                 f"_ = __import__('os').system('touch {target}')",
                 "__builtins__ = {}",
                 "get_ipython = 1",
                 "os = 1"):
        _, error = run(shell, "%%xlsheet\n" + line + "\n")
        assert isinstance(error, UsageError), line
    assert not target.exists()
    assert shell.user_ns["os"] is os
    # a text that looks like Python is only a text
    text = f"__import__('os').system('touch {target}')"
    assert xl(shell, '="' + text.replace('"', '""') + '"') == text
    assert udfs.KV_CACHE(text, 8.0, 4096.0).startswith("#VALUE! unknown model")
    assert xl(shell, f'=KV_CACHE("{text}", 8, 4096)') == udfs.KV_CACHE(text, 8.0, 4096.0)
    assert not target.exists()
    # a path in a formula is a text, never a file to read (a config.json there is ignored)
    config = tmp_path / "config.json"
    config.write_text('{"num_hidden_layers": 2, "hidden_size": 64}')
    assert xl(shell, f'=KV_CACHE("{config}", 8, 4096)').startswith("#VALUE! unknown model")


def test_unknown_functions_suggest_the_catalogue(shell):
    _, error = run(shell, '%xl =KV_CACHES("llama-2-70b", 8, 4096)')
    assert "unknown function KV_CACHES; did you mean KV_CACHE" in str(error)
    _, error = run(shell, "%xl =kv_cache")
    assert "KV_CACHE is a function" in str(error) or "kv_cache is a function" in str(error)
    _, error = run(shell, "%xl")
    assert isinstance(error, UsageError)


def test_formulas_package_is_left_as_it_was(shell):
    """The catalogue is offered by a parser of our own: other users of ``formulas`` in
    the process see no new functions and their own LAMBDA/LET still parse."""
    import formulas
    from formulas.functions import get_functions, not_implemented
    xl(shell, '=KV_CACHE("llama-2-70b", 8, 4096)')
    assert "KV_CACHE" not in get_functions()
    assert get_functions()["KV_CACHE"] is not_implemented
    func = formulas.Parser().ast("=SUM(1, 2) + LET(x, 2, x * 3)")[1].compile()
    assert float(func()) == 9.0


# -------------------------------------------- every function of the catalogue, via %xl

def _readme_examples() -> list:
    """The example formula of each Excel function in the README's table."""
    from pathlib import Path
    import re
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text.split("## Excel functions", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `[A-Z_]+\(.*?\| `(=[A-Z_]+\(.*?\))` \|", section, re.M)


def _excel_args(formula: str) -> list:
    """The arguments of ``=F(a, b, , "c")`` as Excel passes them to a UDF."""
    inner = formula[formula.index("(") + 1:-1]
    args, current, quoted = [], "", False
    for ch in inner + ",":
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    if args == [""]:
        return []
    return [None if a == "" else a[1:-1].replace('""', '"') if a.startswith('"')
            else float(a) for a in args]


def test_every_catalogue_function_through_xl(shell):
    examples = _readme_examples()
    functions = {f[1:f.index("(")] for f in examples}
    assert functions == set(udfs.CATALOGUE)          # the table lists every function
    for formula in examples:
        name = formula[1:formula.index("(")]
        expected = udfs.CATALOGUE[name](*_excel_args(formula))
        got = evaluate_formula(formula)
        assert got == expected, formula
        shown = xl(shell, formula)
        if isinstance(expected, list):
            assert list(shown.columns) == expected[0]
        else:
            assert shown == expected


def test_sheet_refuses_to_shadow_builtins_and_variables(shell):
    """``max = MAX_BATCH(…)`` would replace Python's max() in the notebook: refused, as is a
    notebook variable no sheet made, unless the cell asks with --replace."""
    import builtins
    _, error = run(shell, '%%xlsheet\nmax = MAX_BATCH("llama-2-70b", "h100-sxm", 4096)\n')
    assert isinstance(error, UsageError) and "max is a Python builtin" in str(error)
    assert shell.user_ns.get("max", builtins.max) is builtins.max
    run(shell, "planned_gpus = 16")
    _, error = run(shell, "%%xlsheet\nplanned_gpus = 8\n")
    assert isinstance(error, UsageError) and "already a variable in the notebook" in str(error)
    assert shell.user_ns["planned_gpus"] == 16
    sheet = shell.run_cell_magic("xlsheet", "--replace", "planned_gpus = 8\n")
    assert sheet.errors == [] and shell.user_ns["planned_gpus"] == 8
    # a sheet may rerun: the names it made are its own
    shell.run_cell_magic("xlsheet", "", "sheet_made = 1\n")
    shell.run_cell_magic("xlsheet", "", "sheet_made = 2\n")
    assert shell.user_ns["sheet_made"] == 2
    with pytest.raises(UsageError, match="takes only --replace"):
        shell.run_cell_magic("xlsheet", "--force", "a = 1\n")
