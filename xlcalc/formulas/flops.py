"""FLOPs: forward per token, prefill, decode step, training (6ND, 8ND, Megatron).

A matrix product A[m,k]·B[k,n] costs 2·m·k·n FLOPs (seed ``000_*`` §5.1).  The
exact counts here sum every weight matrix a token passes through (the LM head
included even when tied: it is still a matmul) plus attention scores and the
weighted sum of values over the tokens attended, per layer kind (docs/models.md §2):
causal full layers attend to every earlier token, sliding layers to at most
``sliding_window``, chunked layers (Llama 4) to the tokens of their own chunk, and
DeepSeek-V3.2's sparse layers to ``index_topk`` tokens chosen by an indexer that scores
every token.  Linear-attention layers cost a fixed amount per token.  Element-wise work
(norms, activations, softmax) is left out, as in every source.

**FLOPs conventions** (the ``flops_executed`` input): ``0``, useful (the default), counts
the (query, key) pairs
attention needs — the causal half, each layer kind at its reach (window, chunk, top-k) —
which is also what FlashAttention-style kernels with causal/window block skipping
execute, so serving times use it; ``1``, executed, counts what a masked kernel computes
(eager or masked-sdpa attention, ``torch.utils.flop_counter``): the full ``s²`` in every
attention layer.  The convention applies to the exact counts here (prefill, training
forward) and to the times computed from them.  xlcalc's MFU figures are FLOPs in the
selected convention over peak × time (useful by default: model FLOPs, no masked half);
Megatron's formulas (:func:`megatron_training_flops` …) always count the full
``s²``, as Megatron-LM reports its TFLOP/s.  Decode attention has nothing masked: both
conventions agree.
"""

from ..expr import floor, minimum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula

F = "FLOPs"


register_terms(
    Term("flops_executed", "FLOPs convention of attention: 0 (the default) counts the useful "
         "pairs (causal half, windows: what FlashAttention executes), 1 the full masked s² "
         "of every attention layer (what eager / masked-sdpa attention executes)", "", "flag",
         0, sample=(0, 1), group="efficiency"),
)


@formula("", "FLOPs convention: useful unless flops_executed is given", input_default=True)
def flops_executed():
    """The FLOPs convention when not given: 0, the useful pairs (xlcalc's default; MFU
    figures computed from these counts are model FLOPs without the masked half)."""
    return 0


@formula("parameters", "weights a token multiplies: attention, active MLP, LM head")
def params_matmul_active(params_attention, params_mlp_active, vocab_size, hidden_size):
    """Weight elements one token multiplies in a forward pass (biases included; the LM
    head h·V counted even when tied to the embedding)."""
    return params_attention + params_mlp_active + vocab_size * hidden_size


@formula("elements", "QKᵀ uses the q/k head width, AV the value head width")
def attention_head_width(head_dim, kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim,
                         v_head_dim):
    """d_qk + d_v per head: 2·head_dim, or (d_nope + d_rope) + d_v for MLA."""
    return where(kv_lora_rank > 0, qk_nope_head_dim + qk_rope_head_dim + v_head_dim,
                 2 * head_dim)


def _attended(length, window):
    """Tokens attended by the last of ``length`` tokens under an optional window."""
    return where(window > 0, minimum(length, window), length)


def chunk_position(context, chunk):
    """Tokens of its own chunk the ``context``-th token attends to (itself included):
    ``c − chunk·floor((c − 1)/chunk)``, between 1 and ``chunk``."""
    return context - chunk * floor((context - 1) / where(chunk > 0, chunk, 1))


def attended_token_layers(context, num_full_layers, num_sliding_layers, sliding_window,
                          num_chunked_layers, attention_chunk_size, index_topk):
    """Σ over attention layers of the tokens the main attention of the ``context``-th token
    reads: full layers every token (DeepSeek-V3.2: its top-k), sliding layers the
    window, chunked layers their own chunk."""
    full = where(index_topk > 0, minimum(context, index_topk), context)
    chunked = where(attention_chunk_size > 0, chunk_position(context, attention_chunk_size),
                    context)
    return num_full_layers * full + num_sliding_layers * _attended(context, sliding_window) + \
        num_chunked_layers * chunked


def indexed_token_layers(context, num_attention_layers, index_head_dim):
    """Σ over layers of the cached index keys DeepSeek-V3.2's indexer scores for the
    ``context``-th token: every token in every layer (0 without an indexer)."""
    return where(index_head_dim > 0, num_attention_layers, 0) * context


def _causal_pairs(length):
    """Σ_{i=1..s} i: (query, key) pairs of a causal prefill of ``length`` tokens."""
    return length * (length + 1) / 2


def _causal_window_pairs(length, window):
    """Σ_{i=1..s} min(i, w): the pairs when each token sees at most ``window`` tokens."""
    w = _attended(length, window)
    return w * (w + 1) / 2 + (length - w) * w


def _chunked_pairs(length, chunk):
    """Σ_{i=1..s} (position of i in its chunk): whole chunks k(k+1)/2 each, plus the
    last partial chunk (no chunking when ``chunk`` is 0)."""
    k = where(chunk > 0, chunk, length)
    whole = floor(length / k)
    rest = length - whole * k
    return whole * k * (k + 1) / 2 + rest * (rest + 1) / 2


@formula(F, "gated delta rule / SSM scan: three state-sized passes per token; causal conv")
def linear_mixer_flops_per_token(num_linear_layers, linear_num_value_heads,
                                 linear_key_head_dim, linear_value_head_dim,
                                 linear_conv_channels, linear_conv_kernel):
    """State FLOPs of one token through the linear-attention layers (projections are
    counted with the weights): per layer 6·H·N·P for the state's decay-and-update, write
    and read (2·N·P each), and 2·c·K for the causal convolution.  A recurrent-form count:
    chunked prefill kernels do more work per token, xlcalc does not model them."""
    state = linear_num_value_heads * linear_key_head_dim * linear_value_head_dim
    return num_linear_layers * (6 * state + 2 * linear_conv_channels * linear_conv_kernel)


@formula(F, "2·a·(d_qk + d_v) per attended token per layer (seed 000 §5.2), per layer kind")
def attention_flops_per_token(num_full_layers, num_sliding_layers, sliding_window,
                              num_chunked_layers, attention_chunk_size, index_topk,
                              num_attention_layers, index_num_heads, index_head_dim,
                              num_heads, attention_head_width, linear_mixer_flops_per_token,
                              context_len):
    """Score and value FLOPs of one new token attending to ``context_len`` tokens (each
    layer kind at its reach), the indexer's scores over every cached token
    (2·heads·d_idx each), and the linear layers' state work."""
    main = attended_token_layers(context_len, num_full_layers, num_sliding_layers,
                                 sliding_window, num_chunked_layers, attention_chunk_size,
                                 index_topk)
    index = indexed_token_layers(context_len, num_attention_layers, index_head_dim)
    return 2 * num_heads * attention_head_width * main + \
        2 * index_num_heads * index_head_dim * index + linear_mixer_flops_per_token


@formula(F, "kipp.ly inference arithmetic: 2·N + attention")
def forward_flops_per_token(params_matmul_active, attention_flops_per_token):
    """Forward FLOPs of one token at ``context_len``: 2 per weight plus attention."""
    return 2 * params_matmul_active + attention_flops_per_token


@formula(F, "seed 000 §5.3: FLOPs ≈ 2 × parameters per token")
def forward_flops_per_token_rule(params_active):
    """The 2·N rule of thumb (active parameters for an MoE model)."""
    return 2 * params_active


@formula(F, "decode step: every sequence of the batch adds one token")
def decode_flops(batch, forward_flops_per_token):
    """FLOPs of one decode step for ``batch`` sequences at ``context_len``."""
    return batch * forward_flops_per_token


@formula("token pairs", "causal masking per layer kind: window-, chunk- or top-k-capped; "
                        "or the full masked s² (flops_executed)")
def attention_pairs(seq_len, num_full_layers, num_sliding_layers, sliding_window,
                    num_chunked_layers, attention_chunk_size, index_topk, flops_executed):
    """(query, key) pairs the main attention of one ``seq_len``-token sequence computes,
    summed over layers: the useful causal pairs of each layer kind (DeepSeek-V3.2: each
    query attends to at most ``index_topk``), or ``s²`` per attention layer when the
    executed convention (``flops_executed`` = 1) counts what a masked kernel computes."""
    full = where(index_topk > 0, _causal_window_pairs(seq_len, index_topk),
                 _causal_pairs(seq_len))
    useful = num_full_layers * full + \
        num_sliding_layers * _causal_window_pairs(seq_len, sliding_window) + \
        num_chunked_layers * _chunked_pairs(seq_len, attention_chunk_size)
    executed = (num_full_layers + num_sliding_layers + num_chunked_layers) * seq_len * seq_len
    return where(flops_executed > 0, executed, useful)


derive("prefill_attention_pairs", attention_pairs, "token pairs",
       "causal masking over the prompt", doc="(query, key) pairs one prompt's attention "
       "computes, summed over layers.", seq_len="prompt_len")


@formula("token pairs", "DeepSeek-V3.2: the indexer scores every causal pair")
def index_pairs(seq_len, num_attention_layers, index_head_dim, flops_executed):
    """(query, key) pairs DeepSeek-V3.2's indexer scores for one sequence, summed over
    layers (the causal half, or ``s²`` in the executed convention; 0 without an
    indexer)."""
    pairs = where(flops_executed > 0, seq_len * seq_len, _causal_pairs(seq_len))
    return where(index_head_dim > 0, num_attention_layers, 0) * pairs


derive("prefill_index_pairs", index_pairs, "token pairs", "the indexer over the prompt",
       doc="(query, key) pairs the indexer scores over one prompt.", seq_len="prompt_len")


@formula(F, "every prompt token through every weight; the LM head for the last token")
def prefill_linear_flops(batch, prompt_len, params_matmul_active, vocab_size, hidden_size):
    """GEMM FLOPs to prefill ``batch`` prompts of ``prompt_len`` tokens: every prompt token
    through every weight except the LM head, which serving engines apply to the last
    token only."""
    lm_head = vocab_size * hidden_size
    return batch * (2 * prompt_len * (params_matmul_active - lm_head) + 2 * lm_head)


@formula(F, "causal attention per kind (flops_executed), the indexer, linear layers' state")
def prefill_attention_flops(batch, prompt_len, num_heads, attention_head_width,
                            prefill_attention_pairs, index_num_heads, index_head_dim,
                            prefill_index_pairs, linear_mixer_flops_per_token):
    """Attention FLOPs of the prefill of ``batch`` prompts: scores and weighted values over
    the prompt's pairs (in the selected FLOPs convention), DeepSeek-V3.2's indexer, and the
    linear layers' state work."""
    return batch * (2 * num_heads * attention_head_width * prefill_attention_pairs +
                    2 * index_num_heads * index_head_dim * prefill_index_pairs +
                    prompt_len * linear_mixer_flops_per_token)


@formula(F, "exact prefill: GEMMs + attention")
def prefill_flops(prefill_linear_flops, prefill_attention_flops):
    """FLOPs to prefill ``batch`` prompts of ``prompt_len`` tokens: the GEMMs (LM head for
    the last token only) plus attention (causal per layer kind in the useful convention),
    the indexer and the linear layers' state."""
    return prefill_linear_flops + prefill_attention_flops


@formula(F, "seed 000 §七 example 1: FLOPs = 2 × params × prompt × batch")
def prefill_flops_rule(params_total, batch, prompt_len):
    """The seed's prefill rule of thumb, 2·N·s·b."""
    return 2 * params_total * prompt_len * batch


@formula(F, "seed 003 §4.1: n·(24bsh² + 4bs²h) + 2bshV")
def prefill_flops_seed_003(num_layers, batch, prompt_len, hidden_size, vocab_size):
    """The seed's forward-pass count: MHA with a 4h MLP, full s×s attention, logits for
    every position."""
    b, s, h = batch, prompt_len, hidden_size
    return num_layers * (24 * b * s * h ** 2 + 4 * b * s ** 2 * h) + 2 * b * s * h * vocab_size


@formula(F, "2·N per token plus causal attention over sequences of seq_len")
def forward_flops(tokens, seq_len, params_matmul_active, num_heads, attention_head_width,
                  attention_pairs, index_num_heads, index_head_dim, index_pairs,
                  linear_mixer_flops_per_token):
    """Forward FLOPs of ``tokens`` tokens packed in sequences of ``seq_len`` (logits for
    every token, as in training): 2 per weight per token plus the attention (and indexer)
    of tokens/seq_len causal sequences and the linear layers' state work."""
    return 2 * tokens * params_matmul_active + tokens * linear_mixer_flops_per_token + \
        tokens / seq_len * (2 * num_heads * attention_head_width * attention_pairs +
                            2 * index_num_heads * index_head_dim * index_pairs)


@formula(F, "backward = 2 × forward (seed 000 §3.3): 3 passes")
def training_flops(forward_flops):
    """Training FLOPs (forward + backward) of ``tokens`` tokens: 3 forward passes."""
    return 3 * forward_flops


@formula(F, "full recomputation adds one forward pass: 4 passes")
def training_flops_recompute(forward_flops):
    """Training FLOPs with full activation recomputation: 4 forward passes."""
    return 4 * forward_flops


@formula(F, "seed 000 §5.3: FLOPs ≈ 2 × parameters × tokens")
def forward_flops_2nd(params_active, tokens):
    """The forward-pass rule 2·N·D (active parameters for an MoE model)."""
    return 2 * params_active * tokens


# ---------------------------------------------------------------------- training

@formula(F, "seed 000 §5.3 / Kaplan et al. 2020: 6·N·D")
def training_flops_6nd(params_active, tokens):
    """Training FLOPs: forward 2 + backward 4 per active parameter per token."""
    return 6 * params_active * tokens


@formula(F, "full activation recomputation repeats the forward pass: 8·N·D")
def training_flops_8nd(params_active, tokens):
    """Training FLOPs with full recomputation (one extra forward pass)."""
    return 8 * params_active * tokens


def _megatron(passes, batch, seq_len, num_layers, hidden_size, vocab_size):
    """Narayanan et al. 2021 eq. (3): the layers run ``passes`` times (3, or 4 with full
    recomputation), the logits three times whatever the recomputation (6·B·s·h·V)."""
    s, h, L = seq_len, hidden_size, num_layers
    layers = 24 * passes * batch * s * L * h ** 2 * (1 + s / (6 * h))
    return layers + 6 * batch * s * h * vocab_size


@formula(F, "Narayanan et al. 2021 eq. (3) / Korthikanti et al. 2022 §6: 72·B·s·L·h²·(…)")
def megatron_training_flops(batch, seq_len, num_layers, hidden_size, vocab_size):
    """FLOPs of one training iteration of ``batch`` sequences of ``seq_len`` tokens for a
    GPT (MHA, 4h MLP): 72·B·s·L·h²·(1 + s/(6h) + V/(12hL)); full s×s attention."""
    return _megatron(3, batch, seq_len, num_layers, hidden_size, vocab_size)


@formula(F, "Narayanan et al. 2021 eq. (3): 96·B·s·L·h²·(1 + s/(6h) + V/(16hL))")
def megatron_training_flops_recompute(batch, seq_len, num_layers, hidden_size, vocab_size):
    """As :func:`megatron_training_flops` with the layers' forward pass recomputed (4
    passes); the logits are not recomputed (6·B·s·h·V, not 8)."""
    return _megatron(4, batch, seq_len, num_layers, hidden_size, vocab_size)


@formula(F, "Megatron-LM num_floating_point_operations: MHA/GQA projections; MLA's "
         "(q_lora_rank, kv_lora_rank, rope/nope/v head dims, latent norms)")
def megatron_attention_proj_flops(hidden_size, num_heads, num_kv_heads, head_dim, q_lora_rank,
                                  kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim,
                                  v_head_dim):
    """Forward FLOPs per token of one layer's attention projections (2 per multiply-add).
    GQA: 2h(ad + 2kd) + 2adh.  MLA (DeepSeek): query down/up 2r_q(h + a·d_qk + 1) (or
    2h·a·d_qk without query compression), KV down/up 2r_kv(h + a(d_nope + d_v) + 1),
    the shared rotary key 2h·d_rope and the output 2a·d_v·h; the +1 terms are the
    latent norms, as Megatron-LM counts them."""
    h, a = hidden_size, num_heads
    dense = 2 * h * (a * head_dim + 2 * num_kv_heads * head_dim) + 2 * a * head_dim * h
    d_qk = qk_nope_head_dim + qk_rope_head_dim
    q = where(q_lora_rank > 0, 2 * q_lora_rank * (h + a * d_qk + 1), 2 * h * a * d_qk)
    mla = q + 2 * kv_lora_rank * (h + a * (qk_nope_head_dim + v_head_dim) + 1) + \
        2 * h * qk_rope_head_dim + 2 * a * v_head_dim * h
    return where(kv_lora_rank > 0, mla, dense)


@formula(F, "Megatron-LM num_floating_point_operations (ffn_expansion_factor 3 for SwiGLU)")
def megatron_mlp_flops(hidden_size, mlp_gated, act_mlp_width):
    """Forward FLOPs per token of one layer's MLP, averaged over dense and MoE layers:
    2h·f·(3 gated, 2 plain) with f the width a token passes through (top-k experts and
    shared experts in MoE layers)."""
    return 2 * hidden_size * act_mlp_width * where(mlp_gated > 0, 3, 2)


def _megatron_glu(passes, batch, seq_len, num_layers, num_heads, attention_head_width,
                  megatron_attention_proj_flops, megatron_mlp_flops, hidden_size, vocab_size):
    """Layers ``passes`` times, logits three times; full s×s attention (2·s·a·(d_qk + d_v)
    per token per layer, the convention of Narayanan et al. 2021 and Korthikanti et al.
    2022 §6; Megatron-LM's code now halves it for the causal mask)."""
    core = 2 * seq_len * num_heads * attention_head_width
    layer = megatron_attention_proj_flops + core + megatron_mlp_flops
    tokens = batch * seq_len
    return tokens * (passes * num_layers * layer + 3 * 2 * hidden_size * vocab_size)


@formula(F, "Megatron-LM training.py num_floating_point_operations (GQA, SwiGLU, MoE, MLA)")
def megatron_training_flops_glu(batch, seq_len, num_layers, num_heads, attention_head_width,
                                megatron_attention_proj_flops, megatron_mlp_flops, hidden_size,
                                vocab_size):
    """FLOPs of one training iteration (forward + backward: 3 passes): per token and layer
    the attention projections (GQA or MLA), the attention core over the full s×s and the
    MLP (gated ×3/2, top-k experts and shared experts averaged over the layers), plus
    the logits 6·h·V.  For a GPT it is 72·B·s·L·h²·(1 + s/(6h) + V/(12hL))."""
    return _megatron_glu(3, batch, seq_len, num_layers, num_heads, attention_head_width,
                         megatron_attention_proj_flops, megatron_mlp_flops, hidden_size,
                         vocab_size)


@formula(F, "as megatron_training_flops_glu with the layers' forward pass recomputed "
         "(Narayanan et al. 2021 eq. 3: the logits are not)")
def megatron_training_flops_glu_recompute(batch, seq_len, num_layers, num_heads,
                                          attention_head_width, megatron_attention_proj_flops,
                                          megatron_mlp_flops, hidden_size, vocab_size):
    """Megatron's count with full recomputation: the layers four times, logits three."""
    return _megatron_glu(4, batch, seq_len, num_layers, num_heads, attention_head_width,
                         megatron_attention_proj_flops, megatron_mlp_flops, hidden_size,
                         vocab_size)
