"""All-reduce algorithms side by side, and the compute-to-communication ratio.

Seed ``002_*`` §四 (tree all-reduce, "Mixed Tree Allreduce") and §七 (计算通信比, 带宽利用率);
seed ``000_*`` 附录A (the ring).  Times follow the α-β model of Thakur, Rabenseifner &
Gropp 2005 ("Optimization of collective communication operations in MPICH"): α is the
start-up latency of one step (``link_latency_us``), β the time per byte of the link
(``1 / (link_gb_per_s × link_eff)``), ``S`` the message, ``n`` the ranks:

* **ring** — reduce-scatter then all-gather, ``2(n−1)`` steps of ``S/n``:
  ``2(n−1)·α + 2(n−1)/n·S·β``;
* **tree** — reduce up a binary tree and broadcast down, pipelined (NCCL's double binary
  tree, 2019): ``2·ceil(log2 n)·α + 2·S·β`` — logarithmic latency, the same bandwidth
  term as the ring for large ``n``;
* **hierarchical** (2D: Jia et al. 2018, arXiv:1807.11205 §3.3) — ring reduce-scatter
  inside each node of ``g`` GPUs (NVLink), ring all-reduce of ``S/g`` across the
  ``ceil(n/g)`` nodes (network), ring all-gather inside the node.

A flat ring or tree that spans nodes runs at the network's bandwidth (its slowest link);
inside one node at NVLink's.

The compute-to-communication ratio (CCR) of a computation is its FLOPs per byte it must
communicate; a GPU computing at ``peak × mfu`` then needs ``peak × mfu / CCR`` bytes/s of
link, and the link utilisation is that over the link's bandwidth (above 1, communication is
the bottleneck).
"""

from ..expr import ceil, log, maximum, minimum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .comm import tp_allreduce_bytes, tp_comm_bytes, tp_message_bytes

S = "s"
B = "bytes"

register_terms(
    Term("work_flops", "FLOPs one GPU computes alongside a communication (for the compute-"
         "to-communication ratio)", "FLOPs", "real", 0, minimum_open=True,
         sample=(1e12, 7.04e13, 1e15)),
)


def _steps_s(steps, link_latency_us):
    return steps * link_latency_us * 1e-6


def _bytes_s(size, link_gb_per_s, link_eff):
    return size / (link_gb_per_s * 1e9 * link_eff)


@formula("GB/s", "the slowest link of a flat collective: NVLink inside one node, the "
         "network beyond", n="n_gpus")
def collective_link_gb_per_s(n, gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s):
    """Per-direction bandwidth a flat collective over ``n`` GPUs runs at."""
    return where(n > gpus_per_node, inter_node_gb_per_s, intra_node_gb_per_s)


@formula("", "the efficiency of the link collective_link_gb_per_s names", n="n_gpus")
def collective_link_eff(n, gpus_per_node, link_eff, scale_out_eff):
    """Achieved share of a flat collective's slowest link: ``link_eff`` on NVLink,
    ``scale_out_eff`` on the network."""
    return where(n > gpus_per_node, scale_out_eff, link_eff)


def ring_allreduce_time(size_bytes, n, link_gb_per_s, link_eff, link_latency_us):
    """α-β time of a ring all-reduce: ``2(n−1)`` steps, ``2(n−1)/n × S`` bytes."""
    return _steps_s(2 * (n - 1), link_latency_us) + \
        _bytes_s(2 * (n - 1) / n * size_bytes, link_gb_per_s, link_eff)


def tree_allreduce_time(size_bytes, n, link_gb_per_s, link_eff, link_latency_us):
    """α-β time of a pipelined binary-tree all-reduce: ``2·ceil(log2 n)`` steps of latency,
    ``2 × S`` bytes through the busiest link; 0 for one rank."""
    depth = ceil(log(maximum(n, 1)) / log(2) - 1e-9)
    return where(n > 1, _steps_s(2 * depth, link_latency_us) +
                 _bytes_s(2 * size_bytes, link_gb_per_s, link_eff), 0)


derive("allreduce_ring_s", ring_allreduce_time, S,
       "seed 000 附录A / Thakur et al. 2005: ring, 2(n−1)·α + 2(n−1)/n·S·β",
       doc="Time of a flat ring all-reduce of message_bytes over n_gpus GPUs at the slowest "
           "link.", size_bytes="message_bytes", n="n_gpus",
       link_gb_per_s="collective_link_gb_per_s", link_eff="collective_link_eff")
derive("allreduce_tree_s", tree_allreduce_time, S,
       "seed 002 §四 / NCCL double binary tree (2019): 2·log2(n)·α + 2·S·β",
       doc="Time of a flat (pipelined, double binary) tree all-reduce of message_bytes over "
           "n_gpus GPUs at the slowest link.", size_bytes="message_bytes", n="n_gpus",
       link_gb_per_s="collective_link_gb_per_s", link_eff="collective_link_eff")


@formula(S, "seed 002 §四 Mixed Tree Allreduce / Jia et al. 2018 §3.3: hierarchical (2D) "
         "all-reduce", size_bytes="message_bytes", n="n_gpus")
def allreduce_hierarchical_s(size_bytes, n, gpus_per_node, intra_node_gb_per_s,
                             inter_node_gb_per_s, link_eff, scale_out_eff, link_latency_us):
    """Time of a hierarchical all-reduce: reduce-scatter inside each node of
    ``g = min(n, gpus_per_node)`` GPUs, a ring all-reduce of ``S/g`` across the nodes,
    all-gather inside the node.  Equal to the ring when one node holds everything."""
    g = minimum(n, gpus_per_node)
    nodes = ceil(n / g)
    inside = _steps_s(2 * (g - 1), link_latency_us) + \
        _bytes_s(2 * (g - 1) / g * size_bytes, intra_node_gb_per_s, link_eff)
    across = ring_allreduce_time(size_bytes / g, nodes, inter_node_gb_per_s, scale_out_eff,
                                 link_latency_us)
    return inside + across


# ----------------------------------------------- compute-to-communication ratio

@formula("FLOP/byte", "seed 002 §七: CCR = FLOP/s / communicated bytes/s",
         size_bytes="message_bytes")
def compute_comm_ratio(work_flops, size_bytes):
    """FLOPs computed per byte communicated (0 when nothing is communicated)."""
    return where(size_bytes > 0, work_flops / where(size_bytes > 0, size_bytes, 1), 0)


@formula("GB/s", "seed 002 §七: 根据 CCR 和芯片的算力峰值计算出所需的通信带宽",
         size_bytes="message_bytes")
def comm_gb_per_s_needed(work_flops, size_bytes, peak_tflops, gemm_eff):
    """Link bandwidth (GB/s per GPU) that keeps up with a GPU computing at ``peak × mfu``
    (``mfu`` not given: the family's GEMM plateau): ``peak × mfu / CCR``, i.e. the bytes of
    one FLOP times the FLOP rate."""
    return peak_tflops * 1e12 * gemm_eff * size_bytes / work_flops / 1e9


@formula("", "seed 002 §七: 带宽利用率 = 通信需求带宽 / 硬件拥有的网络带宽")
def link_utilisation(comm_gb_per_s_needed, link_gb_per_s, link_eff):
    """Needed over available link bandwidth (above 1: communication is the bottleneck)."""
    return comm_gb_per_s_needed / (link_gb_per_s * link_eff)


# the same three for a prefill's tensor-parallel all-reduces (seed 000 §七 example 1)
@formula("FLOPs", "prefill FLOPs on each of the tp GPUs")
def prefill_flops_per_gpu(prefill_flops, tp):
    """Prefill FLOPs each tensor-parallel rank computes."""
    return prefill_flops / tp


derive("prefill_tp_message_bytes", tp_message_bytes, B, "the prompt's activations, one "
       "all-reduce", doc="Payload of one tensor-parallel all-reduce in a prefill: batch × "
       "prompt_len × hidden × bytes.", seq_len="prompt_len")
derive("prefill_tp_allreduce_bytes", tp_allreduce_bytes, B, "ring all-reduce of the "
       "prompt's activations", doc="Bytes each GPU sends in one tensor-parallel all-reduce "
       "of a prefill.", tp_message_bytes="prefill_tp_message_bytes")
derive("prefill_tp_comm_bytes", tp_comm_bytes, B, "Megatron-LM: two all-reduces per layer "
       "in a prefill", doc="Tensor-parallel bytes each GPU sends in one prefill.",
       tp_allreduce_bytes="prefill_tp_allreduce_bytes")
derive("prefill_tp_compute_comm_ratio", compute_comm_ratio, "FLOP/byte",
       "seed 002 §七 applied to a prefill's tensor-parallel all-reduces",
       doc="Prefill FLOPs per tensor-parallel byte on each GPU.",
       work_flops="prefill_flops_per_gpu", size_bytes="prefill_tp_comm_bytes")
derive("prefill_tp_gb_per_s_needed", comm_gb_per_s_needed, "GB/s",
       "seed 002 §七 applied to a prefill", doc="NVLink bandwidth per GPU that keeps a "
       "prefill's all-reduces up with its compute at mfu.",
       work_flops="prefill_flops_per_gpu", size_bytes="prefill_tp_comm_bytes")
derive("prefill_tp_link_utilisation", link_utilisation, "",
       "seed 002 §七 applied to a prefill", doc="Needed over available bandwidth of the "
       "tensor-parallel link in a prefill.", comm_gb_per_s_needed="prefill_tp_gb_per_s_needed",
       link_gb_per_s="tp_link_gb_per_s")
