"""MoE serving parallelism: expert parallelism, attention data parallelism, all-to-all.

The layout is DeepSeek-V3's and SGLang/vLLM's "DP attention + EP MoE" (DeepSeek-V3 report
arXiv:2412.19437 §3.4; SGLang ``--enable-dp-attention``; vLLM ``--data-parallel-size`` with
``--enable-expert-parallel``).  One pipeline stage of a serving instance has
``tp × dp_attention`` GPUs:

* **attention** runs as ``dp_attention`` independent data-parallel ranks, each
  ``tp``-way tensor-parallel; a rank keeps the KV cache of its own sequences only, so the
  KV per GPU is that of ``concurrency / dp_attention`` sequences (the reason DeepSeek uses
  DP attention with MLA, whose latent is not split by tensor parallelism);
* **dense layers and shared experts** are tensor-parallel inside a rank (replicated across
  ranks);
* **routed experts** are split ``ep`` ways (``num_experts / ep`` experts per group) and each
  expert is tensor-parallel over the ``tp × dp_attention / ep`` GPUs of its group, so every
  GPU holds ``1 / (tp × dp_attention)`` of the routed weights whatever ``ep`` is; ``ep``
  changes the traffic, not the memory;
* with ``ep > 1`` each MoE layer **dispatches** every token's hidden state to the GPUs of
  its ``k`` experts and **combines** the outputs back (two all-to-alls): a GPU sends its
  ``1 / (tp × dp_attention)`` share of the stage's tokens, ``k`` copies each, of which
  ``(ep − 1)/ep`` leave the GPU (DeepEP's normal/low-latency kernels move exactly these
  bytes); the expert-parallel group's remaining tensor parallelism reduces the expert
  outputs with a ring all-reduce over ``tp × dp_attention / ep`` GPUs;
* routing is never perfectly balanced: the busiest GPU receives ``moe_imbalance`` × the
  mean tokens, which scales its expert compute and its all-to-all bytes (1 = the uniform
  routing every roofline assumes; DeepSeek's EPLB exists to bring it down).

The all-to-all travels over the scale-up link (NVLink) while the stage's
``tp × dp_attention`` GPUs fit in the accelerator's NVLink domain (its ``scale_up_domain``),
else over the scale-out network (``inter_node_gb_per_s``).
"""

from ..expr import eq, log, maximum, minimum, where
from ..glossary import Term, register_terms
from ..graph import formula
from .comm import _collectives_s, ring_allreduce_bytes

B = "bytes"
S = "s"

register_terms(
    # one term for serving and training (each relation is checked where its partner is
    # computed: moe_group_gpus when serving, train_expert_ranks when training)
    Term("ep", "expert-parallel degree: routed experts split into ep groups of "
         "num_experts/ep (1: experts tensor-parallel over the stage's GPUs; in training "
         "the ep ranks are drawn from the data- and context-parallel GPUs)", "GPUs",
         sample=(1, 2, 8), default=1, maximum=65536,
         relations=(("num_experts", lambda v, o: _divides(o, v),
                     "a divisor of num_experts={other_value} (any ep for a dense model)"),
                    ("moe_group_gpus", lambda v, o: _divides(o, v),
                     "a divisor of tp × dp_attention = {other_value} (the GPUs of one "
                     "pipeline stage)"),
                    ("train_expert_ranks", lambda v, o: _divides(o, v),
                     "a divisor of tp·cp·dp/etp={other_value} (expert parallelism draws "
                     "its ranks from the data- and context-parallel GPUs)"))),
    Term("dp_attention", "attention data-parallel ranks per serving instance (DeepSeek/SGLang "
         "DP attention: each rank holds the KV cache of its own sequences)", "ranks",
         sample=(1, 2, 8), default=1, maximum=65536),
    Term("moe_imbalance", "tokens the busiest expert GPU receives over the mean (1: uniform "
         "routing)", "", "real", 1, default=1.0, sample=(1.0, 1.2, 1.5),
         group="efficiency", maximum=1000),
)


def _divides(total, part):
    """``part`` divides ``total`` (0 experts: every ep divides, and none is used)."""
    return eq(total % part, 0)


# ------------------------------------------------------------------ layout

@formula("GPUs", "DeepSeek/SGLang: tp × dp_attention GPUs form the MoE (EP × expert-TP) group")
def moe_group_gpus(tp, dp_attention):
    """GPUs of one pipeline stage of a serving instance: ``dp_attention`` attention ranks of
    ``tp`` GPUs, which together form the MoE layers' expert-parallel × expert-TP group."""
    return tp * dp_attention


@formula("GPUs", "tp × dp_attention × pp")
def instance_gpus(moe_group_gpus, pp):
    """GPUs of one serving instance (replica): ``tp × dp_attention × pp``."""
    return moe_group_gpus * pp


@formula("layers", "decoder layers whose MLP is a routed MoE block")
def moe_layers(num_layers, num_dense_layers, num_experts):
    """Layers with routed experts (0 for a dense model)."""
    return where(num_experts > 0, num_layers - num_dense_layers, 0)


@formula("parameters", "Mixtral / DeepSeek-V3: E routed experts per MoE layer")
def params_routed(moe_layers, num_experts, params_expert):
    """Parameters of every routed expert of the model (shared experts excluded)."""
    return moe_layers * num_experts * params_expert


@formula("parameters", "top-k routing: k routed experts per token per MoE layer")
def params_routed_active(moe_layers, experts_per_token, params_expert):
    """Routed-expert parameters one token multiplies (k per MoE layer)."""
    return moe_layers * experts_per_token * params_expert


@formula("GB/s", "NVLink while the stage fits the GPU's scale-up domain, else the network")
def moe_link_gb_per_s(moe_group_gpus, scale_up_domain, intra_node_gb_per_s,
                      inter_node_gb_per_s):
    """Per-direction bandwidth of the link the MoE all-to-all uses: scale-up (NVLink) while
    the stage's ``tp × dp_attention`` GPUs fit in the accelerator's ``scale_up_domain`` (8
    in an HGX server, 72 in a GB200 NVL72 rack), else scale-out."""
    return where(moe_group_gpus <= scale_up_domain, intra_node_gb_per_s, inter_node_gb_per_s)


@formula("", "the efficiency of the link moe_link_gb_per_s names")
def moe_link_eff(moe_group_gpus, scale_up_domain, link_eff, scale_out_eff):
    """Achieved share of the MoE all-to-all's link: ``link_eff`` inside the scale-up
    domain, ``scale_out_eff`` on the network."""
    return where(moe_group_gpus <= scale_up_domain, link_eff, scale_out_eff)


# ------------------------------------------------------- one MoE layer's traffic

def a2a_bytes(tokens_per_rank, experts_per_token, hidden_size, act_dtype_bytes, tp, ep,
              moe_imbalance):
    """Bytes the busiest GPU sends in one MoE layer's dispatch + combine: its ``1/tp`` share
    of its rank's tokens, ``k`` copies each, ``(ep − 1)/ep`` of them to other GPUs, both
    ways, times the imbalance (0 for ``ep = 1``)."""
    copies = tokens_per_rank / tp * experts_per_token * (ep - 1) / ep
    return 2 * copies * hidden_size * act_dtype_bytes * moe_imbalance


def expert_tp_allreduce_bytes(tokens_per_rank, dp_attention, experts_per_token, hidden_size,
                              act_dtype_bytes, moe_group_gpus, ep, moe_imbalance):
    """Ring all-reduce bytes per GPU that reduce the routed experts' outputs over each
    expert's ``tp × dp_attention / ep`` GPUs: all the stage's tokens for ``ep = 1`` (one
    all-reduce of the MLP output, as for a dense layer), ``k/ep`` of them per group
    otherwise."""
    group = moe_group_gpus / ep
    tokens = tokens_per_rank * dp_attention * minimum(experts_per_token / ep, 1)
    return ring_allreduce_bytes(tokens * hidden_size * act_dtype_bytes, group) * moe_imbalance


def moe_layer_comm_s(tokens_per_rank, dp_attention, experts_per_token, hidden_size,
                     act_dtype_bytes, tp, ep, moe_group_gpus, moe_imbalance,
                     moe_link_gb_per_s, link_eff, link_latency_us):
    """Seconds one MoE layer waits for its traffic: dispatch + combine all-to-alls (two
    start-up latencies when ``ep > 1``) and the expert outputs' all-reduce."""
    a2a = a2a_bytes(tokens_per_rank, experts_per_token, hidden_size, act_dtype_bytes, tp, ep,
                    moe_imbalance)
    reduce = expert_tp_allreduce_bytes(tokens_per_rank, dp_attention, experts_per_token,
                                       hidden_size, act_dtype_bytes, moe_group_gpus, ep,
                                       moe_imbalance)
    return _collectives_s(2, a2a / 2, ep > 1, moe_link_gb_per_s, link_eff, link_latency_us) + \
        _collectives_s(1, reduce, moe_group_gpus / ep > 1, moe_link_gb_per_s, link_eff,
                       link_latency_us)


@formula(B, "DeepSeek-V3 §3.4 / DeepEP: dispatch + combine of one decode step's tokens")
def moe_a2a_bytes_per_layer(serve_step_tokens, experts_per_token, hidden_size,
                            act_dtype_bytes, tp, ep, moe_imbalance):
    """All-to-all bytes (dispatch + combine) the busiest GPU sends per MoE layer in one
    decode step of the serving plan (its share of the step's tokens, ``k`` copies each,
    ``(ep − 1)/ep`` of them remote, times the imbalance)."""
    return a2a_bytes(serve_step_tokens, experts_per_token, hidden_size, act_dtype_bytes, tp,
                     ep, moe_imbalance)


@formula(S, "dispatch + combine + expert all-reduce over the MoE link")
def moe_comm_s_per_layer(serve_step_tokens, dp_attention, experts_per_token, hidden_size,
                         act_dtype_bytes, tp, ep, moe_group_gpus, moe_imbalance,
                         moe_link_gb_per_s, moe_link_eff, link_latency_us):
    """Seconds one MoE layer of a decode step waits for its all-to-alls and expert
    all-reduce (bytes / (link × its efficiency) + start-up latency)."""
    return moe_layer_comm_s(serve_step_tokens, dp_attention, experts_per_token, hidden_size,
                            act_dtype_bytes, tp, ep, moe_group_gpus, moe_imbalance,
                            moe_link_gb_per_s, moe_link_eff, link_latency_us)


#: past e^-700 a power is 0 to double precision (1 - it is 1.0): the exponent stops there
_LN_TINY = 700


def visited_fraction(tokens, num_experts, experts_per_token):
    """Expected share of a layer's routed experts that ``tokens`` tokens visit under
    uniform top-k routing: ``1 − (1 − k/E)^tokens`` (1 for a dense model).

    Spreadsheets report a power that underflows as an error (LibreOffice: ``#NUM!`` for
    0.97^2e7, a long prefill step of a 256-expert model) where Python gives 0, so the
    exponent is capped where ``(1 − k/E)^tokens`` reaches e^-700 (the share is then 1 to
    double precision either way); ``k = E`` visits every expert once a token runs."""
    experts = maximum(num_experts, 1)
    missed = maximum(1 - experts_per_token / experts, 0)      # P(a token skips an expert)
    # (1e-9 only keeps LN and the division defined: missed is 0 or at least 1/E, and
    # -LN(missed) is 0 only for k = 0, where the power is 1 at any exponent)
    reach = _LN_TINY / maximum(-log(maximum(missed, 1e-9)), 1e-9)
    share = where(missed > 0, 1 - missed ** minimum(tokens, reach), where(tokens > 0, 1, 0))
    return where(num_experts > 0, share, 1)
