"""Request-level serving: continuous batching with chunked prefill, at a request rate.

One serving **instance** (replica) is ``tp × dp_attention × pp`` GPUs (see
:mod:`.moe_serving` for the MoE layout) running an engine with continuous batching and
chunked prefill (vLLM's default scheduler, SARATHI-Serve, Agrawal et al. OSDI 2024):

* **the running batch** is ``concurrency`` sequences per instance, ``concurrency /
  dp_attention`` on each attention rank, stepped in ``pp`` micro-batches (one per pipeline
  stage, vLLM's virtual engines); ``concurrency=None`` in :func:`xlcalc.serve` takes the
  most the KV budget holds (:func:`serve_max_concurrency`);
* **a decode step** gives every running sequence ``draft_len + 1`` tokens to verify (1
  without speculative decoding) and emits ``accepted_tokens_per_step`` of them on average
  (MTP / speculative decoding; Leviathan et al. 2023 give the mean for an acceptance
  rate: :func:`~.latency.spec_expected_tokens`);
* **the interleaved prefill**: in steady state ``accepted_tokens_per_step / output_len`` of
  the running sequences finish per step, so as many new prompts must be prefilled per step:
  every step also carries ``micro_batch × accepted_tokens_per_step × prompt_len /
  output_len`` prefill tokens.  TPOT is that mixed step (``max(compute, memory) + comm`` per
  stage, ``pp`` stages, the draft model's steps) over the tokens it emits: the prefill work
  of chunked prefill is inside TPOT, not beside it;
* **TTFT** of one request is its prefill spread over ``ceil(prompt_len / chunk)`` steps whose
  chunk is what ``max_num_batched_tokens`` leaves after the decode tokens (each such step
  at its own, larger, step time; pipeline stages overlap the chunks), plus queueing:

  - waiting for a free slot of the running batch: the instance is ``concurrency`` servers
    holding a request for its slot time ``S`` (prefill + ``output_len − 1`` TPOTs); the
    G/G/c waiting time of Sakasegawa (1977) / Allen–Cunneen, as Hopp & Spearman's
    *Factory Physics* (3rd ed., §8.5) write it:
    ``Wq = (ca² + cs²)/2 · ρ^(√(2(c+1)) − 1) / (c (1 − ρ)) · S`` with Poisson arrivals
    (``ca² = 1``) and deterministic service (``cs² = 0``: every request has the same
    lengths), ``ρ = λ S / c``;
  - waiting for the prefill lane (one prompt's chunks at a time, FCFS): M/D/1,
    ``W = λ D² / (2 (1 − ρ))`` with ``D`` the lane's busy time per request — the model
    DistServe (Zhong et al., OSDI 2024, §3.1) uses for a prefill instance.

  ``λ`` is ``request_rate / replicas`` (requests spread evenly).  A queue with ``ρ ≥ 1``
  grows without bound: its wait is shown as :data:`OVERLOAD_S` (a finite number, so that
  workbooks keep computing) and ``stable`` is false.

TPOT is taken at the full running batch ``concurrency`` whatever the load: conservative
when the load keeps fewer sequences in flight.  Omitted (small, or engine-specific): the
chunks' attention reading their own prompt's earlier KV, CPU scheduling overhead between
steps, and cache hits of prefix caching.
"""

from ..expr import both, ceil, either, floor, log, maximum, minimum, sqrt, where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .comm import _collectives_s, pp_comm_s, ring_allreduce_bytes
from .flops import attended_token_layers, indexed_token_layers
from .capacity import max_sequences
from .efficiency import gemm_seconds
from .inference_memory import _headroom, _total
from .moe_serving import moe_layer_comm_s, visited_fraction

B = "bytes"
S = "s"

#: The wait shown for a queue whose utilisation is 1 or more (it grows without bound):
#: 1e9 s (≈ 32 years), finite so that Excel's MIN/INDEX/MATCH over a candidate grid keep
#: numbers; ``stable`` says which plans these are.
OVERLOAD_S = 1e9

register_terms(
    Term("concurrency", "sequences an instance (replica) runs at once: its continuous batch "
         "(default: the most its KV cache holds)", "sequences", sample=(1, 16, 128),
         maximum=1e7),
    Term("replicas", "serving instances of tp × dp_attention × pp GPUs (decode workers when "
         "disaggregated; default: the fewest that keep the load stable, plus extra_replicas)",
         "replicas", sample=(1, 2, 8), maximum=1e7),
    Term("extra_replicas", "replicas beyond the fewest that keep the load stable (less "
         "queueing: a lower time to first token)", "replicas", minimum=0, default=0,
         sample=(0, 1, 4), maximum=1e7),
    Term("ttft_ms_max", "time-to-first-token target (mean)", "ms", "real", 0,
         minimum_open=True, sample=(200, 1000, 5000), maximum=1e9),
    Term("tpot_ms_max", "time-per-output-token target (mean); default 1000 / "
         "tokens_per_s_per_user_min", "ms", "real", 0, minimum_open=True,
         sample=(20, 50, 100), maximum=1e9),
    Term("tokens_per_s_per_user_min", "decode speed each user must see (the same target as "
         "tpot_ms_max = 1000 / it)", "tokens/s", "real", 0, minimum_open=True,
         sample=(10, 30, 60), maximum=1e7),
    Term("accepted_tokens_per_step", "tokens a sequence emits per decode step with "
         "MTP/speculative decoding (1: none; DeepSeek-V3 reports 85-90 % acceptance of its "
         "one MTP token, about 1.85)", "tokens", "real", 1, default=1.0,
         sample=(1.0, 1.7, 2.5), group="efficiency", maximum=1025,
         relations=(("draft_len", lambda v, o: v <= o + 1,
                     "at most draft_len + 1 = {other_value} + 1 (the drafted tokens and the "
                     "target's own)"),)),
    Term("draft_params", "parameters of the draft model or MTP module kept on every GPU of a "
         "rank (0: none)", "parameters", "real", 0, default=0.0, sample=(0.0, 5e8, 1.4e10),
         group="model", maximum=1e15),
    Term("draft_layers", "layers of KV cache the draft keeps per token, at the target's "
         "per-layer size (MTP: 1; 0: none)", "layers", minimum=0, default=0,
         sample=(0, 1, 2), group="model", maximum=100000),
)


def _safe(den):
    """A denominator that is never 0 (the branch that would divide by it is not taken)."""
    return where(den > 0, den, 1)


# -------------------------------------------------------------------- the batch

@formula("tokens", "mean context of a decode step: the prompt plus half the output")
def serve_mean_context(prompt_len, output_len):
    """Mean context a decode step attends to: ``prompt_len + output_len / 2``."""
    return prompt_len + output_len / 2


@formula("sequences", "DeepSeek/SGLang DP attention: each rank holds its own sequences")
def serve_seqs_per_rank(concurrency, dp_attention):
    """Sequences on the busiest attention rank: ``ceil(concurrency / dp_attention)``."""
    return ceil(concurrency / dp_attention)


@formula("sequences", "vLLM virtual engines: pp micro-batches in flight")
def serve_micro_batch(serve_seqs_per_rank, pp):
    """Sequences one rank steps at once: its sequences over the ``pp`` micro-batches."""
    return ceil(serve_seqs_per_rank / pp)


@formula("tokens", "speculative decoding verifies draft_len + 1 tokens per sequence")
def serve_decode_tokens(serve_micro_batch, draft_len):
    """Decode tokens of one micro-step on one rank: ``draft_len + 1`` per sequence."""
    return serve_micro_batch * (draft_len + 1)


@formula("tokens", "SARATHI-Serve / vLLM chunked prefill, steady state")
def serve_prefill_tokens(serve_micro_batch, accepted_tokens_per_step, prompt_len,
                         output_len):
    """Prefill tokens interleaved into each micro-step in steady state: the sequences that
    finish per step (``accepted / output_len`` of the batch) are replaced by new prompts."""
    return serve_micro_batch * accepted_tokens_per_step * prompt_len / output_len


@formula("tokens", "decode plus interleaved prefill tokens of one micro-step")
def serve_step_tokens(serve_decode_tokens, serve_prefill_tokens):
    """Tokens one rank processes in a steady-state micro-step."""
    return serve_decode_tokens + serve_prefill_tokens


@formula("tokens", "the engine's max_num_batched_tokens (0: no chunking, the seeds' rule)")
def serve_token_budget(max_num_batched_tokens, serve_step_tokens, prompt_len):
    """Tokens one step of a rank may hold: the engine's ``max_num_batched_tokens``; an
    engine without a limit (0: the seeds) holds a whole new prompt beside the step."""
    return where(max_num_batched_tokens > 0, max_num_batched_tokens,
                 serve_step_tokens + prompt_len)


@formula("tokens", "vLLM: max_num_batched_tokens minus the running decodes")
def serve_chunk_tokens(prompt_len, serve_token_budget, serve_decode_tokens):
    """Prefill chunk a new request gets per step: the token budget left after the decode
    tokens, at most the prompt (≤ 0: the decodes fill the budget, no prefill can run)."""
    return minimum(prompt_len, serve_token_budget - serve_decode_tokens)


@formula("", "the engine's max_num_batched_tokens and max_num_seqs (0: no limit)")
def serve_token_budget_ok(serve_step_tokens, serve_chunk_tokens, serve_seqs_per_rank,
                          serve_token_budget, max_num_seqs):
    """TRUE when the steady-state step fits the engine's token budget, a new prompt still
    gets a chunk, and each rank runs at most ``max_num_seqs`` sequences."""
    seqs = either(max_num_seqs <= 0, serve_seqs_per_rank <= max_num_seqs)
    return both(both(serve_step_tokens <= serve_token_budget, serve_chunk_tokens >= 1), seqs)


# ---------------------------------------------------------------- memory per GPU
# One KV arithmetic with inference memory and capacity (.capacity, .inference_memory):
# weights (routed experts over tp × dp_attention) infer_weights_bytes, the engine's
# budget infer_budget_bytes, its KV budget kv_budget_bytes, one request's KV
# serve_kv_sequence_bytes (kv_sequence_bytes at prompt + output tokens).

@formula(B, "the routed experts' share of infer_weights_bytes")
def serve_routed_bytes(params_routed, weight_bytes_per_param, stage_layers, num_layers,
                       moe_group_gpus):
    """Routed-expert bytes on the busiest GPU (the part a step reads only where tokens go)."""
    return params_routed * weight_bytes_per_param * stage_layers / num_layers / moe_group_gpus


@formula(B, "draft model / MTP module, tensor-parallel with the target")
def serve_draft_weights_bytes(draft_params, weight_bytes_per_param, tp):
    """Draft-model (or MTP module) weight bytes per GPU, split ``tp`` ways."""
    return draft_params * weight_bytes_per_param / tp


@formula(B, "sequences of the busiest rank × KV per sequence")
def serve_kv_bytes(serve_seqs_per_rank, serve_kv_sequence_bytes):
    """KV-cache bytes on the busiest GPU at ``concurrency`` (its rank's sequences)."""
    return serve_seqs_per_rank * serve_kv_sequence_bytes


derive("serve_total_bytes", _total, B, "breakdown first: the total is the sum of its parts",
       doc="Memory of the busiest GPU at ``concurrency``: weights + draft + KV + the "
           "activation peak the engine holds back + its non-torch memory.",
       weights="infer_weights_bytes", draft="serve_draft_weights_bytes", kv="serve_kv_bytes",
       activations="engine_activation_bytes", reserve="infer_non_torch_bytes")
derive("serve_headroom_bytes", _headroom, B, "what the engine leaves for the KV cache minus "
       "the running batch's KV", doc="KV room the engine leaves on the busiest GPU minus the "
       "KV of the running batch (negative: it does not fit).", budget="infer_budget_bytes",
       total="serve_total_bytes", kv="serve_kv_bytes", free_fraction="engine_kv_free_fraction")


@formula("", "a plan that does not fit is a result, not an error")
def serve_fits(serve_headroom_bytes):
    """TRUE when the running batch's KV cache fits what the engine leaves for it."""
    return serve_headroom_bytes >= 0


derive("serve_kv_sequences", max_sequences, "sequences", "whole requests in the KV budget",
       doc="Whole finished requests (prompt + output) the busiest GPU's KV budget holds.",
       kv_sequence_bytes="serve_kv_sequence_bytes")


@formula("sequences", "vLLM: KV blocks / blocks per sequence; the engine's batch limits")
def serve_max_concurrency(serve_kv_sequences, dp_attention, pp, max_num_batched_tokens,
                          max_num_seqs, draft_len, accepted_tokens_per_step, prompt_len,
                          output_len):
    """Most sequences an instance runs at once: what each rank's KV budget holds (whole
    sequences), what the token budget allows (each sequence's decode and interleaved
    prefill tokens per step), at most ``max_num_seqs`` per rank (0 in an engine preset:
    no such limit); 0 when the weights alone do not fit."""
    kv = serve_kv_sequences
    per_sequence = draft_len + 1 + accepted_tokens_per_step * prompt_len / output_len
    tokens = pp * floor(max_num_batched_tokens / per_sequence)
    limited = where(max_num_batched_tokens > 0, minimum(kv, tokens), kv)
    return dp_attention * where(max_num_seqs > 0,
                                minimum(limited, max_num_seqs), limited)


@formula("sequences", "serve(concurrency=None): the most the KV cache holds",
         input_default=True)
def concurrency(serve_max_concurrency):
    """The running batch of an instance when not given: :func:`serve_max_concurrency`."""
    return serve_max_concurrency


# ------------------------------------------------------- one micro-step of a stage

def serve_step_linear_flops(serve_decode_tokens, serve_prefill_tokens, params_matmul_active,
                            params_routed_active, vocab_size, hidden_size, num_layers,
                            prompt_len, stage_layers, tp, moe_imbalance):
    """GEMM FLOPs the busiest GPU executes in one micro-step: every token through its
    stage's share of the weights (the routed experts at the busiest GPU's
    ``moe_imbalance``), the LM head for decode tokens and each prompt's last token."""
    share = stage_layers / num_layers
    tokens = serve_decode_tokens + serve_prefill_tokens
    head = vocab_size * hidden_size
    body = params_matmul_active - head - params_routed_active
    linear = 2 * tokens * (body + params_routed_active * moe_imbalance) * share
    lm_head = 2 * head * (serve_decode_tokens + serve_prefill_tokens / prompt_len)
    return (linear + lm_head) / tp


def serve_step_attention_flops(serve_decode_tokens, serve_prefill_tokens, num_heads,
                               attention_head_width, decode_attention_width, num_layers,
                               num_full_layers, num_sliding_layers, sliding_window,
                               num_chunked_layers, attention_chunk_size, index_topk,
                               num_attention_layers, index_num_heads, index_head_dim,
                               linear_mixer_flops_per_token, serve_mean_context,
                               prefill_attention_pairs, prefill_index_pairs, prompt_len,
                               stage_layers, tp):
    """Attention FLOPs the busiest GPU executes in one micro-step: decode attention at the
    mean context (each layer kind at its reach, over the MLA latent with the weights
    absorbed, DeepSeek-V3.2's indexer over every cached key), the prompts' causal
    attention (prefill runs MLA decompressed) and the linear layers' state work."""
    share = stage_layers / num_layers
    tokens = serve_decode_tokens + serve_prefill_tokens
    per_index = 2 * index_num_heads * index_head_dim
    decode_attention = serve_decode_tokens * (
        2 * num_heads * decode_attention_width *
        attended_token_layers(serve_mean_context, num_full_layers, num_sliding_layers,
                              sliding_window, num_chunked_layers, attention_chunk_size,
                              index_topk) +
        per_index * indexed_token_layers(serve_mean_context, num_attention_layers,
                                         index_head_dim))
    prefill_attention = serve_prefill_tokens / prompt_len * \
        (2 * num_heads * attention_head_width * prefill_attention_pairs +
         per_index * prefill_index_pairs)
    mixers = tokens * linear_mixer_flops_per_token
    return (decode_attention + prefill_attention + mixers) * share / tp


def serve_step_bytes(serve_decode_tokens, serve_prefill_tokens, serve_micro_batch,
                     dp_attention, infer_weights_bytes, serve_routed_bytes, num_experts,
                     experts_per_token, num_layers, num_full_layers, num_sliding_layers,
                     sliding_window, num_chunked_layers, attention_chunk_size, index_topk,
                     num_attention_layers, index_head_dim, serve_mean_context,
                     kv_attention_elements_per_token_layer, kv_elements_per_token_layer,
                     kv_dtype_bytes, state_bytes_per_sequence, stage_layers):
    """HBM bytes the busiest GPU moves in one micro-step: its weights (less the routed
    experts no token of the stage visits), the running sequences' KV at the mean context
    (each layer kind at its reach, every index key the indexer scores), their linear
    state read and written back, and the new tokens' KV written."""
    tokens = serve_decode_tokens + serve_prefill_tokens
    visited = visited_fraction(tokens * dp_attention, num_experts, experts_per_token)
    weights = infer_weights_bytes - serve_routed_bytes * (1 - visited)
    attended = attended_token_layers(serve_mean_context, num_full_layers, num_sliding_layers,
                                     sliding_window, num_chunked_layers,
                                     attention_chunk_size, index_topk)
    indexed = indexed_token_layers(serve_mean_context, num_attention_layers, index_head_dim)
    read = serve_micro_batch * (attended * kv_attention_elements_per_token_layer +
                                indexed * index_head_dim) * kv_dtype_bytes
    state = 2 * serve_micro_batch * state_bytes_per_sequence
    written = tokens * num_attention_layers * kv_elements_per_token_layer * kv_dtype_bytes
    return weights + (read + state + written) * stage_layers / num_layers


def serve_step_comm_s(serve_decode_tokens, serve_prefill_tokens, stage_layers, num_layers,
                      moe_layers, hidden_size, act_dtype_bytes, tp, tp_link_gb_per_s,
                      tp_link_eff, link_latency_us, tp_allreduce_latency_us, dp_attention,
                      experts_per_token, ep, moe_group_gpus, moe_imbalance, moe_link_gb_per_s,
                      moe_link_eff):
    """Seconds one stage's micro-step waits for traffic: per layer the attention output's
    tensor-parallel all-reduce (the engine's custom all-reduce latency), then the dense
    MLP's all-reduce or the MoE layer's all-to-alls and expert all-reduce
    (:mod:`.moe_serving`, the collectives' own latency)."""
    tokens = serve_decode_tokens + serve_prefill_tokens
    each = ring_allreduce_bytes(tokens * hidden_size * act_dtype_bytes, tp)
    moe_share = moe_layers / num_layers
    dense = _collectives_s(stage_layers * (2 - moe_share), each, tp > 1, tp_link_gb_per_s,
                           tp_link_eff, tp_allreduce_latency_us)
    moe = stage_layers * moe_share * moe_layer_comm_s(
        tokens, dp_attention, experts_per_token, hidden_size, act_dtype_bytes, tp, ep,
        moe_group_gpus, moe_imbalance, moe_link_gb_per_s, moe_link_eff, link_latency_us)
    return dense + moe


def serve_stage_step_s(serve_step_linear_flops, serve_step_attention_flops,
                       serve_step_bytes, serve_step_comm_s, peak_tflops, gemm_eff,
                       attention_compute_eff, gemm_fixed_s, stage_gemms, hbm_bytes_per_s,
                       engine_step_overhead_s):
    """One stage's micro-step on the busiest GPU: ``max(compute, bytes / (bandwidth ×
    bw_eff))`` plus the traffic it waits for and the engine's per-step overhead; compute
    is the GEMMs at the achieved rate plus their fixed times (:mod:`.efficiency`) and
    attention at the fused kernel's rate (with an explicit ``mfu``: FLOPs / (peak ×
    mfu))."""
    compute = gemm_seconds(serve_step_linear_flops, stage_gemms,
                           peak_tflops * 1e12 * gemm_eff, gemm_fixed_s) + \
        serve_step_attention_flops / (peak_tflops * 1e12 * attention_compute_eff)
    return maximum(compute, serve_step_bytes / hbm_bytes_per_s) + serve_step_comm_s + \
        engine_step_overhead_s


@formula("GEMMs", "the stage's layers' GEMMs and the LM head")
def stage_gemms(stage_layers, gemms_per_layer):
    """GEMM launches of one micro-step on a pipeline stage (the LM head counted on every
    stage: the busiest one)."""
    return stage_layers * gemms_per_layer + 1


_STEP_SOURCE = "roofline per GPU, SARATHI-Serve chunked prefill"
_CHUNK = dict(serve_prefill_tokens="serve_chunk_tokens")
_DECODE = dict(serve_prefill_tokens=0)
for _suffix, _bind in (("", {}), ("chunk_", _CHUNK), ("decode_", _DECODE)):
    derive(f"serve_{_suffix}step_linear_flops", serve_step_linear_flops, "FLOPs", _STEP_SOURCE,
           **_bind)
    derive(f"serve_{_suffix}step_attention_flops", serve_step_attention_flops, "FLOPs",
           _STEP_SOURCE, **_bind)
    derive(f"serve_{_suffix}step_bytes", serve_step_bytes, B, _STEP_SOURCE, **_bind)
    derive(f"serve_{_suffix}step_comm_s", serve_step_comm_s, S,
           "Megatron TP all-reduces; DeepSeek-V3 §3.4 all-to-alls", **_bind)
    derive(f"serve_{_suffix}stage_step_s", serve_stage_step_s, S, _STEP_SOURCE,
           serve_step_linear_flops=f"serve_{_suffix}step_linear_flops",
           serve_step_attention_flops=f"serve_{_suffix}step_attention_flops",
           serve_step_bytes=f"serve_{_suffix}step_bytes",
           serve_step_comm_s=f"serve_{_suffix}step_comm_s")


@formula(S, "Leviathan et al. 2023: γ draft steps per verification")
def serve_draft_step_s(serve_micro_batch, draft_params, weight_bytes_per_param, draft_layers,
                       serve_mean_context, kv_elements_per_token_layer, kv_dtype_bytes, tp,
                       peak_tflops, gemm_eff, hbm_bytes_per_s):
    """One draft-model (MTP) step for a micro-batch: ``max(compute, weights + draft KV
    read)`` on each GPU of the rank (0 without a draft)."""
    compute = 2 * draft_params * serve_micro_batch / (tp * peak_tflops * 1e12 * gemm_eff)
    kv = serve_micro_batch * draft_layers * serve_mean_context * \
        kv_elements_per_token_layer * kv_dtype_bytes
    memory = (draft_params * weight_bytes_per_param / tp + kv) / hbm_bytes_per_s
    return maximum(compute, memory)


def serve_full_step_s(serve_stage_step_s, pp, serve_decode_tokens, serve_prefill_tokens,
                      hidden_size, act_dtype_bytes, pp_inter_node_boundaries,
                      intra_node_gb_per_s, inter_node_gb_per_s, link_eff, scale_out_eff,
                      link_latency_us, draft_len, serve_draft_step_s):
    """A sequence's whole decode step: ``pp`` stage micro-steps, the activations sent across
    the ``pp − 1`` stage boundaries, and ``draft_len`` draft steps."""
    sends = pp_comm_s(serve_decode_tokens + serve_prefill_tokens, 1, hidden_size,
                      act_dtype_bytes, pp, pp_inter_node_boundaries, intra_node_gb_per_s,
                      inter_node_gb_per_s, link_eff, scale_out_eff, link_latency_us)
    return pp * serve_stage_step_s + sends + draft_len * serve_draft_step_s


derive("agg_step_s", serve_full_step_s, S, "continuous batching: decode + interleaved prefill")
derive("serve_decode_full_step_s", serve_full_step_s, S, "a decode-only step (no prefill: "
       "a disaggregated decode worker)", serve_stage_step_s="serve_decode_stage_step_s",
       serve_prefill_tokens=0)


@formula(S, "MTP / speculative decoding: accepted tokens per step")
def agg_tpot_s(agg_step_s, accepted_tokens_per_step):
    """Time per output token of aggregated serving: the mixed step (decode + interleaved
    prefill) over the tokens each sequence emits per step."""
    return agg_step_s / accepted_tokens_per_step


@formula("steps", "chunked prefill: ceil(prompt / chunk) steps")
def agg_chunks(prompt_len, serve_chunk_tokens):
    """Steps one prompt's prefill is spread over."""
    return ceil(prompt_len / maximum(serve_chunk_tokens, 1))


@formula(S, "chunked prefill through a pipeline: (chunks + pp − 1) stage steps")
def agg_prefill_s(agg_chunks, pp, serve_chunk_stage_step_s, serve_decode_tokens,
                  serve_chunk_tokens, hidden_size, act_dtype_bytes, pp_inter_node_boundaries,
                  intra_node_gb_per_s, inter_node_gb_per_s, link_eff, scale_out_eff,
                  link_latency_us):
    """One request's prefill with no queue: its chunks, each in a step that also carries
    the running decodes, pipelined through the ``pp`` stages."""
    sends = pp_comm_s(serve_decode_tokens + maximum(serve_chunk_tokens, 0), 1, hidden_size,
                      act_dtype_bytes, pp, pp_inter_node_boundaries, intra_node_gb_per_s,
                      inter_node_gb_per_s, link_eff, scale_out_eff, link_latency_us)
    return (agg_chunks + pp - 1) * serve_chunk_stage_step_s + sends


@formula(S, "the prefill lane: a prompt's share of the steps' prefill token budget")
def agg_prefill_busy_s(prompt_len, serve_token_budget, serve_decode_tokens,
                       serve_chunk_stage_step_s):
    """Time one prompt occupies the prefill lane (FCFS): its tokens over the prefill tokens
    a step has room for (the token budget less the running decodes), in steps — short
    prompts share one step's budget (vLLM/SARATHI schedule several prefills per step),
    long ones take their chunks."""
    room = maximum(serve_token_budget - serve_decode_tokens, 1)
    return prompt_len / room * serve_chunk_stage_step_s


@formula(S, "a slot is held from admission to the last token")
def agg_slot_s(agg_prefill_s, output_len, agg_tpot_s):
    """Time a request holds a slot of the running batch: prefill + ``output_len − 1`` TPOTs."""
    return agg_prefill_s + (output_len - 1) * agg_tpot_s


# ---------------------------------------------------------------- queueing

def ggc_wait_s(rate, service_s, servers):
    """Mean wait in a G/G/c queue with Poisson arrivals and deterministic service
    (Sakasegawa 1977; Hopp & Spearman, Factory Physics §8.5):
    ``½ · ρ^(√(2(c+1)) − 1) / (c (1 − ρ)) · S`` with ``ρ = λ S / c``; :data:`OVERLOAD_S`
    when ``ρ ≥ 1``."""
    c = maximum(servers, 1)
    rho = rate * service_s / c
    # LibreOffice errs where the power is 0 or underflows (it takes exp(x ln ρ)), Python
    # gives 0: below the smallest double (e^-700) the wait is 0 on every side
    base = where(rho > 0, minimum(rho, 1), 1)
    exponent = sqrt(2 * (c + 1)) - 1
    power = where(both(rho > 0, exponent * log(base) > -700), base ** exponent, 0)
    return where(rho < 1, 0.5 * power / (c * _safe(1 - rho)) * service_s, OVERLOAD_S)


def md1_wait_s(rate, service_s):
    """Mean wait in an M/D/1 queue: ``λ D² / (2 (1 − ρ))``, ``ρ = λ D`` (DistServe §3.1);
    :data:`OVERLOAD_S` when ``ρ ≥ 1``."""
    rho = rate * service_s
    return where(rho < 1, rate * service_s * service_s / (2 * _safe(1 - rho)), OVERLOAD_S)


@formula("requests/s", "the request rate, or a closed loop of users")
def agg_offered_rate(request_rate, concurrent_users, agg_slot_s):
    """Requests per second offered to the fleet: ``request_rate``, or, for a closed loop of
    ``concurrent_users`` (each sending its next request when the last ends), users over the
    time a request takes; 0 for neither (figures at capacity)."""
    return where(request_rate > 0, request_rate, concurrent_users / agg_slot_s)


@formula("replicas", "every queue of a replica below utilisation 1")
def agg_replicas_min(agg_offered_rate, agg_slot_s, agg_prefill_busy_s, concurrency):
    """Fewest aggregated replicas that keep both queues stable: more than ``λ S / c`` (the
    slots) and ``λ D`` (the prefill lane); 1 with no offered load."""
    slots = agg_offered_rate * agg_slot_s / maximum(concurrency, 1)
    return floor(maximum(slots, agg_offered_rate * agg_prefill_busy_s)) + 1


@formula("requests/s", "requests spread evenly over the replicas")
def agg_replica_rate(agg_offered_rate, replicas):
    """Requests per second one aggregated replica receives."""
    return agg_offered_rate / replicas


@formula("", "ρ = λ S / c")
def agg_slot_utilisation(agg_replica_rate, agg_slot_s, concurrency):
    """Share of a replica's running-batch slots in use (≥ 1: overloaded)."""
    return agg_replica_rate * agg_slot_s / maximum(concurrency, 1)


@formula("", "ρ = λ D")
def agg_prefill_utilisation(agg_replica_rate, agg_prefill_busy_s):
    """Share of time a replica's prefill lane is busy (≥ 1: overloaded)."""
    return agg_replica_rate * agg_prefill_busy_s


@formula(S, "G/G/c, Sakasegawa (1977) / Factory Physics §8.5, deterministic service")
def agg_slot_wait_s(agg_replica_rate, agg_slot_s, concurrency):
    """Mean wait for a free slot of the running batch."""
    return ggc_wait_s(agg_replica_rate, agg_slot_s, concurrency)


@formula(S, "M/D/1 (DistServe §3.1)")
def agg_prefill_wait_s(agg_replica_rate, agg_prefill_busy_s):
    """Mean wait for the prefill lane once admitted."""
    return md1_wait_s(agg_replica_rate, agg_prefill_busy_s)


@formula(S, "Orca (Yu et al., OSDI 2022): iteration-level scheduling admits a request at the "
            "next iteration")
def agg_join_wait_s(agg_step_s):
    """Mean wait of an arriving request for the iteration in progress to end (continuous
    batching admits new requests between iterations): half a step."""
    return agg_step_s / 2


@formula(S, "TTFT once a slot is free: the iteration in progress, the prefill lane, the "
            "chunked prefill, the engine's per-request overhead")
def agg_ttft_admitted_s(agg_prefill_s, agg_join_wait_s, agg_prefill_wait_s,
                        engine_request_overhead_s):
    """Mean time to first token of a request the engine admits at once (no wait for a slot
    of the running batch): the wait for the iteration in progress, the prefill lane's
    wait, the chunked prefill and the engine's per-request overhead (API server,
    tokenisation, the first token's streaming)."""
    return agg_prefill_s + agg_join_wait_s + agg_prefill_wait_s + engine_request_overhead_s


@formula(S, "TTFT = queueing for a slot + TTFT once admitted")
def agg_ttft_s(agg_ttft_admitted_s, agg_slot_wait_s):
    """Mean time to first token of aggregated serving at the offered load."""
    return agg_ttft_admitted_s + agg_slot_wait_s


@formula(S, "TTFT + (output_len − 1) × TPOT")
def agg_e2e_s(agg_ttft_s, output_len, agg_tpot_s):
    """Mean end-to-end latency of one request."""
    return agg_ttft_s + (output_len - 1) * agg_tpot_s


@formula("", "both queues below utilisation 1")
def agg_stable(agg_slot_utilisation, agg_prefill_utilisation):
    """TRUE when the replicas keep up with the offered load."""
    return both(agg_slot_utilisation < 1, agg_prefill_utilisation < 1)


@formula("requests/s", "Little's law: c slots of S seconds; one prefill lane")
def agg_capacity_requests_per_s(replicas, concurrency, agg_slot_s, agg_prefill_busy_s):
    """Most requests per second the replicas complete: ``c / S`` per replica, at most the
    prefill lane's ``1 / D``."""
    return replicas * minimum(maximum(concurrency, 1) / agg_slot_s, 1 / agg_prefill_busy_s)


@formula("GPUs", "replicas × tp × dp_attention × pp")
def agg_gpus(replicas, instance_gpus):
    """GPUs of an aggregated fleet."""
    return replicas * instance_gpus


@formula("", "split rule: the prefill's marginal step time")
def agg_input_cost_share(agg_step_s, serve_decode_full_step_s):
    """Share of an aggregated fleet's cost charged to input tokens: how much longer the
    steady-state step is with its interleaved prefill than without, over the step."""
    return (agg_step_s - serve_decode_full_step_s) / agg_step_s
