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
