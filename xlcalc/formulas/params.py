"""Parameter counts, exact per architecture and the seeds' approximations.

The exact count matches ``transformers``' ``model.num_parameters()`` for the same
config (tied weights once, buffers such as rotary ``inv_freq`` excluded).  Notation
follows seed ``001_*`` §0x02: h = hidden_size, L = num_layers, V = vocab_size,
a = num_heads, k = num_kv_heads, d = head_dim, f = intermediate_size.
"""

from ..expr import where
from ..graph import formula

P = "parameters"


@formula(P, "seed 001 §2.2; GPT-2/OPT learned positions")
def params_embedding(vocab_size, hidden_size, position_embeddings):
    """Token embedding V·h plus a learned absolute position table (0 rows for RoPE)."""
    return (vocab_size + position_embeddings) * hidden_size


@formula(P, "seed 001 §2.3 (MHA), §2.6 (GQA); head_dim may differ from h/a")
def params_attention_mha_per_layer(hidden_size, num_heads, num_kv_heads, head_dim, qkv_bias,
                                   o_bias):
    """Standard attention in one layer: W_Q h·a·d, W_K and W_V h·k·d each, W_O a·d·h,
    plus q/k/v biases (a·d + 2·k·d) and the output bias (h) where the model has them."""
    q_width = num_heads * head_dim
    kv_width = num_kv_heads * head_dim
    weights = hidden_size * (q_width + 2 * kv_width) + q_width * hidden_size
    return weights + qkv_bias * (q_width + 2 * kv_width) + o_bias * hidden_size


@formula(P, "DeepSeek-V2/V3 multi-head latent attention (arXiv:2405.04434 §2.1)")
def params_attention_mla_per_layer(hidden_size, num_heads, q_lora_rank, kv_lora_rank,
                                   qk_rope_head_dim, qk_nope_head_dim, v_head_dim):
    """MLA in one layer: query down/up projections (or a plain W_Q when q_lora_rank=0),
    the joint KV down-projection h·(r_kv + d_rope), its up-projection r_kv·a·(d_nope + d_v)
    and W_O a·d_v·h.  Its two latent norms are counted under ``params_norm``."""
    q_head = qk_nope_head_dim + qk_rope_head_dim
    q = where(q_lora_rank > 0,
              hidden_size * q_lora_rank + q_lora_rank * num_heads * q_head,
              hidden_size * num_heads * q_head)
    kv = hidden_size * (kv_lora_rank + qk_rope_head_dim) + \
        kv_lora_rank * num_heads * (qk_nope_head_dim + v_head_dim)
    return q + kv + num_heads * v_head_dim * hidden_size


@formula(P, "MHA/GQA/MQA or MLA, by the model's kv_lora_rank")
def params_attention_per_layer(kv_lora_rank, params_attention_mha_per_layer,
                               params_attention_mla_per_layer):
    """Attention parameters of one layer: MLA when kv_lora_rank > 0, else standard."""
    return where(kv_lora_rank > 0, params_attention_mla_per_layer,
                 params_attention_mha_per_layer)


@formula(P, "sum over layers")
def params_attention(num_layers, params_attention_per_layer):
    """Attention parameters of all layers."""
    return num_layers * params_attention_per_layer


@formula(P, "seed 001 §2.3 (FFN 8h²+5h), §2.6 (SwiGLU: three matrices)")
def params_dense_mlp_per_layer(hidden_size, intermediate_size, mlp_gated, mlp_bias):
    """Dense MLP of one layer: gate+up+down 3·h·f (gated) or up+down 2·h·f, plus
    biases (f per up/gate projection and h for down) where the model has them."""
    weights = where(mlp_gated > 0, 3, 2) * hidden_size * intermediate_size
    biases = where(mlp_gated > 0, 2, 1) * intermediate_size + hidden_size
    return weights + mlp_bias * biases


@formula(P, "Mixtral / DeepSeek-V3 experts are SwiGLU MLPs")
def params_expert(hidden_size, moe_intermediate_size):
    """One routed expert: a gated MLP of width f_e, 3·h·f_e."""
    return 3 * hidden_size * moe_intermediate_size


@formula(P, "Mixtral (arXiv:2401.04088), DeepSeek-V3 (arXiv:2412.19437)")
def params_moe_layer(hidden_size, num_experts, params_expert, shared_expert_intermediate_size):
    """An MoE block: router h·E, E routed experts, and the shared expert(s) 3·h·f_s."""
    return hidden_size * num_experts + num_experts * params_expert + \
        3 * hidden_size * shared_expert_intermediate_size


@formula(P, "top-k routing: only k experts run per token")
def params_moe_layer_active(hidden_size, num_experts, experts_per_token, params_expert,
                            shared_expert_intermediate_size):
    """The part of an MoE block one token uses: router, k experts, shared expert(s)."""
    return hidden_size * num_experts + experts_per_token * params_expert + \
        3 * hidden_size * shared_expert_intermediate_size


@formula(P, "dense layers first, MoE layers after (DeepSeek first_k_dense_replace)")
def params_mlp(num_layers, num_dense_layers, params_dense_mlp_per_layer, params_moe_layer):
    """MLP parameters of all layers: dense layers plus MoE layers."""
    return num_dense_layers * params_dense_mlp_per_layer + \
        (num_layers - num_dense_layers) * params_moe_layer


@formula(P, "as params_mlp, with the MoE layers' active part")
def params_mlp_active(num_layers, num_dense_layers, params_dense_mlp_per_layer,
                      params_moe_layer_active):
    """MLP parameters one token uses."""
    return num_dense_layers * params_dense_mlp_per_layer + \
        (num_layers - num_dense_layers) * params_moe_layer_active


@formula(P, "seed 001 §2.3 LayerNorm 2h; RMSNorm h; MLA latent norms")
def params_norm(num_layers, norms_per_layer, hidden_size, norm_bias, q_lora_rank,
                kv_lora_rank):
    """Every normalisation weight: per-layer norms, the final norm, and MLA's
    q/kv latent norms; LayerNorm has a weight and a bias, RMSNorm a weight."""
    per_norm = hidden_size * (1 + norm_bias)
    return num_layers * (norms_per_layer * per_norm + q_lora_rank + kv_lora_rank) + per_norm


@formula(P, "seed 001 §2.4: tied heads share the embedding")
def params_lm_head(vocab_size, hidden_size, tie_word_embeddings):
    """The output projection h·V, zero when tied to the token embedding."""
    return where(tie_word_embeddings > 0, 0, vocab_size * hidden_size)


@formula(P, "sum of the parts = transformers num_parameters()")
def params_total(params_embedding, params_attention, params_mlp, params_norm, params_lm_head):
    """All parameters of the model (tied weights counted once)."""
    return params_embedding + params_attention + params_mlp + params_norm + params_lm_head


@formula(P, "total minus the routed experts a token does not use")
def params_active(params_total, params_mlp, params_mlp_active):
    """Parameters one token uses (equal to the total for a dense model)."""
    return params_total - params_mlp + params_mlp_active


@formula(P, "total minus embedding and LM-head matrices")
def params_non_embedding(params_total, params_embedding, params_lm_head):
    """Parameters outside the vocabulary/position matrices."""
    return params_total - params_embedding - params_lm_head


@formula(P, "seed 000 §1.6 (LLaMA-70B ≈ 855 M per layer)")
def params_dense_layer(params_attention_per_layer, params_dense_mlp_per_layer, norms_per_layer,
                       hidden_size, norm_bias):
    """One dense decoder layer: attention, MLP and its norms."""
    return params_attention_per_layer + params_dense_mlp_per_layer + \
        norms_per_layer * hidden_size * (1 + norm_bias)


# ------------------------------------------------------------- the seeds' shortcuts

@formula(P, "seed 001 §0x00 and seed 003 §2.5 table: 12·L·h²")
def params_12lh2(num_layers, hidden_size):
    """The classic approximation 12·L·h² (4h² attention + 8h² MLP per layer)."""
    return 12 * num_layers * hidden_size ** 2


@formula(P, "seed 001 §2.5: l(12d² + 13d) + 2vd")
def params_seed_001(num_layers, hidden_size, vocab_size):
    """GPT-style count with biases and LayerNorms and an untied head."""
    return num_layers * (12 * hidden_size ** 2 + 13 * hidden_size) + 2 * vocab_size * hidden_size


@formula(P, "seed 003 §2.5: n(12h² + 4h) + Vh")
def params_seed_003(num_layers, hidden_size, vocab_size):
    """Count with LayerNorms, no biases and a tied head."""
    return num_layers * (12 * hidden_size ** 2 + 4 * hidden_size) + vocab_size * hidden_size


@formula(P, "seed 001 §2.6 (LLaMA-3): n(2d² + 2d·d·kv/h + 3d·d_FFN) + 2Vd")
def params_gqa_seed_001(num_layers, hidden_size, num_heads, num_kv_heads, intermediate_size,
                        vocab_size):
    """GQA + SwiGLU estimate of seed 001, ignoring norms, with an untied head."""
    per_layer = 2 * hidden_size ** 2 + 2 * hidden_size * hidden_size * num_kv_heads / num_heads \
        + 3 * hidden_size * intermediate_size
    return num_layers * per_layer + 2 * vocab_size * hidden_size
