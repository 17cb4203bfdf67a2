"""What a serving engine leaves for the KV cache: its budget, blocks and concurrency.

The ``engine`` input picks a row of the ``engines`` table (``xlcalc/presets/engines/``,
one JSON file per engine with its version and sources).  One closed form covers the
four shipped engines; the table's columns switch its terms on and off::

    kv = kv_free_fraction × (memory_fraction × (total − context) − weights
                             − activation_counted × activation peak − non-torch)

* **vLLM** (V1): ``gpu_memory_utilization`` (0.9) of the total the driver reports,
  minus the weights, the torch peak of its profile run — a forward pass of
  ``max_num_batched_tokens`` tokens, then the sampler over ``max_num_seqs`` requests ×
  the vocabulary, whichever is larger — and the non-torch memory that appears while
  profiling.  CUDA graphs and the CUDA context live in the 1 − 0.9 slack.
* **SGLang**: ``mem_fraction_static`` of the memory free at start (total − context),
  minus the weights; the fraction comes from its rule (a reserve of 512 MiB + 1.5 MiB
  per chunked-prefill token + 2 MiB per CUDA-graph sequence + 128 MiB per GPU, at least
  10 GiB above 60 GiB), activations and graphs live in the reserve.
* **TensorRT-LLM**: ``free_gpu_memory_fraction`` (0.9) of what is free after the
  context, the weights and the profiled activations.
* **seed**: all memory minus the weights (the tutorials' rule).

Batching defaults (``max_num_batched_tokens``/``chunked_prefill_size``/``max_num_tokens``
and ``max_num_seqs``/``cuda_graph_max_bs``/``max_batch_size``) come from the engine's
memory tiers.  Blocks are ``block_size`` tokens (vLLM 16, SGLang pages of 1, TensorRT-LLM
32).  The memory total is ``gpu_memory_bytes``: give the total the driver reports
(``torch.cuda.mem_get_info()[1]``) to compare with an engine's log.

The engine's numbers are the defaults of the serving inputs every face shows:
``max_num_batched_tokens``, ``max_num_seqs``, ``infer_reserve_bytes``, ``block_size`` are
nodes that compute the input from the engine unless it is given (a given value wins);
``gpu_memory_utilization`` is 0 by default, meaning the engine's own fraction
(:func:`memory_fraction_used`), so that an empty workbook cell reads as "the engine's".  The KV budget, blocks, tokens and
concurrency themselves live in :mod:`.capacity` (the one KV arithmetic of inference
memory, capacity and the serving plans), the budget and the activations in
:mod:`.inference_memory`.  The default engine is ``vllm``.
"""

from ..engines import ENGINE_COLUMNS, TIER_COLUMNS, TIERS, engines_table
from ..expr import floor, maximum, where
from ..glossary import Term, register_terms
from ..graph import formula, lookup_node, register_table

B = "bytes"
_T = "engines table (xlcalc/presets/engines/<engine>.json)"

register_table("engines", engines_table, "engine", "serving engines: how each sizes its KV "
               "cache (presets/engines/*.json, with versions and sources)")

register_terms(
    Term("engine", "serving engine whose memory rules and defaults apply (vllm, sglang, "
         "trt-llm)", "", "choice", table="engines", default="vllm", group="efficiency"),
)

_UNITS = {"reserve_min_prefill_tokens": "tokens", "block_size": "tokens", "step_overhead_s": "s",
          "request_overhead_s": "s",
          "sampler_bytes_per_logit": B, "memory_fraction": "", "reserve_rule": "",
          "kv_free_fraction": "", "activation_counted": "", "kernel_eff": "",
          "allreduce_latency_us": "us"}
# memory_fraction and non_torch_bytes are read as *_preset: formulas own the plain names
_RENAMED = {"memory_fraction": "engine_memory_fraction_preset",
            "non_torch_bytes": "engine_non_torch_bytes_preset"}
# the default of the input block_size (formula below)
for _column in ENGINE_COLUMNS:
    lookup_node(_RENAMED.get(_column, f"engine_{_column}"), "engines", "engine", _column,
                unit=_UNITS.get(_column, B), source=_T,
                doc=f"the engine's {_column.replace('_', ' ')}")
for _i in range(1, TIERS + 1):
    for _column in TIER_COLUMNS:
        lookup_node(f"engine_tier{_i}_{_column}", "engines", "engine", f"tier{_i}_{_column}",
                    unit=B if _column == "below_bytes" else "", source=_T,
                    doc=f"memory tier {_i} of the engine's defaults: {_column.replace('_', ' ')}")


# ---------------------------------------------------------------- batching defaults

def _by_tier(memory, b1, v1, b2, v2, b3, v3, b4, v4, v5):
    """The value of the first tier whose bound the GPU memory is below."""
    return where(memory < b1, v1, where(memory < b2, v2, where(memory < b3, v3,
                 where(memory < b4, v4, v5))))


@formula("tokens", "vLLM get_batch_defaults / SGLang _handle_gpu_memory_settings / TRT-LLM",
         input_default=True)
def max_num_batched_tokens(
        gpu_memory_bytes,
        engine_tier1_below_bytes, engine_tier1_max_num_batched_tokens,
        engine_tier2_below_bytes, engine_tier2_max_num_batched_tokens,
        engine_tier3_below_bytes, engine_tier3_max_num_batched_tokens,
        engine_tier4_below_bytes, engine_tier4_max_num_batched_tokens,
        engine_tier5_max_num_batched_tokens):
    """Tokens of the engine's largest forward pass, unless given: vLLM's
    ``max_num_batched_tokens`` (8192 on GPUs of 70 GiB and more, else 2048), SGLang's
    ``chunked_prefill_size`` (2048-16384 by GPU memory), TensorRT-LLM's ``max_num_tokens``
    (8192), no limit (0) for the seeds."""
    return _by_tier(gpu_memory_bytes,
                    engine_tier1_below_bytes, engine_tier1_max_num_batched_tokens,
                    engine_tier2_below_bytes, engine_tier2_max_num_batched_tokens,
                    engine_tier3_below_bytes, engine_tier3_max_num_batched_tokens,
                    engine_tier4_below_bytes, engine_tier4_max_num_batched_tokens,
                    engine_tier5_max_num_batched_tokens)


@formula("sequences", "vLLM max_num_seqs / SGLang cuda_graph_max_bs / TRT-LLM max_batch_size",
         input_default=True)
def max_num_seqs(
        gpu_memory_bytes, tp,
        engine_tier1_below_bytes, engine_tier1_max_num_seqs, engine_tier1_max_num_seqs_tp4,
        engine_tier2_below_bytes, engine_tier2_max_num_seqs, engine_tier2_max_num_seqs_tp4,
        engine_tier3_below_bytes, engine_tier3_max_num_seqs, engine_tier3_max_num_seqs_tp4,
        engine_tier4_below_bytes, engine_tier4_max_num_seqs, engine_tier4_max_num_seqs_tp4,
        engine_tier5_max_num_seqs, engine_tier5_max_num_seqs_tp4):
    """Sequences of the engine's largest decode batch, unless given: vLLM's
    ``max_num_seqs`` (1024 / 256), SGLang's ``cuda_graph_max_bs`` (larger from tp = 4),
    TensorRT-LLM's ``max_batch_size`` (2048), no limit (0) for the seeds."""
    big = tp >= 4
    return _by_tier(gpu_memory_bytes,
                    engine_tier1_below_bytes,
                    where(big, engine_tier1_max_num_seqs_tp4, engine_tier1_max_num_seqs),
                    engine_tier2_below_bytes,
                    where(big, engine_tier2_max_num_seqs_tp4, engine_tier2_max_num_seqs),
                    engine_tier3_below_bytes,
                    where(big, engine_tier3_max_num_seqs_tp4, engine_tier3_max_num_seqs),
                    engine_tier4_below_bytes,
                    where(big, engine_tier4_max_num_seqs_tp4, engine_tier4_max_num_seqs),
                    where(big, engine_tier5_max_num_seqs_tp4, engine_tier5_max_num_seqs))


# ------------------------------------------------------------ SGLang's fraction rule

@formula(B, "SGLang server_args._handle_gpu_memory_settings: reserved_mem")
def engine_reserved_bytes(gpu_memory_bytes, max_num_batched_tokens, max_num_seqs,
                          tp, pp, engine_reserve_base_bytes, engine_reserve_per_prefill_token_bytes,
                          engine_reserve_min_prefill_tokens, engine_reserve_per_decode_seq_bytes,
                          engine_reserve_per_rank_bytes, engine_reserve_floor_bytes,
                          engine_reserve_floor_above_bytes):
    """Memory SGLang keeps outside weights and KV pool: 512 MiB + 1.5 MiB × max(chunked
    prefill, 2048) + 2 MiB × CUDA-graph batch + 128 MiB × tp × pp, at least 10 GiB on a
    GPU above 60 GiB (0 for engines without the rule)."""
    reserved = engine_reserve_base_bytes + engine_reserve_per_prefill_token_bytes * maximum(
        max_num_batched_tokens, engine_reserve_min_prefill_tokens) + \
        engine_reserve_per_decode_seq_bytes * max_num_seqs + \
        engine_reserve_per_rank_bytes * tp * pp
    return where(gpu_memory_bytes > engine_reserve_floor_above_bytes,
                 maximum(reserved, engine_reserve_floor_bytes), reserved)


@formula("", "SGLang: mem_fraction_static = round((gpu_mem − reserved_mem) / gpu_mem, 3); "
         "vLLM: gpu_memory_utilization 0.9")
def engine_memory_fraction(gpu_memory_bytes, engine_reserved_bytes, engine_reserve_rule,
                           engine_memory_fraction_preset):
    """Share of the memory an engine budgets for weights and KV (and, in vLLM, the
    activations): SGLang's ``mem_fraction_static`` from its reserve, rounded to three
    decimals; the preset's fixed fraction for the others (vLLM's
    ``gpu_memory_utilization`` 0.9, all of it for TensorRT-LLM — which then keeps 10 % of
    the free memory back — and for the seeds)."""
    rule = floor((gpu_memory_bytes - engine_reserved_bytes) / gpu_memory_bytes * 1000 + 0.5) / 1000
    return where(engine_reserve_rule > 0, rule, engine_memory_fraction_preset)


# ------------------------------------------------------------------- activations

@formula(B, "vLLM gpu_model_runner._dummy_sampler_run over max_num_seqs requests")
def engine_sampler_bytes(max_num_seqs, vocab_size, engine_sampler_bytes_per_logit):
    """Peak of the sampler's profile run: ``max_num_seqs × vocab`` logits at the engine's
    bytes per logit (vLLM: bf16 and fp32 logits, sort values and indices, softmax,
    cumsum, noise: 38.4 B measured).  The logits are gathered whole on every
    tensor-parallel rank, so there is no ``tp`` split."""
    return max_num_seqs * vocab_size * engine_sampler_bytes_per_logit


@formula(B, "vLLM: torch peak increase of profile_run (forward, then sampler)")
def engine_activation_bytes(profiled_activation_bytes, engine_sampler_bytes,
                            engine_activation_counted):
    """Activation memory the engine subtracts before sizing the KV cache: the larger of
    its forward pass and its sampler run (the forward's intermediates are freed before
    the sampler runs); 0 for engines that keep activations in a reserve."""
    return engine_activation_counted * maximum(profiled_activation_bytes, engine_sampler_bytes)


@formula(B, "vLLM memory_profiling: non_torch_increase on one GPU", input_default=True)
def infer_reserve_bytes(engine_non_torch_bytes_preset):
    """Memory the engine allocates outside torch within its budget on a single-GPU
    replica, unless given: the cuBLAS/attention workspaces that appear while it profiles
    (vLLM 0.13 GiB measured)."""
    return engine_non_torch_bytes_preset


@formula(B, "vLLM: non-torch memory at TP=2 minus TP=1 (NCCL, custom all-reduce buffers)")
def engine_comm_buffer_bytes(engine_non_torch_tp_bytes, tp, pp):
    """Communication buffers the engine adds on each GPU when a replica spans GPUs
    (``tp × pp > 1``): NCCL and custom all-reduce buffers (vLLM 0.42 GiB measured)."""
    return where(tp * pp > 1, engine_non_torch_tp_bytes, 0)


@formula(B, "vLLM: non_torch_increase of the profile run")
def infer_non_torch_bytes(infer_reserve_bytes, engine_comm_buffer_bytes):
    """Memory outside torch on the busiest GPU: the reserve plus the communication buffers
    of a multi-GPU replica (vLLM's logged "non-torch memory")."""
    return infer_reserve_bytes + engine_comm_buffer_bytes


@formula("", "gpu_memory_utilization when given, else the engine's")
def memory_fraction_used(gpu_memory_utilization, engine_memory_fraction):
    """Share of the memory the plan's engine budgets: ``gpu_memory_utilization`` when
    given (> 0), else the engine's (:func:`engine_memory_fraction`)."""
    return where(gpu_memory_utilization > 0, gpu_memory_utilization, engine_memory_fraction)


# --------------------------------------------------------------- custom all-reduce

@formula("us", "vLLM/SGLang/TensorRT-LLM custom all-reduce kernels (SGLang PR #2904)")
def tp_allreduce_latency_us(engine_allreduce_latency_us, link_latency_us):
    """Start-up time of one tensor-parallel all-reduce of a serving step: the engine's
    custom all-reduce kernel (one-shot over NVLink, a few microseconds) where it has one,
    else the collective's own latency (``link_latency_us``: NCCL/RCCL)."""
    return where(engine_allreduce_latency_us > 0, engine_allreduce_latency_us,
                 link_latency_us)


# ------------------------------------------------------------------ block size

@formula("tokens", "vLLM 16 (CUDA), SGLang 1, TensorRT-LLM 32, the seeds exact tokens",
         input_default=True)
def block_size(engine_block_size):
    """KV-cache allocation unit in tokens, unless given: the engine's block (page) size."""
    return engine_block_size
