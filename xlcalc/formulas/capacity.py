"""Serving capacity: concurrent sequences that fit, KV tokens that fit, nodes for N users.

Two methods side by side:

* **exact (the engine's arithmetic)** — the KV budget of the busiest GPU is what the
  engine (``engine``, default ``vllm``; :mod:`.engines`) leaves after profiling:
  ``kv_free_fraction × (gpu_memory_utilization × (memory − context) − weights −
  activation peak − non-torch reserve)`` (vLLM: 0.9 of the total, the peak of its
  forward pass of ``max_num_batched_tokens`` tokens or its sampler; SGLang and
  TensorRT-LLM their own rules); the cache is cut into blocks of the engine's
  ``block_size`` tokens (16 in vLLM) across the GPU's layers, ``num_blocks =
  floor(kv_budget / block_bytes)``, and vLLM reports the maximum concurrency
  ``num_blocks × block_size / max_model_len``.  Sequences of ``seq_len`` tokens use whole
  blocks; GQA/MQA/MLA, windows and tensor/pipeline splits come from the core.  The same
  nodes size the serving plans of :mod:`.serving_load` (one KV arithmetic).
* **seed 003 §七** — ``(n_gpus × memory − params × bytes) / (kv bytes per token × tokens per
  request)``: all GPU memory counts, nothing is reserved, the KV per token is
  ``4 · n_layers · d_model`` (MHA at fp16, GQA ignored) and the seed rounds it to the
  "1 MB per token" rule of thumb for a 13 B model.
"""

from ..expr import ceil, floor, maximum, minimum, not_available, where
from ..glossary import Term, register_terms
from ..graph import derive, formula

register_terms(
    Term("concurrent_users", "sequences that must be served at the same time (a closed loop "
         "of users, each sending its next request when the last one ends; 0: none)",
         "sequences", minimum=0, default=0, sample=(100, 10000), maximum=1e10),
)


def _safe_div(num, den):
    """``num / den``, 0 where ``den`` is 0 (nothing fits)."""
    return where(den > 0, num / where(den > 0, den, 1), 0)


# ---------------------------------------------------------------- exact (vLLM)

@formula("bytes", "vLLM gpu_worker.determine_available_memory; SGLang profile_max_num_token; "
                  "TRT-LLM KvCacheCreator._cal_max_memory")
def kv_budget_bytes(infer_budget_bytes, infer_weights_bytes, serve_draft_weights_bytes,
                    engine_activation_bytes, infer_non_torch_bytes, engine_kv_free_fraction):
    """Bytes the engine gives its KV cache on the busiest GPU: ``kv_free_fraction ×
    (budget − weights − draft − activation peak − non-torch)`` (negative: the weights
    alone do not fit)."""
    return engine_kv_free_fraction * (infer_budget_bytes - infer_weights_bytes -
                                      serve_draft_weights_bytes - engine_activation_bytes -
                                      infer_non_torch_bytes)


def _paged(tokens, cap, block):
    """min(tokens, cap) token slots in whole blocks (no cap when ``cap`` is 0)."""
    kept = where(cap > 0, minimum(tokens, cap), tokens)
    return ceil(kept / block) * block


def sequence_kv_bytes(seq_len, block_size, num_full_layers, num_sliding_layers,
                      sliding_window, num_chunked_layers, attention_chunk_size,
                      kv_elements_per_token_layer, kv_dtype_bytes, state_bytes_per_sequence,
                      stage_layers, num_layers, draft_layers):
    """KV bytes one sequence of ``seq_len`` tokens holds on the busiest GPU: whole
    ``block_size`` blocks per layer kind (sliding layers keep their window, chunked layers
    one chunk), its fixed linear-attention state — the stage's share of the layers — and
    a draft's ``draft_layers`` layers of KV (MTP: 1)."""
    full = _paged(seq_len, 0, block_size)
    target = (num_full_layers * full +
              num_sliding_layers * _paged(seq_len, sliding_window, block_size) +
              num_chunked_layers * _paged(seq_len, attention_chunk_size, block_size)) * \
        kv_elements_per_token_layer * kv_dtype_bytes + state_bytes_per_sequence
    return target * stage_layers / num_layers + \
        draft_layers * full * kv_elements_per_token_layer * kv_dtype_bytes


derive("kv_sequence_bytes", sequence_kv_bytes, "bytes", "vLLM paged KV per layer kind + "
       "linear state + draft layers, busiest stage")
derive("serve_kv_sequence_bytes", sequence_kv_bytes, "bytes", "as kv_sequence_bytes for a "
       "finished request: prompt + output tokens", seq_len="total_len",
       doc="KV bytes one finished request (prompt_len + output_len tokens) holds on the "
           "busiest GPU (:func:`sequence_kv_bytes`).")


@formula("sequences", "whole sequences in the KV budget (exact per-architecture KV)")
def max_sequences(kv_budget_bytes, kv_sequence_bytes):
    """Most concurrent sequences of ``seq_len`` tokens one replica (``tp × pp`` GPUs)
    holds: ``floor(kv_budget / kv_per_sequence)``, 0 when nothing fits."""
    return maximum(floor(kv_budget_bytes / kv_sequence_bytes), 0)


@formula("bytes", "vLLM: page = block_size tokens × the GPU's layers × KV bytes per token")
def kv_block_bytes(block_size, kv_cache_bytes_per_token, stage_layers, num_layers):
    """Bytes of one KV block of ``block_size`` tokens over the layers of the busiest GPU."""
    return block_size * kv_cache_bytes_per_token * stage_layers / num_layers


@formula("blocks", "vLLM: num_gpu_blocks = floor(available_kv_cache_memory / page_size)")
def kv_num_blocks(kv_budget_bytes, kv_block_bytes):
    """KV blocks vLLM allocates on each GPU: ``floor(kv_budget / block_bytes)`` (≥ 0)."""
    return maximum(floor(_safe_div(kv_budget_bytes, kv_block_bytes)), 0)


@formula("tokens", "vLLM log: GPU KV cache size: N tokens")
def kv_tokens_fit(kv_num_blocks, block_size):
    """Tokens of KV cache the replica holds: ``num_blocks × block_size``."""
    return kv_num_blocks * block_size


@formula("sequences", "vLLM log: Maximum concurrency for max_model_len tokens per request")
def max_concurrency(kv_tokens_fit, seq_len):
    """vLLM's reported concurrency: ``num_blocks × block_size / max_model_len`` with
    ``seq_len`` as the tokens per request (fractional)."""
    return kv_tokens_fit / seq_len


@formula("", "a replica serves at least one whole sequence of seq_len tokens")
def capacity_fits(max_sequences):
    """Whether one replica (``tp × pp`` GPUs) holds at least one sequence of ``seq_len``
    tokens beside its weights: the serving plan fits."""
    return max_sequences >= 1


@formula("replicas", "data parallelism: whole replicas of tp × pp GPUs")
def replicas_fit(n_gpus, tp, pp):
    """Model replicas ``n_gpus`` GPUs hold: ``floor(n_gpus / (tp × pp))``."""
    return floor(n_gpus / (tp * pp))


@formula("sequences", "replicas × sequences per replica")
def max_sequences_total(replicas_fit, max_sequences):
    """Concurrent sequences of ``seq_len`` tokens on ``n_gpus`` GPUs."""
    return replicas_fit * max_sequences


@formula("replicas", "users / sequences per replica, rounded up")
def replicas_needed(concurrent_users, max_sequences):
    """Replicas to hold ``concurrent_users`` sequences at once; not available (NaN, ``#N/A``)
    when not one sequence fits a replica: no number of replicas serves them."""
    return where(max_sequences >= 1, ceil(_safe_div(concurrent_users, max_sequences)),
                 not_available(max_sequences))


@formula("nodes", "replicas packed onto nodes of gpus_per_node GPUs")
def nodes_needed(replicas_needed, tp, pp, gpus_per_node):
    """Nodes for ``concurrent_users`` concurrent sequences: ``ceil(replicas × tp × pp /
    gpus_per_node)``; not available (NaN, ``#N/A``) when not one sequence fits a replica."""
    return ceil(replicas_needed * tp * pp / gpus_per_node)


# -------------------------------------------------------- seed 003 §七 method

@formula("bytes", "seed 003 §七: 2 · n_layers · d_model · 2 = 4 · n_layers · d_model")
def kv_bytes_per_token_seed_003(num_layers, hidden_size, kv_dtype_bytes):
    """The seed's KV bytes per token: K and V of width ``d_model`` in every layer (MHA;
    GQA/MQA ignored)."""
    return 2 * num_layers * hidden_size * kv_dtype_bytes


@formula("tokens", "seed 003 §5.5: (40 GB − 26 GB) / 1 MB ≈ 14,000 tokens")
def kv_tokens_fit_seed_003(n_gpus, gpu_memory_bytes, model_weights_bytes_rule,
                           kv_bytes_per_token_seed_003):
    """Tokens of KV the seed fits: all memory of ``n_gpus`` GPUs minus ``params × bytes``,
    over the seed's per-token bytes (no reserve, no activations, no utilisation cap)."""
    return (n_gpus * gpu_memory_bytes - model_weights_bytes_rule) / kv_bytes_per_token_seed_003


@formula("sequences", "seed 003 §七: (32 × 8 − 24.6) / 2 = 115.7")
def max_sequences_seed_003(kv_tokens_fit_seed_003, seq_len):
    """The seed's theoretical batch limit (fractional, as printed): KV tokens that fit
    over the tokens per request (input + output)."""
    return kv_tokens_fit_seed_003 / seq_len


@formula("nodes", "seed 003 §七: 10000 / 100 = 100 nodes")
def nodes_needed_seed_003(concurrent_users, max_sequences_seed_003):
    """Nodes of ``n_gpus`` GPUs for ``concurrent_users``: users over sequences per node,
    rounded up (0 when nothing fits)."""
    return ceil(_safe_div(concurrent_users, max_sequences_seed_003))


# ------------------------------------------------------ PagedAttention block waste

@formula("tokens", "vLLM PagedAttention: only the last block is partly empty")
def kv_block_waste_tokens(kv_cached_tokens, seq_len):
    """Token slots allocated but unused per sequence per layer: the tail of its last
    block (``ceil(s / block) × block − s``)."""
    return kv_cached_tokens - seq_len


@formula("", "Kwon et al. 2023 (vLLM) §3: waste bounded by one block per sequence")
def kv_block_waste_fraction(kv_block_waste_tokens, kv_cached_tokens):
    """Share of a sequence's paged KV slots that hold nothing."""
    return kv_block_waste_tokens / kv_cached_tokens


@formula("", "seed 000 §6.4: 每个请求预分配最大长度 → 50-60 % utilisation")
def kv_preallocated_utilisation(seq_len, max_position_embeddings):
    """Share of a KV slot preallocated for the model's maximum length that a sequence of
    ``seq_len`` tokens uses (the pre-PagedAttention scheme)."""
    return minimum(seq_len / max_position_embeddings, 1)
