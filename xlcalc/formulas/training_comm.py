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

* **Context parallelism** (Megatron-Core ring attention): each layer passes its K/V
  chunk around the ``cp`` ranks forward, K/V and dK/dV backward; gradients are reduced
  over dp·cp.
* **Expert parallelism**: each MoE layer's dispatch and combine all-to-alls, forward and
  backward, move the routed token copies that leave the GPU ((ep − 1)/ep of them).
* **HSDP** (``dp_shard`` < ``dp``): ZeRO collectives within the shard group, plus an
  all-reduce of each shard across the replicas.
* **Offload**: gradients to host memory and updated weights back over PCIe
  (``host_link_gb_per_s``), weights fetched per micro-batch with parameter offload.

Rank order is Megatron's default (tensor innermost, then context, expert, data, then
pipeline): the tensor-parallel group uses NVLink while ``tp <= gpus_per_node``, the
context-parallel ring while tp·cp does, the expert group while tp·cp·ep does, the
data-parallel group while tp·cp·dp does.  Times are bytes / (link × ``link_eff``) plus
``link_latency_us`` per collective, before overlap (:mod:`xlcalc.formulas.training_step`
decides what is hidden).
"""

from __future__ import annotations

from ..expr import where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .comm import chosen_link, pp_inter_node_boundaries, pp_message_bytes, \
    ring_allreduce_bytes, tp_message_bytes

B = "bytes"
S = "s"

register_terms(
    Term("host_link_gb_per_s", "host-to-GPU bandwidth per GPU and direction for offloaded "
         "model states (PCIe 4.0 ×16: 32 GB/s; PCIe 5.0 ×16: 64 GB/s)", "GB/s", "real", 0,
         minimum_open=True, default=32.0, sample=(16.0, 32.0, 64.0), group="hardware"),
)


# --------------------------------------------------------------- data parallelism

@formula(B, "gradients of the trainable parameters in the recipe's reduction type")
def train_grad_payload_bytes(train_params_per_gpu, trainable_fraction, finetune_base_trainable,
                             train_adapter_params_per_gpu, precision_grad_comm_bytes):
    """Gradient bytes one model-parallel rank reduces over data parallelism per step:
    the trained base parameters and LoRA adapters."""
    trained = train_params_per_gpu * trainable_fraction * finetune_base_trainable + \
        train_adapter_params_per_gpu
    return trained * precision_grad_comm_bytes


@formula("GPUs", "Megatron: gradients are reduced over the data- and context-parallel ranks")
def train_dp_group(dp, cp):
    """Ranks a gradient is reduced over: dp·cp."""
    return dp * cp


derive("train_dp_allreduce_bytes", ring_allreduce_bytes, B,
       "seed 000 附录A: AllReduce = 2(n−1)/n × data_size, on the gradients over dp·cp",
       size_bytes="train_grad_payload_bytes", n="train_dp_group")


@formula(B, "ZeRO §7 (Rajbhandari et al. 2020): 2Ψ for DDP and stages 1-2, 3Ψ for stage 3; "
         "HSDP: within the shard group plus an all-reduce of the shard across replicas")
def train_dp_comm_bytes(zero_stage, train_dp_group, train_shard_group, grad_accum_steps,
                        train_dp_allreduce_bytes, train_grad_payload_bytes, train_params_per_gpu,
                        trainable_fraction, finetune_base_trainable, precision_weight_bytes):
    """Data-parallel bytes each GPU sends per step: the gradient all-reduce (ZeRO 0);
    reduce-scatter of the gradients and all-gather of the updated weights once per step
    (ZeRO 1-2, Megatron's distributed optimizer); reduce-scatter and two weight
    all-gathers per micro-batch (ZeRO 3 / FSDP re-gathers each micro-batch).  With HSDP
    (shard group n_s < dp·cp) the collectives run within the shard group and each shard's
    gradients are all-reduced across the dp·cp/n_s replicas."""
    n_s = train_shard_group
    share = (n_s - 1) / n_s
    weights = train_params_per_gpu * precision_weight_bytes
    trained_weights = trainable_fraction * finetune_base_trainable * weights
    replicas = train_dp_group / n_s
    across = 2 * (replicas - 1) / replicas * train_grad_payload_bytes / n_s
    sharded = where(zero_stage >= 3,
                    grad_accum_steps * share * (train_grad_payload_bytes + 2 * weights),
                    share * (train_grad_payload_bytes + trained_weights))
    return where(zero_stage >= 1, sharded + across, train_dp_allreduce_bytes)


@formula("GB/s", "Megatron rank order tp-cp-ep-dp-pp: the dp group spans tp·cp·dp GPUs")
def train_dp_link_gb_per_s(tp, cp, dp, gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s):
    """Per-direction bandwidth the data-parallel group uses: NVLink while tp·cp·dp GPUs
    fit in one node, else the inter-node network."""
    return where(tp * cp * dp <= gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s)


@formula("", "the efficiency of the link train_dp_link_gb_per_s names")
def train_dp_link_eff(tp, cp, dp, gpus_per_node, link_eff, scale_out_eff):
    """Achieved share of the data-parallel group's link: ``link_eff`` on NVLink,
    ``scale_out_eff`` on the network."""
    return where(tp * cp * dp <= gpus_per_node, link_eff, scale_out_eff)


def _comm_s(count, total_bytes, active, link_gb_per_s, link_eff, link_latency_us):
    """``total_bytes`` over ``count`` collectives: bytes / (link × efficiency) plus one
    latency per collective when more than one rank takes part."""
    return total_bytes / (link_gb_per_s * 1e9 * link_eff) + \
        where(active, count * link_latency_us * 1e-6, 0)


@formula(S, "seed 000 附录A: 通信延迟 = 通信量 / 带宽 + 启动延迟 (one bucketed collective)")
def train_dp_comm_s(train_dp_comm_bytes, train_dp_group, train_dp_link_gb_per_s,
                    train_dp_link_eff, link_latency_us):
    """Seconds of data-parallel communication per step, before any overlap."""
    return _comm_s(1, train_dp_comm_bytes, train_dp_group > 1, train_dp_link_gb_per_s,
                   train_dp_link_eff, link_latency_us)


# ------------------------------------------------------------- tensor parallelism

@formula("tokens", "context parallelism: each GPU holds s/cp tokens of a sequence")
def train_local_seq_len(seq_len, cp):
    """Tokens of each sequence on one GPU."""
    return seq_len / cp


derive("train_tp_message_bytes", tp_message_bytes, B,
       "seed 000 §七 example 3: micro_batch × seq × hidden × activation bytes (s/cp tokens)",
       batch="micro_batch", seq_len="train_local_seq_len",
       act_dtype_bytes="precision_act_bytes")
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
def train_tp_comm_s(train_tp_comm_bytes, train_tp_collectives, tp, tp_link_gb_per_s,
                    tp_link_eff, link_latency_us):
    """Seconds of tensor-parallel communication per step, not overlapped."""
    return _comm_s(train_tp_collectives, train_tp_comm_bytes, tp > 1, tp_link_gb_per_s,
                   tp_link_eff, link_latency_us)


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
def train_pp_comm_bytes(train_pp_sends, train_pp_message_bytes, train_sp_divisor, cp):
    """Pipeline bytes a stage sends per step (÷ cp: each GPU holds s/cp tokens)."""
    return train_pp_sends * train_pp_message_bytes / (train_sp_divisor * cp)


@formula("GPUs", "Megatron rank order tp-cp-dp-pp: pipeline neighbours are tp·cp·dp ranks apart")
def train_pp_rank_stride(tp, cp, dp):
    """Ranks between neighbouring pipeline stages."""
    return tp * cp * dp


derive("train_pp_inter_node_boundaries", pp_inter_node_boundaries, "boundaries",
       "stages packed onto nodes of gpus_per_node GPUs, tp × dp GPUs per stage",
       tp="train_pp_rank_stride")


@formula(S, "bytes / (link × efficiency) + latency per send")
def train_pp_comm_s(train_pp_comm_bytes, train_pp_sends, train_pp_inter_node_boundaries,
                    intra_node_gb_per_s, inter_node_gb_per_s, link_eff, scale_out_eff,
                    link_latency_us):
    """Seconds of pipeline sends per step on the slowest boundary (the network when any
    boundary crosses nodes), not overlapped."""
    link, eff = chosen_link(train_pp_inter_node_boundaries <= 0, intra_node_gb_per_s,
                            inter_node_gb_per_s, link_eff, scale_out_eff)
    return _comm_s(train_pp_sends, train_pp_comm_bytes, train_pp_sends > 0, link, eff,
                   link_latency_us)


# -------------------------------------------------------------- context parallelism

@formula(B, "Megatron-Core context parallelism (ring attention): K/V chunks passed around "
         "the cp ranks, K/V again and their gradients in the backward pass")
def train_cp_comm_bytes(act_tokens, kv_heads_per_gpu, head_dim, attn_v_head_dim, cp,
                        stage_layers, grad_accum_steps, recompute_extra_forward,
                        precision_act_bytes):
    """Context-parallel bytes each GPU sends per step: per layer and micro-batch, its
    K/V chunk (e·t·k(d + d_v), t = b·s/cp) to its ring neighbour cp − 1 times forward,
    and K/V plus dK/dV cp − 1 times backward (3 chunks; 4 with full recomputation)."""
    chunk = precision_act_bytes * act_tokens * kv_heads_per_gpu * (head_dim + attn_v_head_dim)
    return (cp - 1) * chunk * (3 + recompute_extra_forward) * stage_layers * grad_accum_steps


@formula(S, "rank order tp-cp: the cp ring stays on NVLink while tp·cp ≤ gpus_per_node")
def train_cp_comm_s(train_cp_comm_bytes, tp, cp, stage_layers, grad_accum_steps,
                    gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s, link_eff,
                    scale_out_eff, link_latency_us):
    """Seconds of context-parallel sends per step, before overlap (Megatron overlaps them
    with the attention of the chunk in hand)."""
    link, eff = chosen_link(tp * cp <= gpus_per_node, intra_node_gb_per_s,
                            inter_node_gb_per_s, link_eff, scale_out_eff)
    sends = 3 * (cp - 1) * stage_layers * grad_accum_steps
    return _comm_s(sends, train_cp_comm_bytes, cp > 1, link, eff, link_latency_us)


# --------------------------------------------------------------- expert parallelism

@formula("layers", "MoE layers on the first stage (averaged over the stack)")
def train_moe_stage_layers(stage_layers, num_layers, num_dense_layers):
    """MoE layers on the busiest pipeline stage."""
    return stage_layers * (num_layers - num_dense_layers) / num_layers


@formula(B, "Megatron-Core MoE all-to-all token dispatcher: dispatch and combine, forward "
         "and backward")
def train_ep_comm_bytes(act_tokens, experts_per_token, hidden_size, ep, train_moe_stage_layers,
                        grad_accum_steps, recompute_extra_forward, precision_act_bytes):
    """Expert-parallel bytes each GPU sends per step: each MoE layer's dispatch and
    combine all-to-alls move its t·k routed token copies (e·t·k·h), of which (ep − 1)/ep
    leave the GPU; four per layer and micro-batch (forward and backward), six with full
    recomputation."""
    per = precision_act_bytes * act_tokens * experts_per_token * hidden_size * (ep - 1) / ep
    return per * (4 + 2 * recompute_extra_forward) * train_moe_stage_layers * grad_accum_steps


@formula(S, "rank order tp-cp-ep: the ep group stays on NVLink while tp·cp·ep ≤ gpus_per_node")
def train_ep_comm_s(train_ep_comm_bytes, tp, cp, ep, train_moe_stage_layers, grad_accum_steps,
                    recompute_extra_forward, gpus_per_node, intra_node_gb_per_s,
                    inter_node_gb_per_s, link_eff, scale_out_eff, link_latency_us):
    """Seconds of expert-parallel all-to-alls per step, before overlap."""
    link, eff = chosen_link(tp * cp * ep <= gpus_per_node, intra_node_gb_per_s,
                            inter_node_gb_per_s, link_eff, scale_out_eff)
    count = (4 + 2 * recompute_extra_forward) * train_moe_stage_layers * grad_accum_steps
    return _comm_s(count, train_ep_comm_bytes, ep > 1, link, eff, link_latency_us)


# -------------------------------------------------------------------------- offload

@formula(B, "ZeRO-Offload §4: gradients to the host, the updated 16-bit partition back; "
         "ZeRO-Infinity: weights fetched for every forward and backward")
def train_offload_bytes(train_trainable_sharded_1, train_trainable_sharded_2,
                        precision_grad_bytes, precision_weight_bytes,
                        train_weights_host_and_gpu_bytes, grad_accum_steps, offload_states,
                        offload_grads, offload_params):
    """PCIe bytes each GPU moves per step to and from host memory: its gradient partition
    out and the weights of the partition the CPU optimizer updated back (then all-gathered
    among the GPUs), plus, with parameter offload, its weight partition in twice per
    micro-batch."""
    grads = offload_grads * train_trainable_sharded_2 * precision_grad_bytes
    updated = offload_states * train_trainable_sharded_1 * precision_weight_bytes
    fetched = offload_params * 2 * grad_accum_steps * train_weights_host_and_gpu_bytes
    return grads + updated + fetched


@formula(S, "bytes / host link")
def train_offload_s(train_offload_bytes, host_link_gb_per_s):
    """Seconds of host-device copies per step (the CPU optimizer step is not counted).  The
    host link is a plain DMA copy: the GPU-to-GPU collectives' ``link_eff`` (the family's
    NCCL bus-bandwidth share, above 1 with NVLink SHARP) does not apply to it."""
    return train_offload_bytes / (host_link_gb_per_s * 1e9)


@formula(S, "sum of the parts, nothing overlapped")
def train_comm_s(train_dp_comm_s, train_tp_comm_s, train_pp_comm_s, train_cp_comm_s,
                 train_ep_comm_s):
    """Seconds per step the busiest GPU spends communicating if nothing overlaps."""
    return train_dp_comm_s + train_tp_comm_s + train_pp_comm_s + train_cp_comm_s + \
        train_ep_comm_s
