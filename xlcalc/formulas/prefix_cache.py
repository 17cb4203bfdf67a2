"""Prefix caching: the KV memory and the prefill FLOPs a shared prompt prefix saves.

Seed ``000_*`` §6.4 (PagedAttention: "不同请求可以共享页 (如相同的system prompt)"): with
paged KV blocks, requests that start with the same ``prefix_len`` tokens (a system
prompt, a few-shot header) share one copy of the prefix's whole blocks (vLLM automatic
prefix caching, SGLang RadixAttention) and skip recomputing it in prefill.

Of ``batch`` concurrent sequences a share ``prefix_hit_rate`` find the prefix cached.
Only whole blocks are shared, ``floor(prefix / block_size)`` of them; the KV of those
tokens is then held once instead of once per hit.  A hit skips the prefix's prefill: its
tokens through every weight and the attention among them (the rest of the prompt still
attends to the cached prefix).  Every layer is taken as full attention.
"""

from ..expr import floor, maximum, minimum
from ..glossary import Term, register_terms
from ..graph import formula

register_terms(
    Term("prefix_len", "prompt tokens shared by requests (a system prompt or few-shot "
         "header) that prefix caching can reuse", "tokens", "int", 0,
         sample=(0, 256, 1024)),
    Term("prefix_hit_rate", "share of the requests whose shared prefix is already cached",
         "", "real", 0, maximum=1, sample=(0, 0.5, 0.9)),
)


@formula("tokens", "vLLM automatic prefix caching: only whole blocks are shared")
def prefix_shared_tokens(prefix_len, prompt_len, block_size):
    """Prefix tokens whose KV blocks can be shared: whole blocks of the prefix (at most
    the prompt)."""
    return floor(minimum(prefix_len, prompt_len) / block_size) * block_size


@formula("bytes", "seed 000 §6.4: requests share the prefix's pages")
def prefix_kv_saved_bytes(batch, prefix_hit_rate, prefix_shared_tokens,
                          kv_cache_bytes_per_token):
    """KV bytes (per GPU) saved when the ``prefix_hit_rate × batch`` hits hold one copy of
    the shared prefix instead of one each."""
    copies = maximum(prefix_hit_rate * batch - 1, 0)
    return copies * prefix_shared_tokens * kv_cache_bytes_per_token


@formula("FLOPs", "prefix caching skips the prefix's prefill on a hit")
def prefix_prefill_flops_skipped(batch, prefix_hit_rate, prefix_shared_tokens,
                                 params_matmul_active, vocab_size, hidden_size, num_heads,
                                 attention_head_width, num_layers):
    """Prefill FLOPs the hits skip: the shared tokens through every weight but the LM head
    and the causal attention among them, ``p(p+1)/2`` pairs per layer."""
    p = prefix_shared_tokens
    linear = 2 * p * (params_matmul_active - vocab_size * hidden_size)
    attention = 2 * num_heads * attention_head_width * p * (p + 1) / 2 * num_layers
    return prefix_hit_rate * batch * (linear + attention)


@formula("", "the share of the prefill that prefix caching skips")
def prefix_prefill_skipped_fraction(prefix_prefill_flops_skipped, prefill_flops):
    """Skipped prefill FLOPs over the prefill of the whole batch without caching."""
    return prefix_prefill_flops_skipped / prefill_flops


@formula("", "seed 000 §6.4: PagedAttention 显存利用率 → 90 %+")
def kv_paged_utilisation(kv_block_waste_fraction):
    """Share of the allocated KV slots that hold tokens with paged blocks (only the last
    block of a sequence is partly empty)."""
    return 1 - kv_block_waste_fraction
