"""Public API for the model-only quantities: parameters, KV cache, FLOPs.

Each function takes a model spec (preset name, config path/dict, rows or a loaded
:class:`~xlcalc.models.Model`) and workload numbers (scalars or arrays) and returns
numbers in SI units (parameters, bytes, FLOPs) or a pandas breakdown.
"""

from __future__ import annotations

from .errors import checked_keywords
# the unchecked forms: each function here checks its own keywords (errors.checked_keywords)
from .estimate import _breakdown as breakdown, _estimate as estimate, scalar_function

__all__ = ["params", "params_shortcuts", "kv_cache_bytes", "kv_cache_bytes_per_token",
           "forward_flops_per_token", "prefill_flops", "decode_flops", "training_flops",
           "megatron_flops",
           "PARAM_PARTS", "TRAINING_FLOPS_METHODS"]

#: Labels of :func:`params` and the graph nodes behind them.
PARAM_PARTS = {
    "embedding": "params_embedding",
    "attention": "params_attention",
    "mlp": "params_mlp",
    "norm": "params_norm",
    "lm_head": "params_lm_head",
    "total": "params_total",
    "active": "params_active",
    "non_embedding": "params_non_embedding",
    "mtp": "params_mtp",
    "vision": "params_vision",
}

_SHORTCUTS = {
    "exact": "params_total",
    "12*L*h^2 (seed 001/003)": "params_12lh2",
    "L(12h^2+13h)+2Vh (seed 001 §2.5)": "params_seed_001",
    "n(12h^2+4h)+Vh (seed 003 §2.5)": "params_seed_003",
    "GQA+SwiGLU estimate (seed 001 §2.6)": "params_gqa_seed_001",
}


@checked_keywords
def params(model):
    """Parameters by part (``embedding``, ``attention``, ``mlp``, ``norm``, ``lm_head``,
    ``total``, ``active``, ``non_embedding``, ``mtp``, ``vision``) as a pandas Series.

    ``total`` equals transformers' ``num_parameters()`` for the same config (the
    language model of a multimodal config); ``active`` is what one token uses (routed
    experts not chosen are left out).  ``mtp`` (multi-token-prediction modules) and
    ``vision`` (vision tower and projector) are reported beside the total, never in it.
    """
    s = breakdown(PARAM_PARTS, name="parameters", model=model)
    return s.astype("int64")


@checked_keywords
def params_shortcuts(model):
    """The exact count beside the seeds' approximations (Series of parameter counts)."""
    return breakdown(_SHORTCUTS, name="parameters", model=model)


@checked_keywords
def kv_cache_bytes(model, batch, seq_len, kv_dtype="bf16", tp=1, block_size=1):
    """KV-cache bytes on one GPU for ``batch`` sequences of ``seq_len`` tokens.

    GQA/MQA heads are split across ``tp`` ranks (replicated when ``tp`` exceeds them),
    MLA caches its latent, sliding-window layers cap at their window, and
    ``block_size=16`` rounds every layer up to whole vLLM pages.
    """
    return _kv_cache_bytes(model, batch, seq_len, kv_dtype, tp, block_size)


#: the scalar path of :func:`kv_cache_bytes` (and of the Excel KV_CACHE)
_kv_cache_bytes = scalar_function("kv_cache_bytes",
                                  ("model", "batch", "seq_len", "kv_dtype", "tp", "block_size"))


@checked_keywords
def kv_cache_bytes_per_token(model, kv_dtype="bf16", tp=1):
    """KV bytes one token adds on one GPU across all layers (ignoring windows)."""
    return estimate("kv_cache_bytes_per_token", model=model, kv_dtype=kv_dtype,
                    tp=tp)["kv_cache_bytes_per_token"]


@checked_keywords
def forward_flops_per_token(model, context_len=1):
    """Forward FLOPs of one token attending to ``context_len`` tokens."""
    return estimate("forward_flops_per_token", model=model,
                    context_len=context_len)["forward_flops_per_token"]


@checked_keywords
def prefill_flops(model, batch, prompt_len, method="exact"):
    """FLOPs to prefill ``batch`` prompts of ``prompt_len`` tokens.

    ``method``: ``exact`` (per architecture, causal attention, last-token logits),
    ``rule`` (2·N·s·b, seed 000 §七) or ``seed-003`` (n(24bsh²+4bs²h)+2bshV).
    """
    node = _choose("method", method, {"exact": "prefill_flops", "rule": "prefill_flops_rule",
                                      "seed-003": "prefill_flops_seed_003"})
    return estimate(node, model=model, batch=batch, prompt_len=prompt_len)[node]


@checked_keywords
def decode_flops(model, batch, context_len):
    """FLOPs of one decode step for ``batch`` sequences attending to ``context_len``."""
    return estimate("decode_flops", model=model, batch=batch,
                    context_len=context_len)["decode_flops"]


#: Training FLOPs methods and their graph nodes.
TRAINING_FLOPS_METHODS = {
    "6nd": "training_flops_6nd",
    "8nd": "training_flops_8nd",
}


@checked_keywords
def training_flops(model, tokens, method="6nd"):
    """Training FLOPs for ``tokens`` tokens: ``6nd`` (6·N·D) or ``8nd`` (with full
    recomputation).  Per-iteration Megatron counts: :func:`megatron_flops`."""
    node = _choose("method", method, TRAINING_FLOPS_METHODS)
    return estimate(node, model=model, tokens=tokens)[node]


@checked_keywords
def megatron_flops(model, batch, seq_len, recompute=False, glu=False):
    """FLOPs of one training iteration by Megatron's formula (72/96·B·s·L·h²·(…) or
    the GQA/SwiGLU/MoE generalisation with ``glu=True``)."""
    node = "megatron_training_flops" + ("_glu" if glu else "") + \
        ("_recompute" if recompute else "")
    return estimate(node, model=model, batch=batch, seq_len=seq_len)[node]


def _choose(argument, value, options: dict) -> str:
    from .errors import unknown_choice
    key = value.strip().lower() if isinstance(value, str) else value
    if key not in options:
        raise unknown_choice(argument, value, options)
    return options[key]
