"""plan_serving(): the cheapest fleet that meets the targets, checked against serve()."""

from __future__ import annotations

import numpy as np
import pytest

import xlcalc
from xlcalc.errors import XlcalcError
from xlcalc.sizing import pareto_flags, serve

LOAD = dict(request_rate=40.0, ttft_ms_max=40, tpot_ms_max=5)   # targets that bind


@pytest.fixture(scope="module")
def plan():
    return xlcalc.plan_serving("llama-3.1-8b", 2048, 256, gpus=["h100-sxm", "a100-80gb"],
                               dtypes=["bf16", "fp8"], concurrencies=[8, 32, 64, 128],
                               extra_replicas=range(6), **LOAD)


def _serve_row(model, isl, osl, row, **load):
    """serve() with the plan's row as its arguments."""
    pd_on = bool(row["disaggregated"])
    return serve(model, row["gpu"], isl, osl, tp=int(row["tp"]), pp=int(row["pp"]),
                 ep=int(row["ep"]), dp_attention=int(row["dp_attention"]), dtype=row["dtype"],
                 concurrency=int(row["concurrency"]), replicas=int(row["replicas"]),
                 disaggregated=pd_on,
                 prefill_tp=int(row["prefill_tp"]) if pd_on else None,
                 prefill_workers=int(row["prefill_workers"]) if pd_on else None,
                 price_per_gpu_hour=float(row["price_per_gpu_hour"]), **load)


def test_first_row_meets_every_target_and_no_cheaper_row_does(plan):
    first = plan.iloc[0]
    assert first["meets_sla"] and first["fits"] and first["stable"]
    assert first["ttft_ms"] <= LOAD["ttft_ms_max"] and first["tpot_ms"] <= LOAD["tpot_ms_max"]
    cheaper = plan[plan["cost_per_m_output_tokens"] < first["cost_per_m_output_tokens"]]
    assert len(cheaper) and not cheaper["meets_sla"].any()
    tied = plan[(plan["cost_per_m_output_tokens"] == first["cost_per_m_output_tokens"]) &
                plan["meets_sla"]]
    assert (tied["gpus"] >= first["gpus"]).all()                # ties: fewer GPUs first
    assert plan.attrs["verdict"].startswith("fits: ")
    assert f"{int(first['gpus'])} × {first['gpu']}" in plan.attrs["verdict"]


def test_rows_agree_with_serve_row_by_row(plan):
    rng = np.random.default_rng(14)
    sample = list(rng.choice(len(plan), 25, replace=False)) + [0]
    for k in sample:
        row = plan.iloc[k]
        s = _serve_row("llama-3.1-8b", 2048, 256, row, **LOAD)
        for label in ("ttft_ms", "tpot_ms", "e2e_s", "gpus", "cost_per_m_output_tokens",
                      "output_tokens_per_s_per_gpu", "tokens_per_s_per_user", "requests_per_s",
                      "cost_per_month"):
            assert s[label] == pytest.approx(row[label], rel=1e-9), (k, label)
        for label in ("fits", "stable", "meets_sla"):
            assert s[label] == bool(row[label]), (k, label)


def test_the_first_row_is_the_minimum_over_feasible_rows_computed_by_serve(plan):
    # serve() on every feasible row of one GPU type: none is cheaper than the first row
    first = plan.iloc[0]
    feasible = plan[plan["meets_sla"]]
    costs = [_serve_row("llama-3.1-8b", 2048, 256, r, **LOAD)["cost_per_m_output_tokens"]
             for _, r in feasible.head(40).iterrows()]
    assert min(costs) == pytest.approx(first["cost_per_m_output_tokens"], rel=1e-12)


def test_replicas_are_the_fewest_that_keep_up_plus_extras(plan):
    for (gpu, dtype, tp, pp, pd_on, c), rows in plan.groupby(
            ["gpu", "dtype", "tp", "pp", "disaggregated", "concurrency"]):
        if pd_on:
            continue
        r = np.sort(rows["replicas"].to_numpy())
        assert (np.diff(r) == 1).all()                 # min, min + 1, … min + 5
        base = serve("llama-3.1-8b", gpu, 2048, 256, tp=int(tp), pp=int(pp), dtype=dtype,
                     concurrency=int(c), request_rate=LOAD["request_rate"])
        assert r[0] == base["replicas"]
        break


def test_pareto_frontier(plan):
    front = plan[plan["pareto"]]
    assert len(front) >= 2
    usable = plan[plan["fits"] & plan["stable"] & plan["token_budget_ok"]]
    x, y = usable["output_tokens_per_s_per_gpu"], usable["tokens_per_s_per_user"]
    for _, p in front.iterrows():      # no usable plan beats a frontier plan on both axes
        better = (x >= p["output_tokens_per_s_per_gpu"]) & (y >= p["tokens_per_s_per_user"]) \
            & ((x > p["output_tokens_per_s_per_gpu"]) | (y > p["tokens_per_s_per_user"]))
        assert not better.any()
    off = usable[~usable["pareto"]].head(200)
    for _, p in off.iterrows():        # and every other usable plan is beaten by one
        assert ((front["output_tokens_per_s_per_gpu"] >= p["output_tokens_per_s_per_gpu"]) &
                (front["tokens_per_s_per_user"] >= p["tokens_per_s_per_user"])).any()


def test_pareto_flags_small_cases():
    x = np.array([1, 2, 3, 2, 3, 0.5])
    y = np.array([3, 2, 1, 1, 1, 3])
    assert pareto_flags(x, y).tolist() == [True, True, True, False, True, False]
    assert pareto_flags(x, y, usable=[False, True, True, True, True, True]).tolist() == \
        [False, True, True, False, True, True]


def test_nothing_fits_says_which_target_fails_first_and_by_how_much():
    frame = xlcalc.plan_serving("llama-3.1-8b", 2048, 256, request_rate=40.0,
                                ttft_ms_max=1000, tpot_ms_max=0.5, gpus=["h100-sxm"],
                                dtypes=["bf16"], concurrencies=[1, 8], extra_replicas=[0])
    assert not frame["meets_sla"].any()
    verdict = frame.attrs["verdict"]
    assert verdict.startswith("does not fit: no plan meets tpot_ms_max = 0.5;")
    alive = frame[frame["fits"] & frame["stable"] & frame["token_budget_ok"] &
                  (frame["ttft_ratio"] <= 1)]
    best = alive["tpot_ms"].min()
    assert f"misses it by {(best / 0.5 - 1) * 100:.0f} %" in verdict
    assert f"TPOT {best:,.1f} ms" in verdict

    frame = xlcalc.plan_serving("llama-3.1-405b", 2048, 256, request_rate=1.0,
                                ttft_ms_max=1000, tpot_ms_max=50, gpus=["a100-80gb"],
                                dtypes=["bf16"], tps=[1, 2], pps=[1], concurrencies=[8],
                                extra_replicas=[0], disaggregated=[False])
    assert frame.attrs["verdict"] == "does not fit: no candidate passes memory"

    frame = xlcalc.plan_serving("llama-3.1-8b", 2048, 256, request_rate=40.0,
                                ttft_ms_max=1000, tpot_ms_max=40, gpus=["h100-sxm"],
                                dtypes=["bf16"], concurrencies=[64], max_gpus=1)
    assert frame.attrs["verdict"].startswith("does not fit: no plan meets max_gpus = 1; "
                                             "the closest misses it by")


def test_moe_search_covers_ep_and_attention_dp():
    frame = xlcalc.plan_serving("mixtral-8x7b", 1024, 256, request_rate=20.0,
                                ttft_ms_max=2000, tpot_ms_max=60, gpus=["h100-sxm"],
                                dtypes=["bf16"], tps=[1, 2, 4, 8], pps=[1],
                                concurrencies=[32, 128], extra_replicas=[0, 1],
                                disaggregated=[False])
    assert set(frame["ep"]) >= {1, 2, 4, 8}
    assert set(frame["dp_attention"]) == {1, 2, 4, 8}
    # ep = tp × dp_attention where it divides the 8 experts, else only ep = 1
    ep_rows = frame[frame["ep"] > 1]
    assert (ep_rows["ep"] == ep_rows["tp"] * ep_rows["dp_attention"]).all()
    assert not ((frame["tp"] * frame["dp_attention"] > 8) & (frame["ep"] > 1)).any()
    assert frame.iloc[0]["meets_sla"]


def test_prices_override_and_missing_price():
    cheap = xlcalc.plan_serving("llama-3.1-8b", 1024, 128, request_rate=5.0, ttft_ms_max=1000,
                                tpot_ms_max=40, gpus="h100-sxm,l4", dtypes=["bf16"],
                                price_per_gpu_hour={"h100-sxm": 2.0, "l4": 0.1},
                                concurrencies=[8, 32], extra_replicas=[0])
    assert set(cheap["price_per_gpu_hour"]) == {2.0, 0.1}
    with pytest.raises(XlcalcError) as e:
        xlcalc.plan_serving("llama-3.1-8b", 1024, 128, request_rate=5.0, ttft_ms_max=1000,
                            tpot_ms_max=40, gpus="l4")
    assert e.value.argument == "price_per_gpu_hour" and "'l4'" in str(e.value)


def test_planner_argument_errors():
    with pytest.raises(XlcalcError) as e:
        xlcalc.plan_serving("llama-3.1-8b", 1024, 128, request_rate=5.0, ttft_ms_max=1000)
    assert e.value.argument == "tpot_ms_max"
    with pytest.raises(XlcalcError) as e:
        xlcalc.plan_serving("llama-3.1-8b", 1024, 128, request_rate=5.0, concurrency=10,
                            ttft_ms_max=1000, tpot_ms_max=40)
    assert e.value.argument == "concurrency"
    with pytest.raises(XlcalcError) as e:
        xlcalc.plan_serving("llama-3.1-8b", 1024, 128, request_rate=-5.0, ttft_ms_max=1000,
                            tpot_ms_max=40, gpus="h100-sxm")
    assert e.value.argument == "request_rate"
    with pytest.raises(XlcalcError) as e:
        xlcalc.plan_serving("llama-3.1-8b", 1024, 128, request_rate=5.0, ttft_ms_max=1000,
                            tpot_ms_max=40, gpus="h100-sxm", gpu_mem_util=0.8)
    assert "unknown argument" in str(e.value)


def test_closed_loop_users_and_per_user_speed_target():
    frame = xlcalc.plan_serving("llama-3.1-8b", 1024, 128, concurrency=500, ttft_ms_max=1000,
                                tokens_per_s_per_user_min=25, gpus="h100-sxm",
                                dtypes=["bf16"], concurrencies=[32, 64], extra_replicas=[0])
    first = frame.iloc[0]
    assert first["meets_sla"] and first["tokens_per_s_per_user"] >= 25
    assert first["replicas"] * first["concurrency"] > 500 or first["disaggregated"]
