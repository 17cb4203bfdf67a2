"""The fewest GPUs that serve a plan: a search over tensor × pipeline parallelism.

A serving replica of ``tp × pp`` GPUs fits when its busiest GPU fits
(:mod:`xlcalc.formulas.inference_memory`): ``ceil(L/pp)`` layers' weights and KV cache,
the embedding (and the LM head when ``pp = 1``) and the activation peak, all split ``tp``
ways (the KV cache by whole KV heads, an MLA latent not at all; the engine's sampler
logits whole), plus the engine's reserve and, when the replica spans GPUs, its
communication buffers, within the engine's budget (``gpu_memory_utilization × (memory −
context)``; TensorRT-LLM gives the KV cache 90 % of what is left).

For every tensor-parallel degree ``t`` in {1, 2, 4, …, 64} that the model and the node
allow (``t`` divides the heads, divides or is a multiple of the KV heads, and ``t ≤
gpus_per_node`` so that the all-reduces stay on NVLink) the fewest pipeline stages are
found in closed form (:func:`pp_at_tp`): one stage when everything fits, else
``ceil(L / f)`` where ``f`` is the number of layers one stage holds, and at least two.
The plan is the ``t × pp(t)`` with the fewest GPUs; on a tie the larger ``t`` (fewer
pipeline stages, the same GPUs inside one node) is chosen.  Powers of two only: engines
also split the MLP width and the vocabulary ``t`` ways, which other degrees rarely divide.

The search is the same arithmetic as :func:`~xlcalc.formulas.inference_memory.infer_total_bytes`
(``tests/test_serving_memory.py`` checks it against a brute-force loop over ``tp × pp``
with :func:`xlcalc.inference_memory`).
"""

from ..expr import both, ceil, either, eq, floor, maximum, minimum, where
from ..graph import derive, formula
from .inference_memory import activation_at_tp

#: tensor-parallel degrees the search tries (each also bounded by gpus_per_node)
TP_CANDIDATES = (1, 2, 4, 8, 16, 32, 64)


def _largest_pow2_divisor(n, cap):
    """Largest power of two ≤ ``cap`` that divides ``n`` (1, 2, 4 … 64), as nested IFs."""
    out = 1
    for p in TP_CANDIDATES[1:]:
        out = where(both(n % p < 0.5, cap >= p), p, out)
    return out


@formula("GPUs", "Megatron/vLLM: tp divides the heads; NVLink bounds a TP group")
def tp_max(num_heads, gpus_per_node):
    """Largest tensor-parallel degree xlcalc plans with: the largest power of two that
    divides ``num_heads`` and is at most ``gpus_per_node`` (one NVLink domain)."""
    return _largest_pow2_divisor(num_heads, gpus_per_node)


@formula("bytes", "Megatron/vLLM: the busiest GPU's weights are ceil(L/pp) layers' share")
def layer_weights_bytes(params_non_embedding, weight_bytes_per_param, num_layers):
    """Weight bytes of one decoder layer (the layers' weights averaged over L), whole."""
    return params_non_embedding * weight_bytes_per_param / num_layers


@formula("bytes", "seed 000 §2.4: KV cache of one layer, every KV head")
def layer_kv_bytes(kv_model_bytes, num_layers):
    """KV-cache bytes of one decoder layer for the whole batch, before any split."""
    return kv_model_bytes / num_layers


@formula("bytes", "the engine's budget minus its single-GPU reserve")
def gpu_free_bytes(infer_budget_bytes, infer_reserve_bytes):
    """Bytes of one GPU's budget left for weights, KV cache, activations and (on a
    multi-GPU replica) communication buffers."""
    return infer_budget_bytes - infer_reserve_bytes


def pp_at_tp(t, num_heads, num_kv_heads, kv_lora_rank, gpus_per_node, num_layers,
             layer_weights_bytes, layer_kv_bytes, batch_activation_whole_bytes,
             profiled_activation_whole_bytes, engine_sampler_bytes, engine_activation_counted,
             params_embedding, params_lm_head, embed_bytes_per_param, lm_head_bytes_per_param,
             gpu_free_bytes, engine_non_torch_tp_bytes, engine_kv_free_fraction):
    """Fewest pipeline stages at tensor-parallel degree ``t``; 0 when ``t`` is not a
    degree the model and node allow, or when not even one layer per GPU fits.

    Per GPU at ``t``: a layer costs ``W_l/t + KV_l × ceil(k/t)/k / f`` (KV heads split, one
    kept beyond ``k``; an MLA latent is not split; ``f`` the engine's KV share of what is
    free).  One stage fits when ``L`` layers, the activations (:func:`activation_at_tp`)
    and both vocabulary matrices fit; otherwise a stage holds ``f = floor((free − A −
    E/t) / layer)`` layers and ``ceil(L/f)`` stages (at least 2) are needed; a replica of
    more than one GPU also holds the engine's communication buffers."""
    allowed = both(both(eq(num_heads % t, 0), t <= gpus_per_node),
                   either(eq(num_kv_heads % t, 0), eq(t % num_kv_heads, 0)))
    share = where(kv_lora_rank > 0, 1, ceil(num_kv_heads / t) / num_kv_heads)
    per_layer = layer_weights_bytes / t + layer_kv_bytes * share / engine_kv_free_fraction
    activation = activation_at_tp(t, batch_activation_whole_bytes,
                                  profiled_activation_whole_bytes, engine_sampler_bytes,
                                  engine_activation_counted)
    embedding = params_embedding * embed_bytes_per_param      # the storage format's bits
    vocab = embedding + params_lm_head * lm_head_bytes_per_param
    one_free = gpu_free_bytes - where(t > 1, engine_non_torch_tp_bytes, 0)
    one_stage = num_layers * per_layer + activation + vocab / t <= one_free
    many_free = gpu_free_bytes - engine_non_torch_tp_bytes
    fit = floor((many_free - activation - embedding / t) / per_layer)
    stages = where(fit >= 1, maximum(ceil(num_layers / maximum(fit, 1)), 2), 0)
    return where(allowed, where(one_stage, 1, stages), 0)


for _t in TP_CANDIDATES:
    derive(f"pp_at_tp{_t}", pp_at_tp, "stages",
           "fewest pipeline stages at one tensor-parallel degree (busiest GPU fits)",
           doc=f"Fewest pipeline stages at tp = {_t}; 0 when tp = {_t} is not allowed for "
               "this model and node or when not even one layer per GPU fits.", t=_t)


_NONE = 1e18      # "no plan" inside the minimum (never a GPU count)


def _gpus_at(t, stages):
    """GPUs of the plan at tensor-parallel degree ``t``, or a huge number when none."""
    return where(stages > 0, t * stages, _NONE)


@formula("GPUs", "search over tp × pp: the fewest GPUs whose busiest GPU fits")
def gpus_needed(pp_at_tp1, pp_at_tp2, pp_at_tp4, pp_at_tp8, pp_at_tp16, pp_at_tp32,
                pp_at_tp64):
    """Fewest GPUs (``tp × pp``) that serve the plan, over every allowed tensor-parallel
    degree and its fewest pipeline stages; 0 when no split fits."""
    stages = (pp_at_tp1, pp_at_tp2, pp_at_tp4, pp_at_tp8, pp_at_tp16, pp_at_tp32, pp_at_tp64)
    best = _gpus_at(1, stages[0])
    for t, s in zip(TP_CANDIDATES[1:], stages[1:]):
        best = minimum(best, _gpus_at(t, s))
    return where(best < _NONE, best, 0)


@formula("GPUs", "the tensor-parallel degree of the fewest-GPU plan (ties: the larger)")
def tp_needed(gpus_needed, pp_at_tp1, pp_at_tp2, pp_at_tp4, pp_at_tp8, pp_at_tp16,
              pp_at_tp32, pp_at_tp64):
    """Tensor-parallel degree of :func:`gpus_needed`'s plan: among the splits with the
    fewest GPUs, the largest ``tp`` (fewest pipeline stages, one NVLink domain); 0 when
    no split fits."""
    stages = (pp_at_tp1, pp_at_tp2, pp_at_tp4, pp_at_tp8, pp_at_tp16, pp_at_tp32, pp_at_tp64)
    out = 0
    for t, s in zip(TP_CANDIDATES, stages):
        out = where(both(s > 0, eq(t * s, gpus_needed)), t, out)
    return out


@formula("stages", "gpus_needed / tp_needed")
def pp_needed(gpus_needed, tp_needed):
    """Pipeline stages of :func:`gpus_needed`'s plan (0 when no split fits)."""
    return where(tp_needed > 0, gpus_needed / maximum(tp_needed, 1), 0)
