"""The one glossary (DESIGN.md principle 8).

A name means the same thing in Python arguments, Excel function arguments,
workbook defined names and widget controls.  Each input *term* states its unit,
what values are allowed (used by validation, by workbook data validation and by
widget ranges) and a default where there is one.  Computed quantities are named by
the formula nodes that compute them (``xlcalc.graph``); their unit and source live
on the node.

Kinds of term:

``int``       a whole number ``>= minimum`` (counts, lengths, degrees)
``real``      a number ``>= minimum`` (``minimum_open`` makes the bound strict)
``fraction``  a number in (0, 1] (efficiencies, utilisations)
``flag``      0 or 1 (architecture switches)
``choice``    a key of a table (``dtypes``, ``gpus``, ``models`` …), case-insensitive
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .errors import invalid
from .expr import both, either, eq, floor, isnumber

__all__ = ["Term", "TERMS", "term", "check", "register_terms"]


@dataclass(frozen=True)
class Term:
    name: str
    description: str
    unit: str = ""
    kind: str = "int"            # int | real | fraction | flag | choice
    minimum: float = 1
    minimum_open: bool = False   # strict lower bound for kind "real"
    maximum: float | None = None
    default: object = None
    table: str | None = None     # the lookup table of a "choice"
    sample: tuple = ()           # typical values (tests, widget ranges)
    group: str = "workload"      # workload | model | hardware | efficiency
    relations: tuple = field(default=())  # (other_name, predicate, allowed-text)

    @property
    def allowed(self) -> str:
        """Plain-words statement of the allowed values (documentation, workbook checks and
        validation prompts): ``a positive integer up to 10,000,000``."""
        low = self.allowed_below
        if self.maximum is None or self.kind in ("flag", "fraction", "choice"):
            return low
        if self.kind == "int" and self.maximum < 1000:          # a small range: 0..3
            return f"an integer >= {_fmt(self.minimum)} and <= {_fmt(self.maximum)}"
        if low.startswith(("a positive", "a non-negative")):
            return f"{low} up to {_fmt_bound(self.maximum)}"
        return f"{low} and <= {_fmt_bound(self.maximum)}"

    @property
    def allowed_below(self) -> str:
        """The domain without its upper bound (what a value below or off the domain is
        told)."""
        if self.kind == "flag":
            return "0 or 1"
        if self.kind == "fraction":
            return "a number in (0, 1]"
        if self.kind == "choice":
            return f"one of the {self.table} names"
        if self.kind == "int":
            if self.minimum == 1:
                return "a positive integer"
            if self.minimum == 0:
                return "a non-negative integer"
            return f"an integer >= {_fmt(self.minimum)}"
        if self.minimum == 0 and self.minimum_open:
            return "a positive number"
        op = ">" if self.minimum_open else ">="
        return f"a number {op} {_fmt(self.minimum)}"

    def rejection(self, x) -> str:
        """What a rejected value is told: ``at most 10,000,000`` when only the upper bound
        is broken, else the domain (``a positive integer``)."""
        if self.maximum is None or self.maximum < 1000 or self.kind not in ("int", "real"):
            return self.allowed                  # no bound, or a small range said whole
        if self.kind in ("int", "real") and \
                isinstance(x, numbers.Real) and not isinstance(x, bool) and \
                math.isfinite(x) and x > self.maximum:
            rest = Term(self.name, "", kind=self.kind, minimum=self.minimum,
                        minimum_open=self.minimum_open)
            if in_domain(rest, float(x)):
                return f"at most {_fmt_bound(self.maximum)}"
        return self.allowed_below


def _fmt(x) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _fmt_bound(x) -> str:
    """An upper bound as a planner reads it: 10,000,000 or 1e16."""
    if x < 1e9:
        return f"{x:,.0f}" if float(x).is_integer() else str(x)
    return f"{x:.0e}".replace("e+", "e")


TERMS: dict[str, Term] = {}


def register_terms(*terms: Term) -> None:
    """Add terms to the glossary (a family module may own a few of its own)."""
    for t in terms:
        if t.name in TERMS and TERMS[t.name] != t:
            raise RuntimeError(f"glossary term {t.name!r} defined twice differently")
        TERMS[t.name] = t


def term(name: str) -> Term:
    return TERMS[name]


def _divides(other_value, value):
    """``value`` divides ``other_value`` (elementwise; renders as MOD(o,v)=0)."""
    return eq(other_value % value, 0)


def _fail_first(name, values, mask, t):
    bad = np.asarray(values)[~mask] if np.ndim(values) else values
    first = bad.flat[0] if isinstance(bad, np.ndarray) else bad
    if isinstance(first, np.generic):
        first = first.item()
    raise invalid(name, first, t.rejection(first))


def check(name: str, value):
    """Validate ``value`` for glossary term ``name`` and return it as float(s).

    Scalars come back as Python floats, arrays/Series as float64 numpy arrays (so
    that products of large counts never overflow an integer type).  Choices are
    checked by the table lookup, not here, and come back unchanged.
    """
    t = TERMS[name]
    if t.kind == "choice":
        return value
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise invalid(name, value, t.rejection(value))   # text is never parsed as a number
    if type(value) in (float, int) or isinstance(value, numbers.Real):
        x = float(value)
        if not in_domain(t, x):
            raise invalid(name, value, t.rejection(x))
        return x
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":
        raise invalid(name, value, t.rejection(value))
    arr = raw.astype(np.float64)
    mask = _array_ok(t, arr)
    if not np.all(mask):
        _fail_first(name, np.asarray(value, dtype=object) if arr.ndim else value, mask, t)
    return arr


def in_domain(t: Term, x):
    """Whether ``x`` is an allowed value of term ``t``: a formula (scalars, arrays, or an
    Excel expression for the workbooks' input checks and data validation), written
    once for every face.  Non-numbers (text, NaN, inf) are never in the domain."""
    if t.kind == "flag":
        return both(isnumber(x), either(eq(x, 0), eq(x, 1)))
    if t.kind == "fraction":
        return both(isnumber(x), both(x > 0, x <= 1))
    ok = both(isnumber(x), x > t.minimum if t.minimum_open else x >= t.minimum)
    if t.kind == "int":
        ok = both(ok, eq(x, floor(x)))
    if t.maximum is not None:
        ok = both(ok, x <= t.maximum)
    return ok


def _array_ok(t: Term, arr: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray(in_domain(t, arr))


def check_relations(name: str, value, context) -> None:
    """Check the cross-argument relations of ``name`` against other context values.

    Predicates are elementwise; for arrays the message shows the first failing
    element and the other value at the same position."""
    for other, predicate, allowed in TERMS[name].relations:
        if other not in context:
            continue
        other_value = context[other]
        ok = predicate(value, other_value)
        if ok is True or (type(ok) is not bool and np.all(ok)):
            continue
        ok = np.asarray(ok)
        if ok.ndim:
            shape = ok.shape
            at = tuple(np.argwhere(~ok)[0])
            value = np.broadcast_to(value, shape)[at]
            other_value = np.broadcast_to(other_value, shape)[at]
        raise invalid(name, _plain(value),
                      allowed.format(other=other, other_value=_show_other(_plain(other_value))))


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _show_other(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# --------------------------------------------------------------------------- terms

def _int(name, description, unit="", minimum=1, group="workload", **kw):
    return Term(name, description, unit, "int", minimum, group=group, **kw)


def _flag(name, description):
    return Term(name, description, "", "flag", 0, group="model")


def _shard_divides(other):
    """``tp`` must divide ``other`` (Megatron/vLLM shard heads across ranks)."""
    return (other, lambda v, o: _divides(o, v), "a divisor of {other}={other_value}")


# Upper bounds a planner accepts (far above any real plan, far below where a formula would
# overflow to inf in a sheet): batch = 1e300 is a typing slip, not a plan.
_COUNT_MAX = 1e7       # sequences in a batch, GPUs, replicas
_LENGTH_MAX = 1e8      # tokens per sequence (today's longest contexts are ~1e7)
_DEGREE_MAX = 65536    # a parallel degree or a KV block

register_terms(
    # workload ---------------------------------------------------------------
    _int("batch", "sequences processed together (global batch for training)", "sequences",
         sample=(1, 8, 32, 256), maximum=_COUNT_MAX),
    _int("micro_batch", "sequences per micro-batch on one data-parallel rank", "sequences",
         sample=(1, 2, 4), maximum=_COUNT_MAX,
         relations=(("batch_per_replica", lambda v, o: both(v <= o, _divides(o, v)),
                     "a divisor of the per-replica batch batch/dp={other_value} (gradient "
                     "accumulation runs whole micro-batches)"),)),
    _int("seq_len", "tokens per sequence (prompt + generated for inference)", "tokens",
         sample=(512, 2048, 4096, 32768), maximum=_LENGTH_MAX),
    _int("prompt_len", "input (prompt) tokens per sequence", "tokens", sample=(128, 512, 2048),
         maximum=_LENGTH_MAX),
    _int("output_len", "generated tokens per sequence", "tokens", sample=(1, 256, 1024),
         maximum=_LENGTH_MAX),
    _int("context_len", "tokens a decode step attends to (prompt + generated so far, "
         "the new token included)", "tokens",
         sample=(512, 768, 4096), maximum=_LENGTH_MAX),
    Term("tokens", "number of tokens processed (e.g. training tokens)", "tokens", "real", 0,
         minimum_open=True, sample=(1e9, 1e12, 2e12), maximum=1e16),
    _int("block_size", "KV-cache allocation unit: 1 = exact, 16 = vLLM's pages (default: "
         "the engine's)", "tokens", sample=(1, 16, 32), maximum=_DEGREE_MAX),
    _int("n_gpus", "number of accelerators", "GPUs", sample=(1, 8, 64), maximum=_COUNT_MAX),
    _int("tp", "tensor-parallel degree (GPUs a layer is split across)", "GPUs",
         sample=(1, 2, 8), default=1, maximum=_DEGREE_MAX,
         relations=(_shard_divides("num_heads"),
                    ("num_kv_heads",
                     lambda v, o: either(eq(o % v, 0), eq(v % o, 0)),
                     "a divisor or a multiple of {other}={other_value} (KV heads are split or "
                     "replicated across ranks)"))),
    _int("pp", "pipeline-parallel degree (stages the layers are split into)", "GPUs",
         sample=(1, 2, 4), default=1, maximum=_DEGREE_MAX,
         relations=(("num_layers", lambda v, o: v <= o,
                     "at most num_layers={other_value}"),)),
    _int("dp", "data-parallel degree (model replicas)", "GPUs", sample=(1, 8, 64), default=1,
         maximum=_COUNT_MAX,
         relations=(("batch", lambda v, o: _divides(o, v),
                     "a divisor of {other}={other_value} (each data-parallel replica takes "
                     "batch/dp sequences)"),)),
    Term("mfu", "achieved / dense peak FLOP/s; 0 (serving's default): calibrated, GEMMs on "
         "the GPU family's measured curve by size", "", "real", 0,
         maximum=1, default=0.0, sample=(0.0, 0.3, 0.5), group="efficiency"),
    Term("bw_eff", "achieved / peak HBM bandwidth; 0 (serving's default): calibrated, the GPU "
         "family's sustained share", "", "real", 0, maximum=1, default=0.0,
         sample=(0.0, 0.6, 1.0), group="efficiency"),
    Term("dtype", "storage format of the weights (bf16, fp8, int4 GPTQ/AWQ, nvfp4, mxfp4, GGUF "
         "q4_k_m …)", "", "choice", table="dtypes", default="bf16"),
    Term("kv_dtype", "storage format of the KV cache (bf16, fp8, int8, nvfp4, fp8_ds_mla …)",
         "", "choice", table="kv_dtypes", default="bf16"),
    Term("compute_dtype", "dtype the matrix multiplications run in; auto: the weights' "
         "native compute where the GPU has it, else its best 16-bit (fp16 on V100/T4)", "",
         "choice", table="compute_dtypes", default="auto"),
    Term("model", "model preset name, config.json path/dict, or [key, value] rows", "",
         "choice", table="models", group="model"),
    Term("gpu", "accelerator preset name or a table of its fields", "", "choice",
         table="gpus", group="hardware"),
    # model architecture (normalised config.json fields) -----------------------------
    _int("vocab_size", "vocabulary size (rows of the token embedding)", "tokens", group="model"),
    _int("hidden_size", "model width d_model", "", group="model"),
    _int("num_layers", "decoder layers (num_hidden_layers)", "layers", group="model"),
    _int("num_heads", "query attention heads", "heads", group="model"),
    _int("num_kv_heads", "key/value heads (= num_heads for MHA, 1 for MQA)", "heads",
         group="model",
         relations=(("num_heads", lambda v, o: _divides(o, v), "a divisor of {other}={other_value}"),)),
    _int("head_dim", "width of one attention head", "", group="model"),
    _int("intermediate_size", "hidden width of a dense MLP", "", group="model"),
    _int("max_position_embeddings", "longest context the model was trained for", "tokens",
         group="model"),
    _int("position_embeddings", "rows of a learned absolute position table (0 for RoPE)", "",
         minimum=0, group="model"),
    _flag("mlp_gated", "1 for a gated MLP (SwiGLU/GeGLU: gate, up, down), 0 for up/down"),
    _flag("qkv_bias", "1 when the q/k/v projections have biases"),
    _flag("o_bias", "1 when the attention output projection has a bias"),
    _flag("mlp_bias", "1 when the MLP projections have biases"),
    _flag("norm_bias", "1 for LayerNorm (weight and bias), 0 for RMSNorm (weight only)"),
    _flag("tie_word_embeddings", "1 when the LM head shares the token-embedding matrix"),
    _int("norms_per_layer", "normalisation layers per decoder layer", "", minimum=0, group="model"),
    _int("num_experts", "routed experts per MoE layer (0 for a dense model)", "", minimum=0,
         group="model"),
    _int("experts_per_token", "routed experts each token uses (top-k)", "", minimum=0, group="model"),
    _int("moe_intermediate_size", "hidden width of one routed expert", "", minimum=0, group="model"),
    _int("shared_expert_intermediate_size",
         "total hidden width of the always-active shared expert(s)", "", minimum=0, group="model"),
    _int("num_dense_layers", "layers with a dense MLP (all layers of a dense model)", "layers",
         minimum=0, group="model"),
    _int("q_lora_rank", "MLA query compression rank (0: no query compression)", "", minimum=0,
         group="model"),
    _int("kv_lora_rank", "MLA key/value latent rank (0: not MLA)", "", minimum=0, group="model"),
    _int("qk_rope_head_dim", "MLA rotary part of a query/key head", "", minimum=0, group="model"),
    _int("qk_nope_head_dim", "MLA non-rotary part of a query/key head", "", minimum=0,
         group="model"),
    _int("v_head_dim", "MLA value head width", "", minimum=0, group="model"),
    _int("sliding_window", "attention window of sliding-window layers (0: none)", "tokens",
         minimum=0, group="model"),
    _int("num_sliding_layers", "layers that use the sliding window", "layers", minimum=0,
         group="model"),
    # layer kinds and attention details (docs/models.md) ------------------------------
    _int("attention_chunk_size", "chunk of the chunked-attention layers (Llama 4: 8192; 0: "
         "none)", "tokens", minimum=0, group="model"),
    _int("num_chunked_layers", "attention layers that see only their own chunk", "layers",
         minimum=0, group="model"),
    _int("num_linear_layers", "linear-attention / state-space layers (no per-token KV, a "
         "fixed state per sequence)", "layers", minimum=0, group="model"),
    _flag("qk_norm", "1 when queries and keys are normalised with learned weights"),
    _flag("qk_norm_per_head", "1: the q/k norm weight is head_dim wide, shared by the "
          "heads; 0: one weight per channel over all heads"),
    _flag("attention_sinks", "1: one learned sink logit per query head per layer (gpt-oss)"),
    _flag("attention_output_gate", "1: q_proj also emits a sigmoid output gate of width "
          "heads × head_dim (Qwen3-Next)"),
    _flag("lm_head_bias", "1 when the LM head has a bias"),
    _flag("moe_bias", "1 when each routed expert has biases (gpt-oss)"),
    _flag("router_bias", "1 when the router has one more parameter per expert (a bias or a "
          "learned score correction)"),
    _flag("shared_expert_gate", "1: a sigmoid gate hidden_size → 1 on the shared expert"),
    _int("index_num_heads", "heads of DeepSeek-V3.2's sparse-attention indexer (0: none)",
         "heads", minimum=0, group="model"),
    _int("index_head_dim", "width of the indexer's (cached) key", "", minimum=0,
         group="model"),
    _int("index_topk", "tokens the sparse main attention selects per query", "tokens",
         minimum=0, group="model"),
    _int("linear_num_key_heads", "key heads (groups) G of a linear-attention layer", "heads",
         minimum=0, group="model"),
    _int("linear_key_head_dim", "key head width (state size) N of a linear-attention layer",
         "", minimum=0, group="model"),
    _int("linear_num_value_heads", "value heads H of a linear-attention layer", "heads",
         minimum=0, group="model"),
    _int("linear_value_head_dim", "value head width P of a linear-attention layer", "",
         minimum=0, group="model"),
    _int("linear_conv_kernel", "causal-convolution kernel of a linear-attention layer (0: "
         "none)", "tokens", minimum=0, group="model"),
    _int("linear_head_inputs", "scalars per value head projected from the input (DeltaNet "
         "2, Mamba-2 1)", "", minimum=0, group="model"),
    _int("linear_head_params", "learned per-head vectors of a linear layer (DeltaNet 2, "
         "Mamba-2 3)", "", minimum=0, group="model"),
    _flag("linear_norm_per_head", "1: the linear layer's output norm is one value-head "
          "wide; 0: all heads wide"),
    _flag("linear_conv_bias", "1 when the linear layer's convolution has a bias"),
    _flag("linear_proj_bias", "1 when the linear layer's in/out projections have biases"),
    _int("num_mtp_layers", "multi-token-prediction modules (reported beside the total, never "
         "in it)", "layers", minimum=0, group="model"),
    _int("vision_hidden_size", "vision-tower width (0: no vision tower)", "", minimum=0,
         group="model"),
    _int("vision_num_layers", "vision-tower layers", "layers", minimum=0, group="model"),
    _int("vision_intermediate_size", "vision-tower MLP width", "", minimum=0, group="model"),
    _int("vision_patch_inputs", "inputs one patch embeds (channels × time × patch²)", "",
         minimum=0, group="model"),
    _flag("vision_patch_bias", "1 when the patch embedding has a bias"),
    _int("vision_position_embeddings", "rows of the vision tower's learned position table",
         "", minimum=0, group="model"),
    _int("vision_extra_vectors", "vision-width vectors outside its layers (class token, "
         "pre/post-norm weights and biases)", "", minimum=0, group="model"),
    _flag("vision_mlp_gated", "1 for a gated vision MLP"),
    _flag("vision_bias", "1 when the vision layers' linears have biases"),
    _flag("vision_norm_bias", "1 for vision LayerNorms with a bias"),
    _int("vision_proj_norm", "width of the norm before the vision projector (0: none)", "",
         minimum=0, group="model"),
    _flag("vision_proj_norm_bias", "1 when that norm has a bias"),
    _int("vision_proj_in", "input width of the vision projector's first linear (0: no "
         "projector)", "", minimum=0, group="model"),
    _int("vision_proj_mid1", "output width of the projector's first linear when it has "
         "more (0: one linear)", "", minimum=0, group="model"),
    _int("vision_proj_mid2", "output width of the projector's second linear when it has "
         "three (0: none)", "", minimum=0, group="model"),
    _int("vision_proj_out", "output width of the vision projector (the text width)", "",
         minimum=0, group="model"),
    _flag("vision_proj_bias", "1 when the projector's linears have biases"),
    # how transformers runs the family (the hf training stack's activations)
    _int("mlp_act_saved", "tensors of the MLP width the activation function keeps besides its "
         "output in transformers (SiLU/GELU 1, ReLU 0, GPT-2's gelu_new 4)", "", minimum=0,
         group="model"),
    _flag("norm_fp32_scale", "1 when the norm multiplies by (1 + weight) in fp32 (Gemma)"),
    _flag("attn_softcap", "1 when attention logits are soft-capped, tanh(x/c)·c (Gemma-2); "
          "transformers then runs eager attention"),
    _flag("final_softcap", "1 when the output logits are soft-capped (Gemma-2)"),
    _flag("attn_softmax_fp32", "1 when transformers' eager attention takes the softmax in fp32 "
          "(0: in the model dtype, GPT-2 and Falcon)"),
    _flag("attn_sdpa_math", "1 when transformers' sdpa runs the math path with fp32 scores "
          "(q and v head widths differ: MLA; Falcon's expanded MQA with a float mask)"),
    _flag("qkv_fused", "1 when q, k and v come from one fused projection (GPT-2, Falcon, Phi-3)"),
    _int("moe_groups", "expert groups of group-limited routing (DeepSeek n_group; 0: none)", "",
         minimum=0, group="model"),
    _int("moe_topk_groups", "groups each token may route to (DeepSeek topk_group)", "",
         minimum=0, group="model"),
    _flag("moe_router_fp32", "1 when the router scores in fp32 from an fp32 copy of its input "
          "(DeepSeek-V3)"),
    _flag("moe_router_topk_softmax", "1 when the router softmaxes only its top-k logits, in "
          "the model dtype (gpt-oss)"),
    _flag("moe_dense_experts", "1 when transformers runs every expert on every token, the "
          "unrouted ones weighted 0 (Llama 4)"),
    _flag("attn_qk_l2norm", "1 when queries and keys of the chunked (RoPE) layers are "
          "L2-normalised without weights (Llama 4)"),
    _int("rope_tables", "rotary cos/sin tables transformers computes per forward (Gemma 3: "
         "2, local and global bases)", "", minimum=0, group="model"),
)
