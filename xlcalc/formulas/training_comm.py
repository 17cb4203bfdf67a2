"""Communication of one training step: data-parallel gradient reduction and ZeRO
gathers, tensor-parallel all-reduces, pipeline point-to-point sends, and their time on
the intra-/inter-node links.

The generic pieces (ring all-reduce ``2(n−1)/n × bytes``, the TP/PP message sizes, the
tensor-parallel link) come from :mod:`xlcalc.formulas.comm`; this module binds them to
training quantities with ``derive``.  Volumes are the bytes each GPU sends per optimizer
step (ring algorithms: it receives as much).

* **Data parallelism** (ZeRO §7): plain DDP all-reduces the gradients,
  2(n−1)/n × Ψ·g.  ZeRO-1/2 reduce-scatter the gradients and all-gather the updated
  weights, (n−1)/n × Ψ·(g + w); ZeRO-3 / FSDP all-gathers the weights twice (forward and
  backward) and reduce-scatters the gradients, (n−1)/n × Ψ·(g + 2w).  With fp16
  gradients and weights (g = w = 2) that is ZeRO's 2Ψ, 2Ψ and 3Ψ: stage 3 moves 1.5× the
  data-parallel traffic.  Ψ is the parameters of one model-parallel rank, g and w the
  bytes of the gradients reduced and of the weights gathered (precision recipe).
* **Tensor parallelism** (Megatron, Shoeybi et al. 2019 §3): 2 all-reduces per layer
  forward and 2 backward of the micro-batch's activations (b·s·h·e), 2 more forward
  with full recomputation; sequence parallelism replaces each by a reduce-scatter and an
  all-gather of the same volume.
* **Pipeline parallelism**: each micro-batch's activations go forward and its gradients
  come back across every stage boundary, b·s·h·e each (÷ t with sequence parallelism,
  Megatron's scatter/gather), vp times with the interleaved schedule.

Rank order is Megatron's default (tensor innermost, then data, then pipeline): the
tensor-parallel group uses NVLink while ``tp <= gpus_per_node``, the data-parallel group
while ``tp × dp <= gpus_per_node``.  Times are bytes / (link × ``link_eff``) plus
``link_latency_us`` per collective, nothing overlapped (an upper bound: DDP overlaps the
gradient reduction with the backward pass).
"""

from __future__ import annotations

from ..expr import where
from ..graph import derive, formula
from .comm import pp_inter_node_boundaries, pp_message_bytes, ring_allreduce_bytes, \
    tp_message_bytes

B = "bytes"
S = "s"


# --------------------------------------------------------------- data parallelism

@formula(B, "gradients of the trainable parameters in the recipe's reduction type")
def train_grad_payload_bytes(train_params_per_gpu, trainable_fraction,
                             precision_grad_comm_bytes):
    """Gradient bytes one model-parallel rank reduces over data parallelism per step."""
    return train_params_per_gpu * trainable_fraction * precision_grad_comm_bytes


derive("train_dp_allreduce_bytes", ring_allreduce_bytes, B,
       "seed 000 附录A: AllReduce = 2(n−1)/n × data_size, on the gradients over dp",
       size_bytes="train_grad_payload_bytes", n="dp")


@formula(B, "ZeRO §7 (Rajbhandari et al. 2020): 2Ψ for DDP and stages 1-2, 3Ψ for stage 3")
def train_dp_comm_bytes(zero_stage, dp, train_dp_allreduce_bytes, train_grad_payload_bytes,
                        train_params_per_gpu, trainable_fraction, precision_weight_bytes):
    """Data-parallel bytes each GPU sends per step: the gradient all-reduce (ZeRO 0);
    reduce-scatter + all-gather of the updated weights (ZeRO 1-2); reduce-scatter + two
    weight all-gathers (ZeRO 3 / FSDP)."""
    share = (dp - 1) / dp
    weights = train_params_per_gpu * precision_weight_bytes
    return where(zero_stage >= 3, share * (train_grad_payload_bytes + 2 * weights),
                 where(zero_stage >= 1,
                       share * (train_grad_payload_bytes + trainable_fraction * weights),
                       train_dp_allreduce_bytes))


@formula("GB/s", "Megatron rank order tp-dp-pp: the dp group spans tp × dp GPUs")
def train_dp_link_gb_per_s(tp, dp, gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s):
    """Per-direction bandwidth the data-parallel group uses: NVLink while tp × dp GPUs
    fit in one node, else the inter-node network."""
    return where(tp * dp <= gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s)


def _comm_s(count, total_bytes, active, link_gb_per_s, link_eff, link_latency_us):
    """``total_bytes`` over ``count`` collectives: bytes / (link × efficiency) plus one
    latency per collective when more than one rank takes part."""
    return total_bytes / (link_gb_per_s * 1e9 * link_eff) + \
        where(active, count * link_latency_us * 1e-6, 0)


@formula(S, "seed 000 附录A: 通信延迟 = 通信量 / 带宽 + 启动延迟 (one bucketed collective)")
def train_dp_comm_s(train_dp_comm_bytes, dp, train_dp_link_gb_per_s, link_eff,
                    link_latency_us):
    """Seconds of data-parallel communication per step, not overlapped."""
    return _comm_s(1, train_dp_comm_bytes, dp > 1, train_dp_link_gb_per_s, link_eff,
                   link_latency_us)


# ------------------------------------------------------------- tensor parallelism

derive("train_tp_message_bytes", tp_message_bytes, B,
       "seed 000 §七 example 3: micro_batch × seq × hidden × activation bytes",
       batch="micro_batch", act_dtype_bytes="precision_act_bytes")
derive("train_tp_allreduce_bytes", ring_allreduce_bytes, B,
       "seed 000 附录A: 2(t−1)/t × one layer's activations",
       size_bytes="train_tp_message_bytes", n="tp")


@formula("collectives", "Megatron: 2 all-reduces forward + 2 backward per layer (+2 with full "
         "recomputation), per micro-batch")
def train_tp_collectives(stage_layers, recompute_extra_forward, grad_accum_steps):
    """Tensor-parallel all-reduces one GPU of the first stage runs per step."""
    return 2 * (2 + recompute_extra_forward) * stage_layers * grad_accum_steps


@formula(B, "ring all-reduce bytes × all-reduces per step")
def train_tp_comm_bytes(train_tp_collectives, train_tp_allreduce_bytes):
    """Tensor-parallel bytes each GPU sends per step."""
    return train_tp_collectives * train_tp_allreduce_bytes


@formula(S, "bytes / (NVLink or network × efficiency) + latency per all-reduce")
def train_tp_comm_s(train_tp_comm_bytes, train_tp_collectives, tp, tp_link_gb_per_s, link_eff,
                    link_latency_us):
    """Seconds of tensor-parallel communication per step, not overlapped."""
    return _comm_s(train_tp_collectives, train_tp_comm_bytes, tp > 1, tp_link_gb_per_s,
                   link_eff, link_latency_us)


# ----------------------------------------------------------- pipeline parallelism

derive("train_pp_message_bytes", pp_message_bytes, B,
       "seed 000 附录A: PP通信/边界 = batch × seq × hidden × 2 (per micro-batch)",
       batch="micro_batch", act_dtype_bytes="precision_act_bytes")


@formula("sends", "1F1B: one activation send forward and one gradient send back per "
         "micro-batch and model chunk")
def train_pp_sends(pp, vp, grad_accum_steps):
    """Point-to-point sends one pipeline stage makes per step (0 without a pipeline)."""
    return where(pp > 1, 2 * vp * grad_accum_steps, 0)


@formula(B, "Narayanan et al. 2021 §4.1 (scatter/gather ÷ t with sequence parallelism)")
def train_pp_comm_bytes(train_pp_sends, train_pp_message_bytes, train_sp_divisor):
    """Pipeline bytes a stage sends per step."""
    return train_pp_sends * train_pp_message_bytes / train_sp_divisor


@formula("GPUs", "Megatron rank order tp-dp-pp: pipeline neighbours are tp × dp ranks apart")
def train_pp_rank_stride(tp, dp):
    """Ranks between neighbouring pipeline stages."""
    return tp * dp


derive("train_pp_inter_node_boundaries", pp_inter_node_boundaries, "boundaries",
       "stages packed onto nodes of gpus_per_node GPUs, tp × dp GPUs per stage",
       tp="train_pp_rank_stride")


@formula(S, "bytes / (link × efficiency) + latency per send")
def train_pp_comm_s(train_pp_comm_bytes, train_pp_sends, train_pp_inter_node_boundaries,
                    intra_node_gb_per_s, inter_node_gb_per_s, link_eff, link_latency_us):
    """Seconds of pipeline sends per step on the slowest boundary (the network when any
    boundary crosses nodes), not overlapped."""
    link = where(train_pp_inter_node_boundaries > 0, inter_node_gb_per_s, intra_node_gb_per_s)
    return _comm_s(train_pp_sends, train_pp_comm_bytes, train_pp_sends > 0, link, link_eff,
                   link_latency_us)


@formula(S, "sum of the three, nothing overlapped")
def train_comm_s(train_dp_comm_s, train_tp_comm_s, train_pp_comm_s):
    """Seconds per step the busiest GPU spends communicating if nothing overlaps."""
    return train_dp_comm_s + train_tp_comm_s + train_pp_comm_s
