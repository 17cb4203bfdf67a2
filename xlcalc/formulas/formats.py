"""Bytes of a number format: bits per weight of a storage format (values, block scales and
zero points, GGUF mixes), bytes per element of a KV-cache format.

Each formula reads the columns of the format tables (:mod:`xlcalc.formats`), so a new
format is a new row, never new code.  Worked by hand:

* nvfp4: 16 fp4 values and one fp8 scale per block, ``(16·4 + 8)/16 = 4.5`` bits = 0.5625 B;
* mxfp4: ``(32·4 + 8)/32 = 4.25`` bits = 0.53125 B;
* GPTQ/AWQ int4 at group 128: ``4 + (16 + 4)/128 = 4.15625`` bits (fp16 scale, 4-bit zero);
* GGUF Q4_K (in Q4_K_M): 144 bytes per 256 weights = 4.5 bits, plus half the layers'
  ``attn_v`` and ``ffn_down`` at Q6_K (6.5625 bits);
* int8 KV per token and head: ``1 + 4/head_dim`` bytes per element;
* MLA in vLLM's fp8_ds_mla layout: ``512·(1 + 4/128) + 64·2 = 656`` bytes per token and layer.
"""

from ..expr import maximum, where
from ..glossary import Term, register_terms
from ..graph import formula

register_terms(
    Term("quant_group_size", "weights sharing one fp16 scale and 4-bit zero point in "
         "group-wise int4 quantization (GPTQ/AWQ)", "weights", default=128, sample=(64, 128),
         maximum=2 ** 20),
)


@formula("bits/weight", "format table: value bits + scale bits / block")
def weight_base_bits(weight_bits, weight_scale_bits, weight_block, quant_group_size):
    """Bits per weight of the format's blocks: the value bits plus the block's scales and
    zero points spread over its weights (the group is ``quant_group_size`` where the
    format's block is 0: GPTQ/AWQ)."""
    return weight_bits + weight_scale_bits / where(weight_block > 0, weight_block,
                                                   quant_group_size)


@formula("", "llama.cpp llama-quant.cpp: attn_v (attn_kv_b) and ffn_down tensors")
def gguf_upgrade_share(num_layers, hidden_size, num_kv_heads, head_dim, num_heads,
                       kv_lora_rank, qk_nope_head_dim, v_head_dim, num_dense_layers,
                       intermediate_size, num_experts, moe_intermediate_size,
                       shared_expert_intermediate_size, params_non_embedding):
    """Share of the layer weights in the tensors llama.cpp's ``_M`` mixes may upgrade:
    ``attn_v`` (MLA: ``attn_kv_b``) and ``ffn_down`` (dense, or every expert's)."""
    v = where(kv_lora_rank > 0, kv_lora_rank * num_heads * (qk_nope_head_dim + v_head_dim),
              hidden_size * num_kv_heads * head_dim)
    down = num_dense_layers * intermediate_size * hidden_size + \
        (num_layers - num_dense_layers) * \
        (num_experts * moe_intermediate_size + shared_expert_intermediate_size) * hidden_size
    return (num_layers * v + down) / params_non_embedding


@formula("bytes/parameter", "format table; GGUF _M: use_more_bits layers at mix_bits")
def weight_bytes_per_param(weight_base_bits, weight_mix_bits, weight_mix_fraction,
                           gguf_upgrade_share):
    """Bytes per weight of the layers (the linear layers' average): the format's block
    bits, and for a GGUF ``_M`` mix the upgraded share (``mix_fraction`` of the layers'
    ``attn_v``/``ffn_down``) at ``mix_bits``."""
    upgraded = weight_mix_fraction * gguf_upgrade_share * (weight_mix_bits - weight_base_bits)
    return (weight_base_bits + where(weight_mix_bits > 0, upgraded, 0)) / 8


@formula("bytes/parameter", "format table: embedding bits (GGUF: a tied embedding is the "
         "output tensor)")
def embed_bytes_per_param(embed_bits, lm_head_bits, tie_word_embeddings):
    """Bytes per weight of the token embedding: 16-bit unless the format says otherwise
    (GGUF quantizes it; llama.cpp gives a tied embedding the output tensor's type)."""
    return where(tie_word_embeddings > 0, lm_head_bits, embed_bits) / 8


@formula("bytes/parameter", "format table: LM-head bits")
def lm_head_bytes_per_param(lm_head_bits):
    """Bytes per weight of an untied LM head (16-bit unless the format says otherwise)."""
    return lm_head_bits / 8


@formula("bytes", "format table: value bits + scales per group; MLA latent and rope apart")
def kv_dtype_bytes(kv_bits, kv_scale_bytes, kv_scale_group, kv_rope_bits, head_dim,
                   kv_lora_rank, qk_rope_head_dim):
    """Average bytes of one cached KV element: the value bits plus the scale bytes of its
    group (one group per head vector where the format's group is 0: int8 per token-head;
    per latent vector for MLA); for MLA the rope part at ``rope_bits`` (bf16 in vLLM's
    fp8_ds_mla), averaged over ``kv_lora_rank + qk_rope_head_dim`` elements:
    ``value + R·(rope − value)/(L + R)``."""
    mla = kv_lora_rank > 0
    group = where(kv_scale_group > 0, kv_scale_group, where(mla, kv_lora_rank, head_dim))
    value = kv_bits / 8 + kv_scale_bytes / group
    rope = where(kv_rope_bits > 0, kv_rope_bits, kv_bits) / 8
    spread = qk_rope_head_dim * (rope - value) / maximum(kv_lora_rank + qk_rope_head_dim, 1)
    return value + where(mla, spread, 0)
