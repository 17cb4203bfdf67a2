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
32); the concurrency is the engine's logged "maximum concurrency": KV tokens over the
tokens per request.  The memory total is ``gpu_memory_bytes``: give the total the
driver reports (``torch.cuda.mem_get_info()[1]``) to compare with an engine's log.
"""

from ..engines import ENGINE_COLUMNS, TIER_COLUMNS, TIERS, engines_table
from ..expr import floor, maximum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula, lookup_node, register_table
from .capacity import kv_block_bytes

B = "bytes"
_T = "engines table (xlcalc/presets/engines/<engine>.json)"

register_table("engines", engines_table, "engine", "serving engines: how each sizes its KV "
               "cache (presets/engines/*.json, with versions and sources)")

register_terms(
    Term("engine", "serving engine whose memory rules and defaults apply (vllm, sglang, "
         "trt-llm, seed)", "", "choice", table="engines", default="vllm", group="efficiency"),
)

_UNITS = {"reserve_min_prefill_tokens": "tokens", "block_size": "tokens",
          "sampler_bytes_per_logit": B, "memory_fraction": "", "reserve_rule": "",
          "kv_free_fraction": "", "activation_counted": ""}
# memory_fraction and non_torch_bytes are read as *_preset: formulas own the plain names
_RENAMED = {"memory_fraction": "engine_memory_fraction_preset",
            "non_torch_bytes": "engine_non_torch_bytes_preset"}
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


@formula("tokens", "vLLM get_batch_defaults / SGLang _handle_gpu_memory_settings / TRT-LLM")
def engine_max_num_batched_tokens(
        gpu_memory_bytes,
        engine_tier1_below_bytes, engine_tier1_max_num_batched_tokens,
        engine_tier2_below_bytes, engine_tier2_max_num_batched_tokens,
        engine_tier3_below_bytes, engine_tier3_max_num_batched_tokens,
        engine_tier4_below_bytes, engine_tier4_max_num_batched_tokens,
        engine_tier5_max_num_batched_tokens):
    """Tokens of the engine's largest forward pass by default: vLLM's
    ``max_num_batched_tokens`` (8192 on GPUs of 70 GiB and more, else 2048), SGLang's
    ``chunked_prefill_size`` (2048-16384 by GPU memory), TensorRT-LLM's ``max_num_tokens``
    (8192)."""
    return _by_tier(gpu_memory_bytes,
                    engine_tier1_below_bytes, engine_tier1_max_num_batched_tokens,
                    engine_tier2_below_bytes, engine_tier2_max_num_batched_tokens,
                    engine_tier3_below_bytes, engine_tier3_max_num_batched_tokens,
                    engine_tier4_below_bytes, engine_tier4_max_num_batched_tokens,
                    engine_tier5_max_num_batched_tokens)


@formula("sequences", "vLLM max_num_seqs / SGLang cuda_graph_max_bs / TRT-LLM max_batch_size")
def engine_max_num_seqs(
        gpu_memory_bytes, tp,
        engine_tier1_below_bytes, engine_tier1_max_num_seqs, engine_tier1_max_num_seqs_tp4,
        engine_tier2_below_bytes, engine_tier2_max_num_seqs, engine_tier2_max_num_seqs_tp4,
        engine_tier3_below_bytes, engine_tier3_max_num_seqs, engine_tier3_max_num_seqs_tp4,
        engine_tier4_below_bytes, engine_tier4_max_num_seqs, engine_tier4_max_num_seqs_tp4,
        engine_tier5_max_num_seqs, engine_tier5_max_num_seqs_tp4):
    """Sequences of the engine's largest decode batch by default: vLLM's ``max_num_seqs``
    (1024 / 256), SGLang's ``cuda_graph_max_bs`` (larger from tp = 4), TensorRT-LLM's
    ``max_batch_size`` (2048)."""
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
def engine_reserved_bytes(gpu_memory_bytes, engine_max_num_batched_tokens, engine_max_num_seqs,
                          tp, pp, engine_reserve_base_bytes, engine_reserve_per_prefill_token_bytes,
                          engine_reserve_min_prefill_tokens, engine_reserve_per_decode_seq_bytes,
                          engine_reserve_per_rank_bytes, engine_reserve_floor_bytes,
                          engine_reserve_floor_above_bytes):
    """Memory SGLang keeps outside weights and KV pool: 512 MiB + 1.5 MiB × max(chunked
    prefill, 2048) + 2 MiB × CUDA-graph batch + 128 MiB × tp × pp, at least 10 GiB on a
    GPU above 60 GiB (0 for engines without the rule)."""
    reserved = engine_reserve_base_bytes + engine_reserve_per_prefill_token_bytes * maximum(
        engine_max_num_batched_tokens, engine_reserve_min_prefill_tokens) + \
        engine_reserve_per_decode_seq_bytes * engine_max_num_seqs + \
        engine_reserve_per_rank_bytes * tp * pp
    return where(gpu_memory_bytes > engine_reserve_floor_above_bytes,
                 maximum(reserved, engine_reserve_floor_bytes), reserved)


@formula("", "SGLang: mem_fraction_static = round((gpu_mem − reserved_mem) / gpu_mem, 3)")
def engine_memory_fraction(gpu_memory_bytes, engine_reserved_bytes, engine_reserve_rule,
                           engine_memory_fraction_preset):
    """Share of the memory an engine budgets for weights and KV (and, in vLLM, the
    activations): SGLang's ``mem_fraction_static`` from its reserve, rounded to three
    decimals; the preset's fixed fraction for the others (vLLM's
    ``gpu_memory_utilization`` 0.9).  Give ``engine_memory_fraction`` to override it."""
    rule = floor((gpu_memory_bytes - engine_reserved_bytes) / gpu_memory_bytes * 1000 + 0.5) / 1000
    return where(engine_reserve_rule > 0, rule, engine_memory_fraction_preset)


# ------------------------------------------------------------------- activations

@formula(B, "vLLM/TRT-LLM profile run: forward pass of max_num_batched_tokens tokens")
def engine_forward_activation_bytes(engine_max_num_batched_tokens, act_dtype_bytes, mlp_gated,
                                    mlp_peak_width, tp):
    """Activation peak of the engine's profiling forward pass: the widest MLP's first
    output for ``max_num_batched_tokens`` tokens (FlashAttention: no score matrix),
    split ``tp`` ways (seed 003 §5.4, as :func:`profiled_activation_bytes`)."""
    # the MLP term of inference_memory._activation_bytes (engines run FlashAttention)
    return act_dtype_bytes * where(mlp_gated > 0, 2, 1) * mlp_peak_width * \
        engine_max_num_batched_tokens / tp


@formula(B, "vLLM gpu_model_runner._dummy_sampler_run over max_num_seqs requests")
def engine_sampler_bytes(engine_max_num_seqs, vocab_size, engine_sampler_bytes_per_logit):
    """Peak of the sampler's profile run: ``max_num_seqs × vocab`` logits at the engine's
    bytes per logit (vLLM: bf16 and fp32 logits, sort values and indices, softmax,
    cumsum, noise: 38.4 B measured).  The logits are gathered whole on every
    tensor-parallel rank, so there is no ``tp`` split."""
    return engine_max_num_seqs * vocab_size * engine_sampler_bytes_per_logit


@formula(B, "vLLM: torch peak increase of profile_run (forward, then sampler)")
def engine_activation_bytes(engine_forward_activation_bytes, engine_sampler_bytes,
                            engine_activation_counted):
    """Activation memory the engine subtracts before sizing the KV cache: the larger of
    its forward pass and its sampler run (the forward's intermediates are freed before
    the sampler runs); 0 for engines that keep activations in a reserve."""
    return engine_activation_counted * maximum(engine_forward_activation_bytes,
                                               engine_sampler_bytes)


@formula(B, "vLLM memory_profiling: non_torch_increase")
def engine_non_torch_bytes(engine_non_torch_bytes_preset, engine_non_torch_tp_bytes, tp, pp):
    """Memory allocated outside torch while the engine profiles (workspaces; NCCL and
    custom all-reduce buffers when the replica spans GPUs)."""
    return engine_non_torch_bytes_preset + where(tp * pp > 1, engine_non_torch_tp_bytes, 0)


# ------------------------------------------------------------------ KV budget

@formula(B, "vLLM gpu_worker.determine_available_memory; SGLang profile_max_num_token; "
            "TRT-LLM KvCacheCreator._cal_max_memory")
def engine_kv_budget_bytes(gpu_memory_bytes, engine_context_bytes, engine_memory_fraction,
                           infer_weights_bytes, engine_activation_bytes, engine_non_torch_bytes,
                           engine_kv_free_fraction):
    """Bytes the engine gives its KV cache on the busiest GPU: ``kv_free_fraction ×
    (memory_fraction × (total − context) − weights − activations − non-torch)``
    (negative: the weights alone do not fit)."""
    usable = engine_memory_fraction * (gpu_memory_bytes - engine_context_bytes)
    return engine_kv_free_fraction * (usable - infer_weights_bytes - engine_activation_bytes -
                                      engine_non_torch_bytes)


derive("engine_kv_block_bytes", kv_block_bytes, B, "one block of the engine's block size "
       "over the busiest GPU's layers", block_size="engine_block_size")


@formula("blocks", "vLLM '# GPU blocks'; TRT-LLM 'blocks in KV cache primary pool'")
def engine_kv_blocks(engine_kv_budget_bytes, engine_kv_block_bytes):
    """KV blocks the engine allocates on each GPU: ``floor(budget / block bytes)``, ≥ 0."""
    return maximum(floor(engine_kv_budget_bytes / engine_kv_block_bytes), 0)


@formula("tokens", "vLLM 'GPU KV cache size: N tokens'; SGLang max_total_num_tokens")
def engine_kv_tokens(engine_kv_blocks, engine_block_size):
    """Tokens of KV cache one replica holds: blocks × block size."""
    return engine_kv_blocks * engine_block_size


@formula("sequences", "vLLM 'Maximum concurrency for N tokens per request'")
def engine_max_concurrency(engine_kv_tokens, seq_len):
    """Requests of ``seq_len`` tokens the KV cache holds at once, as vLLM logs it
    (``kv tokens / max_model_len``, fractional)."""
    return engine_kv_tokens / seq_len
