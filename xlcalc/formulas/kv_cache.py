"""KV cache and linear-attention state: bytes per token, per sequence, per batch, per GPU.

Seed ``000_*`` §2.4: ``size = 2 × batch × seq × num_layers × num_kv_heads × head_dim ×
bytes``.  Generalised here per layer kind (docs/models.md §2):

* **full** attention layers hold every token; **sliding** layers at most ``sliding_window``
  tokens; **chunked** layers (Llama 4) at most ``attention_chunk_size`` tokens — the token
  being processed included: transformers keeps ``window − 1`` past tokens and attends with
  the new one (``tests/data/kv_probe.json``), vLLM keeps the blocks covering them;
* **linear** layers (gated DeltaNet, Mamba-2, lightning) hold no per-token KV but a fixed
  state per sequence: a conv state of ``conv_channels × (kernel − 1)`` values at the
  activation dtype and a recurrent state of ``H × N × P`` values at ``state_dtype_bytes`` (default: the
  model dtype, as vLLM; transformers keeps fp32 for gated DeltaNet and Mamba-2);
* **MLA** caches one latent of ``kv_lora_rank + qk_rope_head_dim`` values per token per layer
  (DeepSeek-V2 §2.1.2; transformers 5.24 and vLLM both cache it), plus DeepSeek-V3.2's
  ``index_head_dim``-wide indexer key;
* tensor parallelism splits KV heads across ranks (replicated when ``tp`` exceeds them, as
  in vLLM/Megatron; an MLA latent is replicated on every rank) and the linear layers'
  heads; paged allocation rounds each layer up to ``block_size``-token blocks (vLLM
  PagedAttention; 1 = exact).
"""

from ..expr import ceil, minimum, where
from ..glossary import Term, register_terms
from ..graph import formula

B = "bytes"

register_terms(
    Term("state_dtype_bytes", "bytes per value of the linear-attention recurrent state: the "
         "model dtype by default (vLLM's mamba_ssm_cache_dtype 'auto'); 4 for transformers, "
         "which keeps gated DeltaNet and Mamba-2 states in fp32", "bytes", "real", 0,
         minimum_open=True, sample=(2.0, 4.0), group="efficiency"),
)


@formula("bytes", "vLLM: the SSM state in the model dtype unless set", input_default=True)
def state_dtype_bytes(act_dtype_bytes):
    """Bytes per recurrent-state value when not given: the model's activation dtype (vLLM's
    default); give 4 for transformers' fp32 states."""
    return act_dtype_bytes


@formula("heads", "vLLM/Megatron: heads split over tp ranks, replicated when tp > heads")
def kv_heads_per_gpu(num_kv_heads, tp):
    """KV heads each tensor-parallel rank stores: ceil(k / tp) (1 when tp > k)."""
    return ceil(num_kv_heads / tp)


@formula("elements", "seed 000 §2.4 (K and V); DeepSeek-V2 §2.1.2 (MLA latent)")
def kv_attention_elements_per_token_layer(kv_heads_per_gpu, head_dim, kv_lora_rank,
                                          qk_rope_head_dim):
    """Key/value values per token per attention layer on one GPU: 2·heads·head_dim for K
    and V, or the MLA latent kv_lora_rank + qk_rope_head_dim (not split by tensor
    parallelism)."""
    return where(kv_lora_rank > 0, kv_lora_rank + qk_rope_head_dim,
                 2 * kv_heads_per_gpu * head_dim)


@formula("elements", "K/V (or latent) plus DeepSeek-V3.2's cached indexer key")
def kv_elements_per_token_layer(kv_attention_elements_per_token_layer, index_head_dim):
    """Cached values per token per attention layer on one GPU: the keys and values (or MLA
    latent) and the sparse-attention indexer's key (0 without an indexer)."""
    return kv_attention_elements_per_token_layer + index_head_dim


@formula(B, "seed 003 §七: 2·n_layers·d_model·2 bytes per token (MHA, fp16)")
def kv_cache_bytes_per_token(num_attention_layers, kv_elements_per_token_layer, kv_dtype_bytes):
    """KV bytes one token adds on one GPU across the attention layers (no window cap;
    linear layers add none)."""
    return num_attention_layers * kv_elements_per_token_layer * kv_dtype_bytes


@formula("tokens", "vLLM PagedAttention: whole blocks are allocated")
def kv_cached_tokens(seq_len, block_size):
    """Token slots a full-attention layer allocates for one sequence (whole blocks)."""
    return ceil(seq_len / block_size) * block_size


def held_token_layers(tokens, num_full_layers, num_sliding_layers, sliding_window,
                      num_chunked_layers, attention_chunk_size):
    """Σ over attention layers of the tokens each holds for a sequence of ``tokens``
    (exact, no pages): full layers all, sliding/chunked layers at most their cap."""
    return num_full_layers * tokens + \
        num_sliding_layers * where(sliding_window > 0, minimum(tokens, sliding_window), tokens) + \
        num_chunked_layers * where(attention_chunk_size > 0,
                                   minimum(tokens, attention_chunk_size), tokens)


def _capped_tokens(seq_len, cap, block_size):
    """min(seq_len, cap) in whole blocks (no cap when ``cap`` is 0)."""
    kept = where(cap > 0, minimum(seq_len, cap), seq_len)
    return ceil(kept / block_size) * block_size


@formula("tokens", "Mistral-7B / Gemma sliding-window attention (tests/data/kv_probe.json)")
def kv_window_tokens(seq_len, sliding_window, block_size):
    """Token slots a sliding-window layer holds: min(seq_len, window), whole blocks."""
    return _capped_tokens(seq_len, sliding_window, block_size)


@formula("tokens", "Llama 4 chunked local attention: at most one chunk (kv_probe.json)")
def kv_chunk_tokens(seq_len, attention_chunk_size, block_size):
    """Token slots a chunked-attention layer holds: min(seq_len, chunk), whole blocks (the
    most a sequence needs anywhere in its chunk)."""
    return _capped_tokens(seq_len, attention_chunk_size, block_size)


@formula("token-layers", "full layers hold every token; sliding/chunked layers their cap")
def kv_token_layers(num_full_layers, num_sliding_layers, num_chunked_layers, kv_cached_tokens,
                    kv_window_tokens, kv_chunk_tokens):
    """Sum over attention layers of the tokens each caches for one sequence."""
    return num_full_layers * kv_cached_tokens + num_sliding_layers * kv_window_tokens + \
        num_chunked_layers * kv_chunk_tokens


@formula(B, "seed 000 §2.4, generalised (GQA/MQA/MLA, layer kinds, TP, pages)")
def kv_cache_bytes(batch, kv_token_layers, kv_elements_per_token_layer, kv_dtype_bytes):
    """KV-cache bytes on one GPU for ``batch`` sequences of ``seq_len`` tokens (per-token
    KV only: the linear layers' state is :func:`state_cache_bytes`)."""
    return batch * kv_token_layers * kv_elements_per_token_layer * kv_dtype_bytes


@formula(B, "seed 000 §2.4: 2 × batch × seq × layers × kv_heads × head_dim × bytes")
def kv_cache_bytes_seed(batch, seq_len, num_layers, num_kv_heads, head_dim, kv_dtype_bytes):
    """The seed's formula as printed (one GPU, no windows, no MLA)."""
    return 2 * batch * seq_len * num_layers * num_kv_heads * head_dim * kv_dtype_bytes


# ------------------------------------------------------------- linear-attention state

@formula("", "vLLM: linear-attention heads split over tp ranks like KV heads")
def linear_state_share(linear_num_value_heads, tp):
    """Share of a linear layer's state one tensor-parallel rank holds: ceil(H / tp) / H
    (1 without linear layers)."""
    heads = where(linear_num_value_heads > 0, linear_num_value_heads, 1)
    return ceil(heads / tp) / heads


@formula("elements", "vLLM mamba_utils: conv state (kernel − 1) × conv channels")
def linear_conv_state_elements(linear_conv_channels, linear_conv_kernel):
    """Conv-state values one linear layer keeps per sequence: the last kernel − 1 inputs
    of each conv channel (transformers keeps kernel columns, one more; 0 without a conv)."""
    return linear_conv_channels * where(linear_conv_kernel > 0, linear_conv_kernel - 1, 0)


@formula("elements", "gated DeltaNet / Mamba-2 / lightning: one N × P state per value head")
def linear_recurrent_state_elements(linear_num_value_heads, linear_key_head_dim,
                                    linear_value_head_dim):
    """Recurrent-state values one linear layer keeps per sequence: H × N × P."""
    return linear_num_value_heads * linear_key_head_dim * linear_value_head_dim


@formula(B, "docs/models.md §4: fixed state per sequence, separate from per-token KV")
def state_bytes_per_sequence(num_linear_layers, linear_conv_state_elements,
                             linear_recurrent_state_elements, act_dtype_bytes,
                             state_dtype_bytes, linear_state_share):
    """Bytes of linear-attention state one sequence holds on one GPU, whatever its length:
    conv states at the activation dtype, recurrent states at ``state_dtype_bytes``."""
    return num_linear_layers * linear_state_share * \
        (linear_conv_state_elements * act_dtype_bytes +
         linear_recurrent_state_elements * state_dtype_bytes)


@formula(B, "state per sequence × sequences")
def state_cache_bytes(batch, state_bytes_per_sequence):
    """Linear-attention state on one GPU for ``batch`` sequences (0 without linear
    layers)."""
    return batch * state_bytes_per_sequence
