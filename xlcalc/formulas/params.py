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


@formula("layers", "docs/models.md §2: layers = full + sliding + chunked + linear")
def num_attention_layers(num_layers, num_linear_layers):
    """Layers whose mixer is softmax attention (every kind but linear attention)."""
    return num_layers - num_linear_layers


@formula("layers", "docs/models.md §2")
def num_full_layers(num_layers, num_sliding_layers, num_chunked_layers, num_linear_layers):
    """Attention layers that see every token (no window, no chunk)."""
    return num_layers - num_sliding_layers - num_chunked_layers - num_linear_layers


@formula(P, "seed 001 §2.3 (MHA), §2.6 (GQA); head_dim may differ from h/a; gpt-oss sinks; "
            "Qwen3-Next output gate")
def params_attention_mha_per_layer(hidden_size, num_heads, num_kv_heads, head_dim, qkv_bias,
                                   o_bias, attention_sinks, attention_output_gate):
    """Standard attention in one layer: W_Q h·a·d (twice as wide with an output gate),
    W_K and W_V h·k·d each, W_O a·d·h, the q/k/v biases and the output bias where the
    model has them, and one sink logit per query head (gpt-oss)."""
    q_width = num_heads * head_dim * (1 + attention_output_gate)
    kv_width = num_kv_heads * head_dim
    weights = hidden_size * (q_width + 2 * kv_width) + num_heads * head_dim * hidden_size
    return weights + qkv_bias * (q_width + 2 * kv_width) + o_bias * hidden_size + \
        attention_sinks * num_heads


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


@formula(P, "DeepSeek-V3.2 lightning indexer (transformers DeepseekV32Indexer)")
def params_indexer_per_layer(hidden_size, q_lora_rank, index_num_heads, index_head_dim):
    """The sparse-attention indexer of one layer: wq_b (r_q × heads·d_idx), wk (h × d_idx)
    and weights_proj (h × heads); its LayerNorm is counted under ``params_norm``."""
    return q_lora_rank * index_num_heads * index_head_dim + hidden_size * index_head_dim + \
        hidden_size * index_num_heads


@formula(P, "MHA/GQA/MQA or MLA (+ indexer), by the model's kv_lora_rank")
def params_attention_per_layer(kv_lora_rank, params_attention_mha_per_layer,
                               params_attention_mla_per_layer, params_indexer_per_layer):
    """Attention parameters of one attention layer: MLA (and its indexer) when
    kv_lora_rank > 0, else standard."""
    return where(kv_lora_rank > 0, params_attention_mla_per_layer + params_indexer_per_layer,
                 params_attention_mha_per_layer)


@formula("elements", "docs/models.md §4: q, k (G·N each) and v (H·P) pass the convolution")
def linear_conv_channels(linear_num_key_heads, linear_key_head_dim, linear_num_value_heads,
                         linear_value_head_dim):
    """Channels of a linear-attention layer's causal convolution: 2·G·N + H·P."""
    return 2 * linear_num_key_heads * linear_key_head_dim + \
        linear_num_value_heads * linear_value_head_dim


@formula(P, "gated DeltaNet (Qwen3-Next), Mamba-2 (Granite 4.0-H), lightning (MiniMax-01)")
def params_linear_attention_per_layer(hidden_size, linear_conv_channels,
                                      linear_num_value_heads, linear_value_head_dim,
                                      linear_conv_kernel, linear_head_inputs,
                                      linear_head_params, linear_conv_bias, linear_proj_bias):
    """One linear-attention layer: the input projection h·(c + H·P + s·H) (q, k, v, the
    output gate z, s scalars per head), the convolution c·K (+ c bias), the learned
    per-head vectors, the output projection H·P·h (+ biases).  The output norm is counted
    under ``params_norm``."""
    inner = linear_num_value_heads * linear_value_head_dim
    in_width = linear_conv_channels + inner + linear_head_inputs * linear_num_value_heads
    conv = linear_conv_channels * (linear_conv_kernel + linear_conv_bias)
    return hidden_size * in_width + conv + linear_head_params * linear_num_value_heads + \
        inner * hidden_size + linear_proj_bias * (in_width + hidden_size)


@formula(P, "sum over the layers of each kind")
def params_linear_attention(num_linear_layers, params_linear_attention_per_layer):
    """Parameters of all linear-attention layers (norms excluded)."""
    return num_linear_layers * params_linear_attention_per_layer


@formula(P, "sum over layers: attention layers and linear-attention layers")
def params_attention(num_attention_layers, params_attention_per_layer,
                     params_linear_attention):
    """Token-mixer parameters of all layers: attention and linear attention."""
    return num_attention_layers * params_attention_per_layer + params_linear_attention


@formula(P, "seed 001 §2.3 (FFN 8h²+5h), §2.6 (SwiGLU: three matrices)")
def params_dense_mlp_per_layer(hidden_size, intermediate_size, mlp_gated, mlp_bias):
    """Dense MLP of one layer: gate+up+down 3·h·f (gated) or up+down 2·h·f, plus
    biases (f per up/gate projection and h for down) where the model has them."""
    weights = where(mlp_gated > 0, 3, 2) * hidden_size * intermediate_size
    biases = where(mlp_gated > 0, 2, 1) * intermediate_size + hidden_size
    return weights + mlp_bias * biases


@formula(P, "Mixtral / DeepSeek-V3 experts are SwiGLU MLPs; gpt-oss experts have biases")
def params_expert(hidden_size, moe_intermediate_size, moe_bias):
    """One routed expert: a gated MLP of width f_e, 3·h·f_e, plus 2·f_e + h biases."""
    return 3 * hidden_size * moe_intermediate_size + \
        moe_bias * (2 * moe_intermediate_size + hidden_size)


@formula(P, "router h·E (+ E: gpt-oss bias, ERNIE 4.5 score correction)")
def params_router(hidden_size, num_experts, router_bias):
    """The router of one MoE layer: h·E weights, plus E when it has a bias."""
    return hidden_size * num_experts + router_bias * num_experts


@formula(P, "router parameters of every MoE layer (a format may keep them in their own dtype)")
def params_routers(num_layers, num_dense_layers, params_router):
    """Router parameters of all MoE layers."""
    return (num_layers - num_dense_layers) * params_router


@formula(P, "DeepSeek shared experts; Qwen2-MoE/Qwen3-Next sigmoid gate")
def params_shared_expert(hidden_size, shared_expert_intermediate_size, shared_expert_gate):
    """The shared expert(s) of one MoE layer: 3·h·f_s, plus the h → 1 gate."""
    return 3 * hidden_size * shared_expert_intermediate_size + shared_expert_gate * hidden_size


@formula(P, "Mixtral (arXiv:2401.04088), DeepSeek-V3 (arXiv:2412.19437)")
def params_moe_layer(num_experts, params_expert, params_router, params_shared_expert):
    """An MoE block: router, E routed experts, and the shared expert(s)."""
    return params_router + num_experts * params_expert + params_shared_expert


@formula(P, "top-k routing: only k experts run per token")
def params_moe_layer_active(experts_per_token, params_expert, params_router,
                            params_shared_expert):
    """The part of an MoE block one token uses: router, k experts, shared expert(s)."""
    return params_router + experts_per_token * params_expert + params_shared_expert


@formula(P, "dense layers (anywhere: first_k_dense_replace, interleave step) and MoE layers")
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


@formula(P, "MLA latent norms, q/k norms, the indexer's LayerNorm, per attention layer")
def params_attention_norms_per_layer(q_lora_rank, kv_lora_rank, qk_norm, qk_norm_per_head,
                                     num_heads, num_kv_heads, head_dim, index_head_dim):
    """Norm weights inside one attention layer: MLA's q/kv latent norms, q/k norms (d each
    when shared by the heads, else a·d + k·d), the indexer key's LayerNorm (weight and
    bias)."""
    qk = qk_norm * where(qk_norm_per_head > 0, 2 * head_dim,
                         (num_heads + num_kv_heads) * head_dim)
    return q_lora_rank + kv_lora_rank + qk + 2 * index_head_dim


@formula(P, "seed 001 §2.3 LayerNorm 2h; RMSNorm h; per-kind mixer norms")
def params_norm(num_layers, norms_per_layer, hidden_size, norm_bias, num_attention_layers,
                params_attention_norms_per_layer, num_linear_layers, linear_norm_per_head,
                linear_num_value_heads, linear_value_head_dim):
    """Every normalisation weight: the per-layer norms, the final norm, the norms inside
    attention layers (MLA latents, q/k, indexer) and the linear layers' output norm;
    LayerNorm has a weight and a bias, RMSNorm a weight."""
    per_norm = hidden_size * (1 + norm_bias)
    linear = where(linear_norm_per_head > 0, linear_value_head_dim,
                   linear_num_value_heads * linear_value_head_dim)
    return num_layers * norms_per_layer * per_norm + per_norm + \
        num_attention_layers * params_attention_norms_per_layer + num_linear_layers * linear


@formula(P, "seed 001 §2.4: tied heads share the embedding")
def params_lm_head(vocab_size, hidden_size, tie_word_embeddings, lm_head_bias):
    """The output projection h·V, zero when tied to the token embedding, plus its bias
    (V) where it has one."""
    return where(tie_word_embeddings > 0, 0, vocab_size * hidden_size) + lm_head_bias * vocab_size


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


# ------------------------------------------------------------ optional parts (not in total)

@formula(P, "DeepSeek-V3 §2.2 MTP modules; transformers MtpLayer (enorm, hnorm, eh_proj, "
            "block, post_norm)")
def params_mtp(num_mtp_layers, hidden_size, norm_bias, norms_per_layer,
               params_attention_per_layer, params_attention_norms_per_layer, num_experts,
               params_moe_layer, params_dense_mlp_per_layer):
    """Multi-token-prediction modules, **not** in ``params_total`` (transformers does not
    build them into the model): each is one decoder layer (an MoE layer when the model has
    experts), ``eh_proj`` 2h × h and three h-wide norms; the embedding and LM head are
    shared with the main model."""
    per_norm = hidden_size * (1 + norm_bias)
    mlp = where(num_experts > 0, params_moe_layer, params_dense_mlp_per_layer)
    layer = params_attention_per_layer + params_attention_norms_per_layer + mlp + \
        norms_per_layer * per_norm
    return num_mtp_layers * (layer + 2 * hidden_size * hidden_size + 3 * per_norm)


@formula(P, "generic ViT: SigLIP, Llama 4 vision, Pixtral, Qwen3.5 vision")
def params_vision_encoder(vision_hidden_size, vision_num_layers, vision_intermediate_size,
                          vision_patch_inputs, vision_patch_bias, vision_position_embeddings,
                          vision_extra_vectors, vision_mlp_gated, vision_bias,
                          vision_norm_bias):
    """The vision encoder (0 without one): patch embedding, learned positions, class
    token and pre/post norms, and per layer attention 4·h_v² (+ 4·h_v biases), an MLP of
    width f_v (gated: three matrices) and two norms."""
    hv, fv = vision_hidden_size, vision_intermediate_size
    gated = vision_mlp_gated > 0
    attention = 4 * hv * hv + vision_bias * 4 * hv
    mlp = where(gated, 3, 2) * hv * fv + vision_bias * (where(gated, 2, 1) * fv + hv)
    norms = 2 * hv * (1 + vision_norm_bias)
    embed = vision_patch_inputs * hv + vision_patch_bias * hv + \
        (vision_position_embeddings + vision_extra_vectors) * hv
    return embed + vision_num_layers * (attention + mlp + norms)


@formula(P, "multimodal projectors as a chain of up to three linears")
def params_vision_projector(vision_proj_norm, vision_proj_norm_bias, vision_proj_in,
                            vision_proj_mid1, vision_proj_mid2, vision_proj_out,
                            vision_proj_bias):
    """The projector from vision to text width (0 without one): a norm, then linears
    in → mid1 → mid2 → out (mid widths 0 when absent), with biases when the model has
    them."""
    first = where(vision_proj_mid1 > 0, vision_proj_mid1, vision_proj_out)
    second = where(vision_proj_mid2 > 0, vision_proj_mid2, vision_proj_out)
    linears = vision_proj_in * first + \
        where(vision_proj_mid1 > 0, vision_proj_mid1 * second, 0) + \
        where(vision_proj_mid2 > 0, vision_proj_mid2 * vision_proj_out, 0)
    biases = first + where(vision_proj_mid1 > 0, second, 0) + \
        where(vision_proj_mid2 > 0, vision_proj_out, 0)
    norm = vision_proj_norm * (1 + vision_proj_norm_bias)
    return where(vision_proj_in > 0, norm + linears + vision_proj_bias * biases, 0)


@formula(P, "vision tower + projector, reported beside the language model's total")
def params_vision(params_vision_encoder, params_vision_projector):
    """Parameters of a multimodal model's vision tower and projector, **not** in
    ``params_total`` (xlcalc sizes the language model)."""
    return params_vision_encoder + params_vision_projector


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
