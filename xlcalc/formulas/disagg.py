"""Prefill/decode disaggregation, and the serving figures of either layout.

DistServe (Zhong et al., OSDI 2024), Splitwise and NVIDIA Dynamo run prompts and decodes on
separate workers: ``prefill_workers`` instances of ``prefill_tp`` GPUs prefill prompts one
at a time (no decode work in their steps) and ship each request's KV cache to one of
``replicas`` decode workers (each ``tp × dp_attention × pp`` GPUs, with its own
``concurrency``), which only decode (TPOT without interleaved prefill).

* **TTFT** = a prefill worker's M/D/1 wait (DistServe §3.1: ``λ D² / (2 (1 − ρ))`` with
  ``λ = rate / prefill_workers``) + the prompt's prefill ``D`` (roofline at ``prefill_tp``,
  batch 1) + the KV transfer to the decode worker over the prefill worker's ``prefill_tp``
  network links (:func:`~.comm.kv_transfer_s`).
* **Decode** workers wait for a free slot (G/G/c as in aggregated serving); that wait
  delays the second token and counts in the end-to-end latency.
* **Balance**: a decode worker completes ``c / S_d`` requests/s (``S_d`` = the decode slot
  time); a prefill worker ``1 / D``; prefill workers per decode worker that match them is
  ``c D / S_d`` (:func:`pd_balance_ratio`).  The fewest prefill workers that meet the TTFT
  target invert the M/D/1 wait: ``W ≤ B ⇔ λ ≤ 2B / (D² + 2BD)`` per worker, with ``B`` the
  target less ``D`` and the transfer.

The ``serve_*`` nodes pick the layout by ``disaggregated`` (0 or 1), so one vectorised
evaluation compares aggregated and disaggregated plans row by row.
"""

from ..expr import both, ceil, either, eq, floor, maximum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .comm import chosen_link, kv_transfer_s, tp_comm_s
from .efficiency import gemm_seconds
from .flops import prefill_attention_flops, prefill_linear_flops
from .serving_load import _safe, ggc_wait_s, md1_wait_s

B = "bytes"
S = "s"

register_terms(
    Term("disaggregated", "1: prefill and decode on separate workers (DistServe/Dynamo); "
         "0: aggregated serving with chunked prefill", "", "flag", 0, default=0,
         sample=(0, 1)),
    Term("prefill_tp", "tensor-parallel degree of a prefill worker", "GPUs",
         sample=(1, 2, 8), default=1, maximum=65536,
         relations=(("num_heads", lambda v, o: _divides(o, v),
                     "a divisor of num_heads={other_value}"),)),
    Term("prefill_workers", "prefill workers of prefill_tp GPUs (default: the fewest that "
         "meet ttft_ms_max at the offered load)", "workers", sample=(1, 2, 8), maximum=1e7),
)


def _divides(total, part):
    return eq(total % part, 0)


# ------------------------------------------------------------- a prefill worker

derive("prefill_linear_flops_per_request", prefill_linear_flops, "FLOPs", "exact prefill "
       "GEMM FLOPs of one prompt (batch 1)", batch=1)
derive("prefill_attention_flops_per_request", prefill_attention_flops, "FLOPs", "exact "
       "prefill attention FLOPs of one prompt (batch 1)", batch=1)


@formula(S, "roofline of one prompt at prefill_tp: max(compute, memory) + TP all-reduces")
def pd_prefill_s(prefill_linear_flops_per_request, prefill_attention_flops_per_request,
                 model_weights_bytes, kv_transfer_bytes, prefill_tp, peak_tflops, gemm_eff,
                 attention_compute_eff, gemm_fixed_s, step_gemms, hbm_bytes_per_s,
                 num_layers, prompt_len, hidden_size, act_dtype_bytes, gpus_per_node,
                 intra_node_gb_per_s, inter_node_gb_per_s, link_eff, scale_out_eff,
                 tp_allreduce_latency_us,
                 engine_step_overhead_s):
    """One prompt's prefill on a prefill worker: its GEMMs on ``prefill_tp`` GPUs at the
    achieved rate plus their fixed times and its attention at the fused kernel's rate
    (FLOPs / (``prefill_tp × peak × mfu``) with an explicit ``mfu``), or its weights read
    and KV written per GPU over the achieved bandwidth, whichever is longer, plus the
    exposed tensor-parallel all-reduces and the engine's step overhead."""
    rate = prefill_tp * peak_tflops * 1e12
    compute = gemm_seconds(prefill_linear_flops_per_request, step_gemms, rate * gemm_eff,
                           gemm_fixed_s) + \
        prefill_attention_flops_per_request / (rate * attention_compute_eff)
    memory = (model_weights_bytes + kv_transfer_bytes) / prefill_tp / hbm_bytes_per_s
    link, eff = chosen_link(prefill_tp <= gpus_per_node, intra_node_gb_per_s,
                            inter_node_gb_per_s, link_eff, scale_out_eff)
    comm = tp_comm_s(num_layers, 1, prompt_len, hidden_size, act_dtype_bytes, prefill_tp,
                     link, eff, tp_allreduce_latency_us)
    return maximum(compute, memory) + comm + engine_step_overhead_s


derive("pd_kv_transfer_s", kv_transfer_s, S, "seed 002 §五 / DistServe §4: the prompt's KV "
       "over the prefill worker's network links", tp="prefill_tp")


@formula(B, "weights + one prompt's KV + the engine's activations and non-torch memory")
def pd_prefill_total_bytes(model_weights_bytes, kv_transfer_bytes,
                           profiled_activation_whole_bytes, engine_sampler_bytes,
                           engine_activation_counted, prefill_tp, infer_reserve_bytes,
                           engine_non_torch_tp_bytes):
    """Memory of a prefill worker's GPU: the whole model and one prompt's KV split
    ``prefill_tp`` ways, the engine's activation peak (its forward pass split
    ``prefill_tp`` ways, or its sampler run) and non-torch memory."""
    activation = engine_activation_counted * maximum(
        profiled_activation_whole_bytes / prefill_tp, engine_sampler_bytes)
    buffers = where(prefill_tp > 1, engine_non_torch_tp_bytes, 0)
    return (model_weights_bytes + kv_transfer_bytes) / prefill_tp + activation + \
        infer_reserve_bytes + buffers


# -------------------------------------------------------------- decode workers

@formula(S, "decode-only step over the tokens it emits")
def pd_tpot_s(serve_decode_full_step_s, accepted_tokens_per_step):
    """Time per output token on a decode worker (no prefill in its steps)."""
    return serve_decode_full_step_s / accepted_tokens_per_step


@formula(S, "a decode slot is held for output_len − 1 steps")
def pd_slot_s(output_len, pd_tpot_s):
    """Time a request holds a decode worker's slot (at least one step)."""
    return maximum(output_len - 1, 1) * pd_tpot_s


@formula("", "DistServe: prefill workers per decode worker that match their throughputs")
def pd_balance_ratio(concurrency, pd_slot_s, pd_prefill_s):
    """The x:y ratio that balances the load: a decode worker completes ``c / S_d``
    requests/s, a prefill worker ``1 / D``: ``x / y = c D / S_d``."""
    return maximum(concurrency, 1) * pd_prefill_s / pd_slot_s


@formula("requests/s", "the request rate, or a closed loop of users")
def pd_offered_rate(request_rate, concurrent_users, pd_prefill_s, pd_kv_transfer_s,
                    pd_slot_s):
    """Requests per second offered to a disaggregated fleet (as :func:`agg_offered_rate`)."""
    return where(request_rate > 0, request_rate,
                 concurrent_users / (pd_prefill_s + pd_kv_transfer_s + pd_slot_s))


@formula("replicas", "decode slots below utilisation 1")
def pd_replicas_min(pd_offered_rate, pd_slot_s, concurrency):
    """Fewest decode workers that keep their slots stable: more than ``λ S_d / c``."""
    return floor(pd_offered_rate * pd_slot_s / maximum(concurrency, 1)) + 1


@formula(S, "the TTFT target less the prefill and the KV transfer")
def pd_wait_budget_s(ttft_ms_max, pd_prefill_s, pd_kv_transfer_s):
    """Seconds of queueing the TTFT target leaves a disaggregated request."""
    return ttft_ms_max / 1000 - pd_prefill_s - pd_kv_transfer_s


@formula("workers", "M/D/1 inverted: λ ≤ 2B / (D² + 2BD) per worker", input_default=True)
def prefill_workers(pd_offered_rate, pd_prefill_s, pd_wait_budget_s):
    """Fewest prefill workers whose M/D/1 wait meets the TTFT target (``λ (D² + 2BD) /
    (2B)``, rounded up) and that keep up (more than ``λ D``); when the target leaves no
    time to wait, the fewest that keep up."""
    rate, d, b = pd_offered_rate, pd_prefill_s, pd_wait_budget_s
    stable = floor(rate * d) + 1
    for_ttft = ceil(rate * (d * d + 2 * b * d) / (2 * _safe(b)))
    return maximum(stable, where(b > 0, for_ttft, 0))


@formula("workers", "the x:y ratio times the decode workers")
def prefill_workers_balanced(replicas, pd_balance_ratio):
    """Prefill workers that match ``replicas`` decode workers' throughput."""
    return ceil(replicas * pd_balance_ratio)


@formula(S, "M/D/1 (DistServe §3.1) per prefill worker")
def pd_prefill_wait_s(pd_offered_rate, prefill_workers, pd_prefill_s):
    """Mean wait for a prefill worker."""
    return md1_wait_s(pd_offered_rate / prefill_workers, pd_prefill_s)


@formula(S, "G/G/c per decode worker (Sakasegawa)")
def pd_decode_wait_s(pd_offered_rate, replicas, pd_slot_s, concurrency):
    """Mean wait for a decode slot after the KV transfer (delays the second token)."""
    return ggc_wait_s(pd_offered_rate / replicas, pd_slot_s, concurrency)


@formula(S, "DistServe: TTFT = prefill queue + prefill + KV transfer")
def pd_ttft_s(pd_prefill_wait_s, pd_prefill_s, pd_kv_transfer_s, engine_request_overhead_s):
    """Mean time to first token of disaggregated serving (with the engine's per-request
    overhead)."""
    return pd_prefill_wait_s + pd_prefill_s + pd_kv_transfer_s + engine_request_overhead_s


@formula(S, "TTFT + decode slot wait + (output_len − 1) × TPOT")
def pd_e2e_s(pd_ttft_s, pd_decode_wait_s, output_len, pd_tpot_s):
    """Mean end-to-end latency of one disaggregated request."""
    return pd_ttft_s + pd_decode_wait_s + (output_len - 1) * pd_tpot_s


@formula("", "prefill and decode queues below utilisation 1")
def pd_stable(pd_offered_rate, prefill_workers, pd_prefill_s, replicas, pd_slot_s,
              concurrency):
    """TRUE when both the prefill and the decode workers keep up with the load."""
    return both(pd_offered_rate * pd_prefill_s < prefill_workers,
                pd_offered_rate * pd_slot_s < replicas * maximum(concurrency, 1))


@formula("requests/s", "the slower side sets the throughput")
def pd_capacity_requests_per_s(prefill_workers, pd_prefill_s, replicas, concurrency,
                               pd_slot_s):
    """Most requests per second the disaggregated fleet completes: its prefill workers'
    ``x / D`` or its decode workers' ``y c / S_d``, whichever is less."""
    decode = replicas * maximum(concurrency, 1) / pd_slot_s
    return where(prefill_workers / pd_prefill_s < decode, prefill_workers / pd_prefill_s,
                 decode)


@formula("GPUs", "x prefill workers × prefill_tp + y decode workers × their GPUs")
def pd_gpus(prefill_workers, prefill_tp, replicas, instance_gpus):
    """GPUs of a disaggregated fleet."""
    return prefill_workers * prefill_tp + replicas * instance_gpus


@formula("", "split rule: the prefill workers' share of the fleet")
def pd_input_cost_share(prefill_workers, prefill_tp, pd_gpus):
    """Share of a disaggregated fleet's cost charged to input tokens: its prefill GPUs."""
    return prefill_workers * prefill_tp / pd_gpus


# --------------------------------------------------------- either layout

@formula("replicas", "the fewest stable replicas (decode workers) + extra_replicas",
         input_default=True)
def replicas(disaggregated, pd_replicas_min, agg_replicas_min, extra_replicas):
    """Serving instances (decode workers when disaggregated) when not given: the fewest
    that keep the offered load stable, plus ``extra_replicas``."""
    return where(disaggregated > 0, pd_replicas_min, agg_replicas_min) + extra_replicas


def _pick(disaggregated, pd, agg):
    return where(disaggregated > 0, pd, agg)


@formula("workers", "prefill workers of a disaggregated plan, 0 for aggregated serving")
def serve_prefill_workers(disaggregated, prefill_workers):
    """Prefill workers the plan runs (none when aggregated)."""
    return where(disaggregated > 0, prefill_workers, 0)


@formula(S, "aggregated or disaggregated, by `disaggregated`")
def serve_ttft_s(disaggregated, pd_ttft_s, agg_ttft_s):
    """Mean time to first token at the offered load."""
    return _pick(disaggregated, pd_ttft_s, agg_ttft_s)


@formula(S, "aggregated or disaggregated, by `disaggregated`")
def serve_tpot_s(disaggregated, pd_tpot_s, agg_tpot_s):
    """Mean time per output token."""
    return _pick(disaggregated, pd_tpot_s, agg_tpot_s)


@formula(S, "aggregated or disaggregated, by `disaggregated`")
def serve_e2e_s(disaggregated, pd_e2e_s, agg_e2e_s):
    """Mean end-to-end latency of a request."""
    return _pick(disaggregated, pd_e2e_s, agg_e2e_s)


@formula("GPUs", "aggregated or disaggregated, by `disaggregated`")
def serve_gpus(disaggregated, pd_gpus, agg_gpus):
    """GPUs of the fleet."""
    return _pick(disaggregated, pd_gpus, agg_gpus)


@formula("", "both layouts need the decode side to fit; PD its prefill workers too")
def serve_plan_fits(disaggregated, serve_fits, pd_prefill_total_bytes, infer_budget_bytes):
    """TRUE when every GPU's memory fits (a prefill worker's too, when disaggregated)."""
    prefill = pd_prefill_total_bytes <= infer_budget_bytes
    return both(serve_fits, either(disaggregated < 1, prefill))


@formula("", "aggregated or disaggregated, by `disaggregated`")
def serve_stable(disaggregated, pd_stable, agg_stable):
    """TRUE when the fleet keeps up with the offered load."""
    return _pick(disaggregated, pd_stable, agg_stable)


@formula("requests/s", "aggregated or disaggregated, by `disaggregated`")
def serve_capacity_requests_per_s(disaggregated, pd_capacity_requests_per_s,
                                  agg_capacity_requests_per_s):
    """Most requests per second the fleet completes."""
    return _pick(disaggregated, pd_capacity_requests_per_s, agg_capacity_requests_per_s)


@formula("requests/s", "the offered load when the fleet keeps up, else its capacity")
def serve_requests_per_s(disaggregated, pd_offered_rate, agg_offered_rate,
                         serve_capacity_requests_per_s):
    """Requests per second served: the offered load up to the fleet's capacity; the
    capacity when no load is given (``request_rate`` and ``concurrent_users`` 0)."""
    offered = _pick(disaggregated, pd_offered_rate, agg_offered_rate)
    return where(both(offered > 0, offered < serve_capacity_requests_per_s), offered,
                 serve_capacity_requests_per_s)


@formula("", "aggregated or disaggregated, by `disaggregated`")
def serve_input_cost_share(disaggregated, pd_input_cost_share, agg_input_cost_share):
    """Share of the fleet's cost charged to input tokens (see the split rules)."""
    return _pick(disaggregated, pd_input_cost_share, agg_input_cost_share)


@formula("", "queues stable beyond this: the load is over capacity")
def serve_utilisation(serve_requests_per_s, serve_capacity_requests_per_s, disaggregated,
                      pd_offered_rate, agg_offered_rate):
    """Offered load over the fleet's capacity (above 1: the queues grow without bound)."""
    offered = _pick(disaggregated, pd_offered_rate, agg_offered_rate)
    return where(offered > 0, offered, serve_requests_per_s) / serve_capacity_requests_per_s

