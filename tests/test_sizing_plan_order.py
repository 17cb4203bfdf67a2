"""plan_serving()'s fast paths against their plain definitions: the row order rules, the
cost sort (numpy's lexsort) and the Pareto frontier (every pair of points compared)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xlcalc
from xlcalc import sizing

LOAD = dict(request_rate=40.0, ttft_ms_max=40, tpot_ms_max=5)


@pytest.fixture(scope="module")
def plan():
    return xlcalc.plan_serving("llama-3.1-8b", 2048, 256, gpus=["h100-sxm", "a100-80gb"],
                               dtypes=["bf16", "fp8"], concurrencies=[8, 32, 64, 128],
                               extra_replicas=range(6), **LOAD)


def _axis_keys(frame):
    """The search axes of each row, in the order they nest (the lists given are ascending;
    GPU and dtype by their position in the lists, aggregated before disaggregated)."""
    return np.column_stack([
        frame["gpu"].cat.codes, frame["dtype"].cat.codes, frame["tp"], frame["pp"],
        frame["dp_attention"], frame["ep"], frame["disaggregated"],
        frame["prefill_tp"].fillna(0), frame["concurrency"], frame["extra_replicas"]])


def _lex_increasing(keys):
    """True where each row's tuple is larger than the previous row's."""
    diff = np.diff(keys, axis=0)
    first = np.argmax(diff != 0, axis=1)                   # the first column that differs
    return diff[np.arange(len(diff)), first] > 0


def test_rows_meeting_the_targets_come_first_by_cost_then_gpus_then_the_axes(plan):
    meets = plan["meets_sla"].to_numpy()
    k = int(meets.sum())
    assert 0 < k < len(plan) and meets[:k].all() and not meets[k:].any()
    lead = plan.iloc[:k]
    keys = np.column_stack([lead["cost_per_m_output_tokens"], lead["gpus"],
                            _axis_keys(lead)])
    assert _lex_increasing(keys).all()
    assert _lex_increasing(_axis_keys(plan.iloc[k:])).all()  # the others: search order
    assert list(plan.columns) == list(sizing.PLAN_COLUMNS) + ["within_max_gpus", "pareto"]
    assert plan.index.equals(__import__("pandas").RangeIndex(len(plan)))


def test_rows_are_every_candidate_that_exists_once(plan):
    # 2 GPUs × 2 dtypes × 4 tp × 3 pp × (1 + 4 prefill tp) × 4 concurrencies × 6 replica
    # counts (the a100 stores fp8 weights and computes in bf16)
    assert len(plan) == 2 * 2 * 4 * 3 * 5 * 4 * 6
    assert not plan.duplicated(["gpu", "dtype", "tp", "pp", "disaggregated", "prefill_tp",
                                "concurrency", "extra_replicas"]).any()
    aggregated = ~plan["disaggregated"]
    assert plan.loc[aggregated, ["prefill_tp", "prefill_workers"]].isna().all().all()
    assert plan.loc[~aggregated, ["prefill_tp", "prefill_workers"]].notna().all().all()
    assert (plan["within_max_gpus"] == (plan["gpus"] <= 1024)).all()
    assert list(plan["gpu"].cat.categories) == ["h100-sxm", "a100-80gb"]


def test_nothing_meets_every_row_by_cost_then_gpus():
    frame = xlcalc.plan_serving("llama-3.1-8b", 2048, 256, request_rate=40.0,
                                ttft_ms_max=1000, tpot_ms_max=0.5, gpus=["h100-sxm"],
                                dtypes=["bf16"], concurrencies=[1, 8, 64], extra_replicas=[0, 1])
    assert not frame["meets_sla"].any()
    keys = np.column_stack([frame["cost_per_m_output_tokens"], frame["gpus"],
                            _axis_keys(frame)])
    assert _lex_increasing(keys).all()


@pytest.mark.parametrize("seed", range(9))
def test_cost_sort_is_numpys_lexsort(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    cost = rng.choice([0.5, 1.0, 1.5, 2.0, -0.0, 0.0, np.inf, np.nan], n)
    gpus = rng.choice([1.0, 2.0, 4.0, 8.0, np.nan], n)      # NaN GPUs: the lexsort path
    if seed % 3 == 1:                     # no tie out of GPU order: the one-sort path
        gpus = np.where(np.isnan(cost), 1.0, np.nan_to_num(cost, posinf=9) * 4)
    elif seed % 3 == 2:                   # whole GPU counts: the packed (group, GPUs) sort
        gpus = rng.choice([1.0, 2.0, 3.0, 8.0, 1024.0, 2.0 ** 31 - 1], n)
    assert (sizing._by_cost(cost, gpus) == np.lexsort((gpus, cost))).all()


def _pareto_by_pairs(x, y, usable):
    """Every usable finite point that no such point beats (≥ on both, > on one)."""
    ok = usable & np.isfinite(x) & np.isfinite(y)
    X, Y = x[ok], y[ok]
    beaten = ((X[None, :] >= X[:, None]) & (Y[None, :] >= Y[:, None]) &
              ((X[None, :] > X[:, None]) | (Y[None, :] > Y[:, None]))).any(axis=1)
    out = np.zeros(len(x), bool)
    out[np.flatnonzero(ok)[~beaten]] = True
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("sample", [4, 2048])       # 4: the sample's prefilter runs
def test_pareto_flags_against_every_pair(seed, sample, monkeypatch):
    monkeypatch.setattr(sizing, "_PARETO_SAMPLE", sample)
    rng = np.random.default_rng(seed)
    n = 3000
    if seed % 3:                                     # ties and duplicates on a lattice
        side = 40 if seed % 3 == 1 else 6                # (few points: many duplicates)
        x = rng.integers(0, side, n)
        x, y = x.astype(float), rng.integers(0, side + 1 - x).astype(float)
    else:                                            # a curved cloud (frontier of many)
        t = rng.random(n)
        r = rng.random(n) ** 0.2
        x, y = r * np.cos(t * np.pi / 2), r * np.sin(t * np.pi / 2)
    x[rng.random(n) < 0.02] = np.nan
    y[rng.random(n) < 0.02] = np.inf
    usable = rng.random(n) < 0.9
    got = sizing.pareto_flags(x, y, usable)
    assert got.sum() >= 2
    assert (got == _pareto_by_pairs(x, y, usable)).all()


def test_number_columns_are_separate_arrays(plan):
    numbers = [plan[c].to_numpy() for c in plan.columns if plan[c].dtype == float]
    assert len(numbers) == 25
    for i, a in enumerate(numbers):
        assert not any(np.shares_memory(a, b) for b in numbers[i + 1:])


def test_spare_grids_are_only_intermediates_no_column_reads():
    grid = sizing._Grid("llama-3.1-8b", 1024, 256, request_rate=5.0, users=None,
                        ttft_ms_max=1000, tpot_ms_max=40, tokens_per_s_per_user_min=None,
                        gpus=["h100-sxm"], dtypes=["bf16"], kv_dtype="bf16", prices=None,
                        disaggregated=(False, True), tps=(1, 2), pps=(1,), eps=None,
                        dp_attentions=None, prefill_tps=None, concurrencies=(8, 16),
                        extra_replicas=(0, 1), engine="vllm", options={})
    values = grid.evaluate()
    ttft = values["serve_ttft_ms"]
    assert ttft.shape == grid.shape
    values["zz_same"] = ttft                   # another name for a grid a column reads
    values["zz_view"] = ttft[:]                # a view of it
    values["zz_copy"] = ttft.copy()            # its own memory: free to reuse
    read = {n for n in sizing.PLAN_COLUMNS.values() if n}
    before = dict(values)
    spare = grid._spare(values)
    assert any(s is before["zz_copy"] for s in spare)
    assert "zz_same" in values and "zz_view" in values and "zz_copy" not in values
    assert read <= set(values)
    for s in spare:
        assert s.shape == grid.shape and s.dtype == np.float64
        assert not any(np.may_share_memory(s, values[n]) for n in read)


def _small_grid(model="llama-3.1-8b", **kw):
    args = dict(request_rate=5.0, users=None, ttft_ms_max=1000, tpot_ms_max=40,
                tokens_per_s_per_user_min=None, gpus=["h100-sxm", "a100-80gb"],
                dtypes=["bf16", "fp8"], kv_dtype="bf16", prices=None,
                disaggregated=(False, True), tps=(1, 2), pps=(1, 2), eps=None,
                dp_attentions=None, prefill_tps=None, concurrencies=(8, 16, 64),
                extra_replicas=(0, 1, 5), engine="vllm", options={})
    args.update(kw)
    return sizing._Grid(model, 1024, 256, **args)


@pytest.mark.parametrize("model", ["llama-3.1-8b", "deepseek-v3"])
def test_lean_evaluation_and_recycled_columns_change_nothing(model):
    """evaluate_targets lets intermediates go and the frame reuses the grids it has read:
    the same frame as from every node kept (graph.evaluate)."""
    from xlcalc import graph
    grid = _small_grid(model, gpus=["h200", "b200"]) if model == "deepseek-v3" else \
        _small_grid()
    ctx = grid.context()
    targets = tuple(dict.fromkeys([n for n in sizing.PLAN_COLUMNS.values() if n] +
                                  ["peak_tflops"]))
    with np.errstate(all="ignore"):
        full = graph.evaluate(targets, ctx)
    lean = grid.evaluate()
    assert set(targets) <= set(lean) < set(full)
    assert all(graph.node(n).kind == "formula" for n in set(full) - set(lean))
    for t in targets:
        np.testing.assert_array_equal(lean[t], full[t])
    pd.testing.assert_frame_equal(grid.frame(lean, 1024), grid.frame(full, 1024),
                                  check_exact=True)


@pytest.mark.parametrize("seed", range(4))
def test_grid_pareto_equals_the_flat_frontier(seed):
    """_Grid.pareto (the best x per cell along the axes y does not vary on, then the
    frontier of those) flags what pareto_flags flags over every candidate, with ties,
    NaN, inf and unusable points."""
    grid = _small_grid()
    rng = np.random.default_rng(seed)
    y_shape = grid.shape[:-1] + (1,)              # y: no replica axis (as per user speed)
    y = rng.choice([1.0, 2.0, 3.0, np.nan, np.inf], y_shape)
    x = rng.choice([1.0, 2.0, 2.0, 5.0, np.nan, -np.inf], grid.shape)
    usable = rng.random(int(np.prod(grid.shape))) < 0.8
    got = grid.pareto(x, y, usable)
    want = sizing.pareto_flags(np.broadcast_to(x, grid.shape).ravel(),
                               np.broadcast_to(y, grid.shape).ravel(), usable)
    assert got.sum() >= 1
    assert (got == want).all()
    assert (got == _pareto_by_pairs(np.broadcast_to(x, grid.shape).ravel(),
                                    np.broadcast_to(y, grid.shape).ravel(), usable)).all()
