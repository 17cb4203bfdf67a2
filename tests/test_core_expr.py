"""The expression type: Excel text, precedence, constants, and the helpers' dispatch."""

import numpy as np
import pytest

from xlcalc import expr as X
from xlcalc import graph

a, b, c = X.Name("a"), X.Name("b"), X.Name("c")


@pytest.mark.parametrize("built,text", [
    (a + b * c, "a+b*c"),
    ((a + b) * c, "(a+b)*c"),
    (a - (b - c), "a-(b-c)"),
    ((a - b) - c, "a-b-c"),
    (a / (b * c), "a/(b*c)"),
    (a / b / c, "a/b/c"),
    (a ** 2, "a^2"),
    (X.Num(2) ** (X.Num(3) ** 2), "2^(3^2)"),
    (-a ** 2, "-(a^2)"),
    ((-a) ** 2, "(-a)^2"),
    (a * -b, "a*(-b)"),
    (a - 3, "a-3"),
    (a + (-3), "a+(-3)"),
    (X.where(a > 0, "x\"y", b), 'IF(a>0,"x""y",b)'),
    (X.ceil(a / 16) * 16, "(-INT(-(a/16)))*16"),
    (X.floor(a), "INT(a)"),
    (X.maximum(a, 1), "MAX(a,1)"),
    (X.eq(a, 1), "a=1"),
    (a // b, "INT(a/b)"),
    (a % b, "MOD(a,b)"),
    (a * 1e-9, "a*0.000000001"),
    (a * 1e18, "a*1000000000000000000"),
    (a * 0.1, "a*0.1"),
])
def test_rendering(built, text):
    assert built.excel() == text


def test_formula_cannot_branch_on_a_symbol():
    with pytest.raises(TypeError, match="use xlcalc.expr.where"):
        if a > 1:
            pass


def test_non_finite_constants_are_refused():
    with pytest.raises(ValueError):
        (a * float("nan")).excel()


def test_helpers_dispatch_on_scalars_and_arrays():
    assert X.where(True, 1, 2) == 1 and X.maximum(2, 3) == 3 and X.minimum(2, 3) == 2
    assert X.ceil(2.1) == 3 and X.floor(-2.1) == -3
    arr = np.array([1.0, 5.0])
    assert list(X.maximum(arr, 2)) == [2, 5]
    assert list(X.where(arr > 2, "big", "small")) == ["small", "big"]
    assert list(X.ceil(arr / 2)) == [1, 3]


def test_render_substitutes_references():
    text = graph.render("kv_cache_bytes_seed", {"batch": X.Ref("Inputs!$B$2")}).excel()
    assert text == "2*Inputs!$B$2*seq_len*num_layers*num_kv_heads*head_dim*kv_dtype_bytes"


def test_render_lookup_needs_table_ranges():
    ranges = {"models": {"keys": "Models!$A$2:$A$40", "body": "Models!$B$2:$AZ$40",
                         "header": "Models!$B$1:$AZ$1"}}
    text = graph.render("num_layers", table_refs=ranges).excel()
    assert text == ('INDEX(Models!$B$2:$AZ$40,MATCH(model,Models!$A$2:$A$40,0),'
                    'MATCH("num_layers",Models!$B$1:$AZ$1,0))')


def test_a_context_value_overrides_the_node():
    v = graph.evaluate(["prefill_flops_rule"], params_total=7e9, batch=1, prompt_len=10)
    assert v["prefill_flops_rule"] == 2 * 7e9 * 10
