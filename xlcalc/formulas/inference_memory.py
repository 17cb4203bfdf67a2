"""Inference memory per GPU: weights, KV cache, activations, engine reserve; fits, headroom
(the fewest GPUs that fit are in :mod:`xlcalc.formulas.fewest_gpus`).

Parts (all bytes on the busiest GPU of a ``tp × pp`` replica):

* **weights** — linear layers at the storage format's bytes per weight
  (:func:`~xlcalc.formulas.formats.weight_bytes_per_param`: values plus block scales and
  zero points, GGUF mixes), the token embedding and LM head at the format's embedding and
  head bits (16-bit unless the format says otherwise: vLLM, AutoAWQ and GPTQ keep them at
  16 bits, GGUF quantizes them).  Split ``tp`` ways; the busiest pipeline stage holds
  ``ceil(L / pp)`` layers and the embedding.  The seeds' rule ``params × bytes`` is
  :func:`model_weights_bytes_rule`.
* **KV cache** — the core's :func:`~xlcalc.formulas.kv_cache.kv_cache_bytes` (GQA/MQA/MLA,
  windows, TP split or replication, pages) for the busiest stage's layers.
* **activations** — what the engine holds for activations: the peak it profiles and
  subtracts before sizing its KV cache (:func:`~xlcalc.formulas.engines.engine_activation_bytes`:
  vLLM's forward pass of ``max_num_batched_tokens`` tokens or its sampler, whichever is
  larger), or the batch's own largest transient tensor when that is larger (seed
  ``003_*`` §5.4: the MLP's first linear output ``8bsh`` — ``b·s·2f`` for a gated MLP —
  against the attention scores ``2bs²a`` when attention is not FlashAttention; the seed
  engine profiles nothing, so this is its figure).
* **reserve** — what the engine keeps outside PyTorch's tensors within its budget
  (:func:`~xlcalc.formulas.engines.infer_non_torch_bytes`): ``infer_reserve_bytes``, by
  default the engine's non-torch memory (vLLM's 0.13 GiB of workspaces), plus its
  communication buffers when the replica spans GPUs (vLLM 0.42 GiB more).

A GPU offers the engine's budget, ``gpu_memory_utilization × (memory − context)``
(:func:`infer_budget_bytes`; the engine's own fraction by default: vLLM's 0.9 of the
total the driver reports, SGLang's ``mem_fraction_static`` rule, all of it for the seeds):
the plan fits when what it needs stays within it (TensorRT-LLM also keeps
``1 − free_gpu_memory_fraction`` of the free memory back, :func:`infer_headroom_bytes`).
The default engine is ``vllm`` (the ``engine`` input).
"""

from ..expr import ceil, maximum, minimum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .kv_cache import kv_cache_bytes

B = "bytes"

register_terms(
    Term("gpu_memory_utilization", "share of each GPU's memory the engine may use (vLLM's "
         "gpu_memory_utilization, SGLang's mem_fraction_static); 0 (the default): the "
         "engine's", "", "real", 0, maximum=1, default=0.0, sample=(0.0, 0.8, 0.95),
         group="efficiency"),
    Term("infer_reserve_bytes", "engine memory per GPU outside weights, KV cache and "
         "activations within its budget: cuBLAS/attention workspaces, NCCL buffers (vLLM's "
         "non-torch memory; default: the engine's)", B, "real", 0,
         sample=(0.0, 1e9, 2.5e9), group="efficiency", maximum=1e13),
    Term("max_num_batched_tokens", "most tokens one forward pass holds (vLLM's chunked-prefill "
         "budget, where it profiles the activation peak; 0: no limit, the seeds; default: "
         "the engine's for the GPU's memory)", "tokens", minimum=0,
         sample=(2048, 8192, 16384), maximum=1e8),
    Term("max_num_seqs", "most sequences one engine rank runs at once (vLLM max_num_seqs, "
         "SGLang cuda_graph_max_bs, TensorRT-LLM max_batch_size; 0: no limit, the seeds; "
         "default: the engine's for the GPU's memory)", "sequences", minimum=0,
         sample=(256, 1024), maximum=1e7),
    Term("flash_attention", "1 when attention never writes the s×s score matrix to HBM "
         "(FlashAttention, vLLM's default), 0 for eager attention", "", "flag", 0,
         default=1, sample=(0, 1)),
)


# ------------------------------------------------------------------------ weights

@formula(B, "weights at their storage format; embedding and LM head at the format's bits")
def model_weights_bytes(params_non_embedding, params_embedding, params_lm_head,
                        weight_bytes_per_param, embed_bytes_per_param,
                        lm_head_bytes_per_param):
    """Bytes of all the model's weights: layers at ``weight_bytes_per_param``, the
    embedding and (untied) LM head at the format's embedding and head bytes (16-bit
    unless the format says otherwise)."""
    return params_non_embedding * weight_bytes_per_param + \
        params_embedding * embed_bytes_per_param + params_lm_head * lm_head_bytes_per_param


@formula(B, "seed 000 §4.1 / seed 003 §三: 参数量 × 每参数字节数")
def model_weights_bytes_rule(params_total, dtype_bytes):
    """The seeds' rule: every parameter at the dtype's bytes."""
    return params_total * dtype_bytes


@formula(B, "seed 003 §三: 推理总内存 ≈ 1.2 × 模型参数内存")
def infer_total_bytes_1_2x(model_weights_bytes_rule):
    """The seeds' rule of thumb for inference memory: 1.2 × the weights (20 % for KV cache,
    activations and framework, "different frameworks differ")."""
    return 1.2 * model_weights_bytes_rule


@formula(B, "Megatron/vLLM tensor parallelism, the busiest pipeline stage; routed experts "
            "over tp × dp_attention")
def infer_weights_bytes(params_non_embedding, params_embedding, params_lm_head, params_routed,
                        weight_bytes_per_param, embed_bytes_per_param,
                        lm_head_bytes_per_param, stage_layers, num_layers, tp, pp,
                        moe_group_gpus):
    """Weight bytes on the busiest GPU: ``ceil(L/pp)`` layers' share of the layer weights
    — the dense parts split ``tp`` ways, an MoE model's routed experts over the stage's
    ``tp × dp_attention`` GPUs (:mod:`.moe_serving`) — plus the embedding and LM head
    (pp = 1) or the embedding (pp > 1: the LM head sits on the last stage), split ``tp``
    ways (vocab-parallel) at the format's embedding and head bits."""
    dense = (params_non_embedding - params_routed) / tp + params_routed / moe_group_gpus
    layers = dense * weight_bytes_per_param * stage_layers / num_layers
    embedding = params_embedding * embed_bytes_per_param
    vocab = where(pp > 1, embedding, embedding + params_lm_head * lm_head_bytes_per_param)
    return layers + vocab / tp


# ----------------------------------------------------------------------- KV cache

@formula(B, "core kv_cache_bytes + state_cache_bytes for the busiest stage's layers")
def infer_kv_cache_bytes(kv_cache_bytes, state_cache_bytes, stage_layers, num_layers):
    """KV-cache bytes on the busiest GPU: the core's per-GPU figure (tensor-parallel split)
    plus the linear-attention state of the sequences (vLLM allocates both from one pool),
    for the ``ceil(L/pp)`` layers of one pipeline stage."""
    return (kv_cache_bytes + state_cache_bytes) * stage_layers / num_layers


derive("kv_model_token_bytes", kv_cache_bytes, B, "seed 000 §2.4: the whole model's KV cache "
       "(every KV head, all layers)", kv_elements_per_token_layer="kv_model_elements_per_token_layer")


@formula(B, "the whole model's KV cache and linear-attention state")
def kv_model_bytes(kv_model_token_bytes, batch, state_model_bytes_per_sequence):
    """KV cache of every KV head and layer plus the linear layers' state, for ``batch``
    sequences (no tensor-parallel split)."""
    return kv_model_token_bytes + batch * state_model_bytes_per_sequence


# -------------------------------------------------------------------- activations

@formula("elements", "widest MLP hidden a token passes through (dense or top-k experts)")
def mlp_peak_width(intermediate_size, num_dense_layers, num_experts, experts_per_token,
                   moe_intermediate_size, shared_expert_intermediate_size):
    """Hidden width of the widest MLP: ``intermediate_size`` for dense layers; for MoE
    layers, the ``k`` routed experts plus the shared expert(s) a token visits."""
    dense = where(num_dense_layers > 0, intermediate_size, 0)
    moe = where(num_experts > 0,
                experts_per_token * moe_intermediate_size + shared_expert_intermediate_size, 0)
    return maximum(dense, moe)


@formula("tokens", "vLLM chunked prefill: max_num_batched_tokens per forward pass")
def tokens_per_forward(batch, seq_len, max_num_batched_tokens):
    """Tokens in the largest forward pass: the whole batch's sequences at once, capped by
    the engine's ``max_num_batched_tokens`` (0: no cap, the seeds)."""
    return where(max_num_batched_tokens > 0, minimum(batch * seq_len, max_num_batched_tokens),
                 batch * seq_len)


def _activation_bytes(tokens, seq_len, act_dtype_bytes, mlp_gated, mlp_peak_width, num_heads,
                      flash_attention, shards):
    """Seed 003 §5.4: max(MLP first-layer output, attention scores) for ``tokens`` tokens
    of sequences of ``seq_len`` tokens, split over ``shards`` tensor-parallel ranks."""
    mlp = act_dtype_bytes * where(mlp_gated > 0, 2, 1) * mlp_peak_width * tokens
    scores = (1 - flash_attention) * act_dtype_bytes * num_heads * tokens * seq_len
    return maximum(mlp, scores) / shards


def _batch_peak(tokens_per_forward, seq_len, act_dtype_bytes, mlp_gated, mlp_peak_width,
                num_heads, flash_attention, tp):
    """Peak transient activation bytes of this batch's largest forward pass on one GPU: the
    MLP's first linear output (``b·s·f`` elements, ``b·s·2f`` gated: seed 003's ``8bsh``
    for f = 4h at 2 bytes) or, without FlashAttention, the attention scores (``b·a·s²``:
    seed 003's ``2bs²a``), whichever is larger, for ``tokens_per_forward`` tokens, split
    ``tp`` ways."""
    return _activation_bytes(tokens_per_forward, seq_len, act_dtype_bytes, mlp_gated,
                             mlp_peak_width, num_heads, flash_attention, tp)


def _profiled_peak(max_num_batched_tokens, act_dtype_bytes, mlp_gated, mlp_peak_width, tp):
    """Activation peak of the engine's profiling forward pass: the widest MLP's first
    output for ``max_num_batched_tokens`` tokens (engines run FlashAttention: no score
    matrix), split ``tp`` ways (seed 003 §5.4)."""
    return act_dtype_bytes * where(mlp_gated > 0, 2, 1) * mlp_peak_width * \
        max_num_batched_tokens / tp


_SEED_003 = "seed 003 §5.4: max(8bsh MLP intermediate, 2bs²a attention scores)"
derive("batch_activation_bytes", _batch_peak, B, _SEED_003)
derive("batch_activation_whole_bytes", _batch_peak, B, _SEED_003 + ", on one GPU",
       doc="The batch's transient activation peak, whole (tp = 1).", tp=1)
_PROFILE = "vLLM/TRT-LLM profile run: forward pass of max_num_batched_tokens tokens"
derive("profiled_activation_bytes", _profiled_peak, B, _PROFILE)
derive("profiled_activation_whole_bytes", _profiled_peak, B, _PROFILE + ", on one GPU",
       doc="The engine's profiled forward-pass peak, whole (tp = 1).", tp=1)


@formula(B, "the engine's profiled peak, or the batch's transient when larger")
def infer_activation_bytes(engine_activation_bytes, batch_activation_bytes):
    """Activation memory on the busiest GPU: the peak the engine holds back for activations
    (vLLM profiles it before sizing the KV cache; the seed engine profiles nothing), or the
    batch's own largest transient tensor when that is larger (eager attention's scores)."""
    return maximum(engine_activation_bytes, batch_activation_bytes)


@formula(B, "seed 000 §4.1 example: batch × seq × hidden × 4 × 2")
def infer_activation_bytes_seed_000(batch, seq_len, hidden_size):
    """Seed 000's estimate of the activation peak: ``b·s·h`` values for "a few" (4)
    tensors at 2 bytes."""
    return batch * seq_len * hidden_size * 4 * 2


# ------------------------------------------------------------- reserve and totals

def _total(weights, draft, kv, activations, reserve):
    return weights + draft + kv + activations + reserve


@formula(B, "breakdown first: the total is the sum of its parts")
def infer_total_bytes(infer_weights_bytes, serve_draft_weights_bytes, infer_kv_cache_bytes,
                      infer_activation_bytes, infer_non_torch_bytes):
    """Inference memory on the busiest GPU: weights (+ a draft model's) + KV cache +
    activations + reserve."""
    return _total(infer_weights_bytes, serve_draft_weights_bytes, infer_kv_cache_bytes,
                  infer_activation_bytes, infer_non_torch_bytes)


@formula(B, "vLLM: gpu_memory_utilization × total; SGLang: mem_fraction_static × free at "
            "start")
def infer_budget_bytes(gpu_memory_bytes, engine_context_bytes, memory_fraction_used):
    """Bytes the engine may use on one GPU: ``gpu_memory_utilization × (memory − context)``
    (the engine's fraction unless given: vLLM 0.9 of the total the driver reports;
    SGLang ``mem_fraction_static`` of the memory free after the CUDA context)."""
    return memory_fraction_used * (gpu_memory_bytes - engine_context_bytes)


def _headroom(budget, total, kv, free_fraction):
    """KV room the engine leaves minus the KV cache held: ``free_fraction × (budget −
    everything but the KV) − KV`` (budget − total when the engine gives the KV cache all
    that is left)."""
    return free_fraction * (budget - (total - kv)) - kv


@formula(B, "what the engine leaves for the KV cache minus the KV held; negative: short")
def infer_headroom_bytes(infer_budget_bytes, infer_total_bytes, infer_kv_cache_bytes,
                         engine_kv_free_fraction):
    """Bytes left on the busiest GPU (negative: short by that much): the budget minus the
    total for vLLM, SGLang and the seeds; TensorRT-LLM gives the KV cache only
    ``free_gpu_memory_fraction`` (0.9) of what is free after everything else."""
    return _headroom(infer_budget_bytes, infer_total_bytes, infer_kv_cache_bytes,
                     engine_kv_free_fraction)


@formula("", "a plan that does not fit is a result, not an error")
def infer_fits(infer_headroom_bytes):
    """TRUE when the plan fits the engine's budget on the busiest GPU."""
    return infer_headroom_bytes >= 0


@formula("", "share of the GPU's whole memory")
def infer_gpu_share(infer_total_bytes, gpu_memory_bytes):
    """Inference memory as a share of the GPU's memory (1 = all of it)."""
    return infer_total_bytes / gpu_memory_bytes


@formula("", "a warning, not an error: RoPE models degrade past their trained length")
def context_warning(seq_len, max_position_embeddings):
    """Text warning when ``seq_len`` exceeds the model's ``max_position_embeddings``;
    empty otherwise."""
    return where(seq_len > max_position_embeddings,
                 "seq_len exceeds the model's max_position_embeddings", "")


# ------------------------------------------------- the whole plan on one GPU (the seeds)

def activation_at_tp(t, batch_activation_whole_bytes, profiled_activation_whole_bytes,
                     engine_sampler_bytes, engine_activation_counted):
    """:func:`infer_activation_bytes` at tensor-parallel degree ``t``: the batch's transient
    and the engine's forward pass split ``t`` ways, the sampler's logits whole on every
    rank."""
    engine = engine_activation_counted * maximum(profiled_activation_whole_bytes / t,
                                                 engine_sampler_bytes)
    return maximum(batch_activation_whole_bytes / t, engine)


derive("model_activation_bytes", activation_at_tp, B, "whole-model activation peak (no "
       "tensor-parallel split)", doc="Activation memory of the plan on one GPU (tp = 1).", t=1)


@formula(B, "seed 000 §4.1: weights + KV + activations + buffers on one GPU")
def infer_total_bytes_one_gpu(model_weights_bytes, kv_model_bytes, model_activation_bytes,
                              infer_reserve_bytes):
    """The whole plan's memory as if on a single GPU (tp = pp = 1: no communication
    buffers)."""
    return model_weights_bytes + kv_model_bytes + model_activation_bytes + infer_reserve_bytes


@formula("GPUs", "seed 000 §4.1: 248 GB / 80 GB → at least 4 GPUs")
def gpus_needed_rule(infer_total_bytes_one_gpu, gpu_memory_bytes):
    """The seeds' count: the single-GPU total over one GPU's memory, rounded up (no
    utilisation cap, no per-GPU reserve, nothing replicated)."""
    return ceil(infer_total_bytes_one_gpu / gpu_memory_bytes)
