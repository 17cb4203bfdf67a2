"""What serving costs: throughput of the fleet, $ per million tokens, $ per month, the SLA.

* **price**: ``price_per_gpu_hour`` (an input); :func:`xlcalc.serve` and
  :func:`xlcalc.plan_serving` default it from the ``gpu_prices`` table
  (``xlcalc/presets/gpu_prices.json``: indicative on-demand $/GPU-hour with source, date
  and range), which a user overrides.
* **cost per million output tokens** = ``price × GPUs ÷ (3600 × output tokens/s) × 1e6``:
  the whole fleet per output token, prompts included — the usual "$ per million output
  tokens" of a deployment that does not bill input separately.
* **split rule for input vs output tokens**: the fleet's cost is shared between the two
  phases by the GPU time each takes — aggregated serving charges input tokens the
  marginal step time its interleaved prefill adds (``(step − decode-only step) / step``),
  disaggregated serving charges them its prefill workers' share of the GPUs.
  ``cost_per_m_input_tokens`` and ``cost_per_m_output_tokens_split`` are the two prices
  whose sum over a request's tokens is the fleet's cost.
* **per month**: 730 hours (24 × 365 / 12), the fleet running all the time.
"""

import json
from pathlib import Path

from ..expr import both
from ..graph import formula, lookup_node, register_table

PRICES_FILE = Path(__file__).resolve().parent.parent / "presets" / "gpu_prices.json"

#: hours in a month: 24 × 365 / 12
HOURS_PER_MONTH = 730


def gpu_prices_table():
    """The indicative prices as a DataFrame indexed by GPU preset name."""
    import pandas as pd
    data = json.loads(PRICES_FILE.read_text())
    frame = pd.DataFrame(data["prices"]).set_index("gpu")
    frame.index = [str(k).lower() for k in frame.index]
    frame.index.name = "gpu"
    return frame[["price_per_gpu_hour", "low", "high", "date", "source", "conditions"]]


register_table("gpu_prices", gpu_prices_table, "gpu",
               "indicative on-demand $/GPU-hour (xlcalc/presets/gpu_prices.json)",
               by_name=True)
lookup_node("gpu_list_price_per_hour", "gpu_prices", "gpu", column="price_per_gpu_hour",
            unit="$/GPU-h", doc="indicative on-demand price of the GPU (gpu_prices table)",
            source="xlcalc/presets/gpu_prices.json (each row's source and date)")

# price_per_gpu_hour is the glossary term of training_time (one meaning everywhere)


@formula("$/h", "price × GPUs")
def serve_cost_per_hour(price_per_gpu_hour, serve_gpus):
    """What the fleet costs per hour."""
    return price_per_gpu_hour * serve_gpus


@formula("tokens/s", "requests/s × output_len")
def serve_output_tokens_per_s(serve_requests_per_s, output_len):
    """Output tokens per second the fleet generates (at the offered load, or at capacity)."""
    return serve_requests_per_s * output_len


@formula("tokens/s", "requests/s × prompt_len")
def serve_input_tokens_per_s(serve_requests_per_s, prompt_len):
    """Prompt tokens per second the fleet prefills."""
    return serve_requests_per_s * prompt_len


@formula("tokens/s", "fleet output tokens/s ÷ GPUs")
def output_tokens_per_s_per_gpu(serve_output_tokens_per_s, serve_gpus):
    """Output tokens per second per GPU (the x axis of the Pareto frontier)."""
    return serve_output_tokens_per_s / serve_gpus


@formula("tokens/s", "1 / TPOT: the decode speed one user sees")
def serve_tokens_per_s_per_user(serve_tpot_s):
    """Tokens per second a user receives while its answer streams (the y axis)."""
    return 1 / serve_tpot_s


@formula("$/M tokens", "price × GPUs ÷ (3600 × output tokens/s) × 1e6")
def cost_per_m_output_tokens(serve_cost_per_hour, serve_output_tokens_per_s):
    """The fleet's cost per million output tokens (prompts included)."""
    return serve_cost_per_hour / (3600 * serve_output_tokens_per_s) * 1000000


@formula("$/M tokens", "split rule: the prefill's share of the fleet's GPU time")
def cost_per_m_input_tokens(serve_cost_per_hour, serve_input_cost_share,
                            serve_input_tokens_per_s):
    """Cost per million input (prompt) tokens under the split rule."""
    return serve_cost_per_hour * serve_input_cost_share / \
        (3600 * serve_input_tokens_per_s) * 1000000


@formula("$/M tokens", "split rule: the decode's share of the fleet's GPU time")
def cost_per_m_output_tokens_split(serve_cost_per_hour, serve_input_cost_share,
                                   serve_output_tokens_per_s):
    """Cost per million output tokens when input tokens pay their share (the split rule)."""
    return serve_cost_per_hour * (1 - serve_input_cost_share) / \
        (3600 * serve_output_tokens_per_s) * 1000000


@formula("$/month", "730 hours a month (24 × 365 / 12)")
def cost_per_month(serve_cost_per_hour):
    """What the fleet costs per month, running all the time."""
    return serve_cost_per_hour * HOURS_PER_MONTH


@formula("", "TTFT over its target (≤ 1 meets it)")
def serve_ttft_ratio(serve_ttft_ms, ttft_ms_max):
    """Mean time to first token over ``ttft_ms_max``."""
    return serve_ttft_ms / ttft_ms_max


@formula("", "TPOT over its target (≤ 1 meets it)")
def serve_tpot_ratio(serve_tpot_ms, tpot_ms_max):
    """Mean time per output token over ``tpot_ms_max``."""
    return serve_tpot_ms / tpot_ms_max


@formula("ms", "tpot_ms_max = 1000 / tokens_per_s_per_user_min", input_default=True)
def tpot_ms_max(tokens_per_s_per_user_min):
    """The TPOT target when only a per-user decode speed is given."""
    return 1000 / tokens_per_s_per_user_min


@formula("", "memory, token budget, stability, TTFT and TPOT targets")
def serve_meets_sla(serve_plan_fits, serve_token_budget_ok, serve_stable, serve_ttft_ratio,
                    serve_tpot_ratio):
    """TRUE when the plan fits, keeps up with the load, and meets both latency targets."""
    ok = both(both(serve_plan_fits, serve_token_budget_ok), serve_stable)
    return both(ok, both(serve_ttft_ratio <= 1, serve_tpot_ratio <= 1))


@formula("ms", "the TTFT in the unit of its target")
def serve_ttft_ms(serve_ttft_s):
    """Mean time to first token in milliseconds."""
    return serve_ttft_s * 1000


@formula("ms", "the TPOT in the unit of its target")
def serve_tpot_ms(serve_tpot_s):
    """Mean time per output token in milliseconds."""
    return serve_tpot_s * 1000
