"""The compiled scalar plans (``graph._compile``): the general loop's values, and a memo of
the nodes that depend on table keys alone that follows the key (a preset by its spelling,
a loaded record by identity), never its name."""

from __future__ import annotations

import numpy as np
import pytest

from formula_samples import random_context
from xlcalc import basics, graph
from xlcalc.estimate import resolve
from xlcalc.models import load_model


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a:
        return b != b
    return a is b or a == b


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("resolved", [False, True])
def test_compiled_plan_equals_the_general_loop(seed, resolved):
    """Every formula node for a random valid context: the compiled plan (first call fills
    the memo, the second reads it) gives the general loop's dictionary, in its order."""
    rng = np.random.default_rng(seed)
    ctx = random_context(rng)
    if resolved:
        ctx = resolve(ctx)                      # model and gpu as loaded records
    names = tuple(n.name for n in graph.formulas())
    slow = graph._evaluate(graph._plan(names, frozenset(ctx)), names, ctx)
    graph.evaluate(names, ctx)
    run = graph._COMPILED[(names, tuple(ctx))]
    for _ in range(2):
        fast = run(ctx)                         # raises _NotScalar if it cannot take ctx
        assert list(fast) == list(slow)
        assert all(_same(fast[k], slow[k]) for k in slow), \
            [k for k in slow if not _same(fast[k], slow[k])]


def test_memo_follows_the_record_not_its_name():
    """Two records of one name (configs that differ in depth): each call reads its own.
    KV bytes by hand: 2 (K, V) × layers × kv_heads × head_dim × 2 bytes × tokens."""
    config = dict(load_model("llama-2-7b").config)
    shallow = load_model(dict(config))
    deep = load_model(dict(config, num_hidden_layers=2 * config["num_hidden_layers"]))
    per_layer_token = 2 * 32 * 128 * 2                 # llama-2-7b: 32 KV heads of 128
    for model, layers in ((shallow, 32), (deep, 64), (shallow, 32)):
        assert basics.kv_cache_bytes(model, 2, 1000) == per_layer_token * layers * 2 * 1000


def test_memo_by_spelling_of_a_preset():
    """A preset typed in another case is the same row; llama-2-70b: 80 layers, 8 KV heads
    of 128, bf16, batch 8 × 4096 tokens at tp 1."""
    want = 2 * 80 * 8 * 128 * 2 * 8 * 4096
    for spelling in ("llama-2-70b", "Llama-2-70B", "llama-2-70b"):
        assert basics.kv_cache_bytes(spelling, 8, 4096) == want
        assert basics.kv_cache_bytes(spelling, 8, 4096, kv_dtype="fp8") == want / 2


# ------------------------------------------------------------ formulas written inline

import math  # noqa: E402

from xlcalc import expr as X  # noqa: E402
from xlcalc import estimate as E  # noqa: E402
from xlcalc.errors import XlcalcError  # noqa: E402
from xlcalc.expr import ceil, minimum, where  # noqa: E402
from xlcalc.plan_inline import SCALAR_FORMS, inline_formula  # noqa: E402

_SCALARS = [0.0, -0.0, 2.5, -2.5, 3.0, 1e300, math.nan, math.inf, -math.inf, 0, 7, -7,
            True, False, np.float64(2.5), np.float64(math.nan), np.int64(3), np.bool_(True)]


def _form_value(helper, *values):
    """``helper(*values)`` through its scalar form, the operands bound as plan variables
    (``a0``...) and again as expressions evaluated in place (``(a0 + 0 * 0)``)."""
    arity, form = SCALAR_FORMS[helper]
    env = {"_mceil": math.ceil, "_mfloor": math.floor, "_finite": math.isfinite}
    env.update({f"a{i}": v for i, v in enumerate(values)})
    plain = eval(form(*[(f"a{i}", f"a{i}") for i in range(arity)]), env)
    bound = eval(form(*[(f"(w{i} := a{i})", f"w{i}") for i in range(arity)]), dict(env))
    return plain, bound


def _same_scalar(a, b) -> bool:
    if isinstance(a, (float, np.floating)) and a != a:
        return isinstance(b, (float, np.floating)) and b != b
    return a == b and isinstance(a, bool) == isinstance(b, bool)


@pytest.mark.parametrize("helper", [X.ceil, X.floor])
def test_rounding_forms_equal_their_helper_on_every_scalar(helper):
    for x in _SCALARS:
        for got in _form_value(helper, x):
            assert _same_scalar(got, helper(x)), (helper.__name__, x, got, helper(x))


@pytest.mark.parametrize("helper", [X.minimum, X.maximum])
def test_min_max_forms_equal_their_helper_on_every_scalar(helper):
    for a in _SCALARS:
        for b in _SCALARS:
            for got in _form_value(helper, a, b):
                want = helper(a, b)
                assert _same_scalar(got, want) and type(got) is type(want), (a, b, got, want)


def test_where_form_equals_where_on_every_scalar():
    for c in [True, False, np.bool_(False), 0.0, 1.0, math.nan, 0, 3]:
        for a, b in [(1.0, 2.0), (0, 5), ("fits", "short"), (np.float64(1.5), math.nan)]:
            for got in _form_value(X.where, c, a, b):
                assert got is X.where(c, a, b) or got == X.where(c, a, b), (c, a, b)


def _eager(a, b):
    """where() computes both choices: 1/b raises even where it is not chosen."""
    return where(a > 0, a, 1.0 / b)


def _two_steps(seq_len, cap, block):
    kept = where(cap > 0, minimum(seq_len, cap), seq_len)
    return ceil(kept / block) * block


def test_inlined_function_evaluates_like_the_call():
    """The written-out body raises where the call raises, and gives the call's value
    (by hand: min(1000, 300) = 300 rounded up to blocks of 16 = 304; no cap: 1008)."""
    env = {}
    eager = inline_formula(_eager, ["a", "b"], env)
    assert eager is not None and "_eager" not in eager        # written out, not called
    with pytest.raises(ZeroDivisionError):
        _eager(1.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        eval(eager, dict(env, a=1.0, b=0.0))
    steps = inline_formula(_two_steps, ["s", "c", "k"], env)
    assert steps is not None and "where_" not in steps and "ceil_" not in steps
    assert eval(steps, dict(env, s=1000.0, c=300.0, k=16.0)) == 304.0 == \
        _two_steps(1000.0, 300.0, 16.0)
    assert eval(steps, dict(env, s=1000.0, c=0.0, k=16.0)) == 1008.0


# ------------------------------------------------------- positional plans (hot path)

def test_scalar_function_runs_the_compiled_plan(monkeypatch):
    """After its first call, a scalar call never goes through estimate(): llama-2-70b,
    80 layers × 8 KV heads × 128 × 2 (K, V) × 2 bytes × 8 × 4096 tokens."""
    want = 80 * 8 * 128 * 2 * 2 * 8 * 4096
    assert basics.kv_cache_bytes("llama-2-70b", 8, 4096) == want
    monkeypatch.setattr(E, "_estimate", None)        # the general path now fails
    assert basics.kv_cache_bytes("llama-2-70b", 8, 4096) == want
    assert basics.kv_cache_bytes(load_model("llama-2-70b"), 8.0, 4096.0) == want


def test_scalar_function_takes_the_general_path_for_the_rest():
    """Arrays, an argument left out (None), a model given as a config dict: estimate's
    values and errors (qwen2.5-7b: 28 layers × 4 KV heads × 128 × 2 × 2 bytes per token)."""
    per_token = 28 * 4 * 128 * 2 * 2
    got = basics.kv_cache_bytes("qwen2.5-7b", np.array([1.0, 2.0]), 100)
    assert list(got) == [per_token * 100, per_token * 200]
    config = dict(load_model("qwen2.5-7b").config)
    assert basics.kv_cache_bytes(config, 1, 100) == per_token * 100
    with pytest.raises(XlcalcError, match="missing input 'tp'"):
        basics.kv_cache_bytes("qwen2.5-7b", 1, 100, tp=None)
    with pytest.raises(XlcalcError, match="batch"):
        basics.kv_cache_bytes("qwen2.5-7b", -1, 100)


def test_relation_check_follows_the_model():
    """tp=8 divides llama-2-70b's 64 heads, not qwen2.5-7b's 28: a check passed for one
    model is not taken for the other, and a failed one fails every time."""
    assert basics.kv_cache_bytes("llama-2-70b", 1, 16, tp=8) == 80 * 1 * 128 * 2 * 2 * 16
    for _ in range(2):
        with pytest.raises(XlcalcError, match="tp must be a divisor of num_heads=28"):
            basics.kv_cache_bytes("qwen2.5-7b", 1, 16, tp=8)


def test_weights_memory_scalar_path_fills_the_serving_defaults(monkeypatch):
    """llama-2-70b by hand: 80 layers × (2 × 8192² attention q/o + 2 × 8192 × 1024 k/v +
    3 × 8192 × 28672 MLP + 2 × 8192 norms) + 2 × 32000 × 8192 embeddings + 8192 = 68,976,648,192
    parameters; bf16 split 8 ways.  The cell's call needs no _inputs(); a left-out dtype, a
    group size or an override take the general path with its defaults."""
    from xlcalc import serving
    params = 80 * (2 * 8192 ** 2 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192) + \
        2 * 32000 * 8192 + 8192
    assert params == 68_976_648_192
    want = params * 2 / 8
    assert serving.weights_memory("llama-2-70b", "bf16", 8) == want
    assert serving.weights_memory("llama-2-70b", None, 8) == want           # bf16 default
    assert serving.weights_memory("llama-2-70b", "bf16", 8, quant_group_size=64) == want
    with pytest.raises(XlcalcError, match="unknown engine 'nope'"):
        serving.weights_memory("llama-2-70b", "bf16", 8, engine="nope")
    monkeypatch.setattr(serving, "_inputs", None)          # the general path now fails
    assert serving.weights_memory("llama-2-70b", "bf16", 8.0) == want
    assert serving.weights_memory("llama-2-70b", "fp16", 8.0) == want         # 2 bytes too


def test_breakdown_series_own_their_index():
    """A breakdown's Series shares the labels' index object with no other: renaming one
    leaves the next as built (llama-2-70b total by hand above: 68,976,648,192)."""
    first = basics.params("llama-2-70b")
    first.index.name = "renamed"
    second = basics.params("llama-2-70b")
    assert second.index.name is None and first.index is not second.index
    assert second["total"] == 68_976_648_192 and second.dtype == first.dtype
