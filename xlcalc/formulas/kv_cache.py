"""KV cache: bytes per token and per batch, per GPU under tensor parallelism.

Seed ``000_*`` §2.4: ``size = 2 × batch × seq × num_layers × num_kv_heads × head_dim ×
bytes``.  Generalised here to MLA (one compressed latent of ``kv_lora_rank +
qk_rope_head_dim`` values per token per layer, DeepSeek-V2 §2.1.2), to
sliding-window layers (a layer caches at most ``sliding_window`` tokens), to tensor
parallelism (KV heads split across ranks, replicated when ``tp`` exceeds them, as in
vLLM/Megatron; an MLA latent is replicated on every rank) and to paged allocation
in ``block_size``-token blocks (vLLM PagedAttention; 1 = exact).
"""

from ..expr import ceil, minimum, where
from ..graph import formula

B = "bytes"


@formula("heads", "vLLM/Megatron: heads split over tp ranks, replicated when tp > heads")
def kv_heads_per_gpu(num_kv_heads, tp):
    """KV heads each tensor-parallel rank stores: ceil(k / tp) (1 when tp > k)."""
    return ceil(num_kv_heads / tp)


@formula("elements", "seed 000 §2.4 (K and V); DeepSeek-V2 §2.1.2 (MLA latent)")
def kv_elements_per_token_layer(kv_heads_per_gpu, head_dim, kv_lora_rank, qk_rope_head_dim):
    """Cached values per token per layer on one GPU: 2·heads·head_dim for K and V, or
    the MLA latent kv_lora_rank + qk_rope_head_dim (not split by tensor parallelism)."""
    return where(kv_lora_rank > 0, kv_lora_rank + qk_rope_head_dim,
                 2 * kv_heads_per_gpu * head_dim)


@formula(B, "seed 003 §七: 2·n_layers·d_model·2 bytes per token (MHA, fp16)")
def kv_cache_bytes_per_token(num_layers, kv_elements_per_token_layer, kv_dtype_bytes):
    """KV bytes one token adds on one GPU across all layers (no window cap)."""
    return num_layers * kv_elements_per_token_layer * kv_dtype_bytes


@formula("tokens", "vLLM PagedAttention: whole blocks are allocated")
def kv_cached_tokens(seq_len, block_size):
    """Token slots a full-attention layer allocates for one sequence (whole blocks)."""
    return ceil(seq_len / block_size) * block_size


@formula("tokens", "Mistral-7B / Gemma-2 sliding-window attention (rolling buffer)")
def kv_window_tokens(seq_len, sliding_window, block_size):
    """Token slots a sliding-window layer allocates: min(seq_len, window), whole blocks."""
    kept = where(sliding_window > 0, minimum(seq_len, sliding_window), seq_len)
    return ceil(kept / block_size) * block_size


@formula("token-layers", "full layers hold every token; sliding layers hold their window")
def kv_token_layers(num_layers, num_sliding_layers, kv_cached_tokens, kv_window_tokens):
    """Sum over layers of the tokens each layer caches for one sequence."""
    return (num_layers - num_sliding_layers) * kv_cached_tokens + \
        num_sliding_layers * kv_window_tokens


@formula(B, "seed 000 §2.4, generalised (GQA/MQA/MLA, windows, TP, pages)")
def kv_cache_bytes(batch, kv_token_layers, kv_elements_per_token_layer, kv_dtype_bytes):
    """KV-cache bytes on one GPU for ``batch`` sequences of ``seq_len`` tokens."""
    return batch * kv_token_layers * kv_elements_per_token_layer * kv_dtype_bytes


@formula(B, "seed 000 §2.4: 2 × batch × seq × layers × kv_heads × head_dim × bytes")
def kv_cache_bytes_seed(batch, seq_len, num_layers, num_kv_heads, head_dim, kv_dtype_bytes):
    """The seed's formula as printed (one GPU, no windows, no MLA)."""
    return 2 * batch * seq_len * num_layers * num_kv_heads * head_dim * kv_dtype_bytes
