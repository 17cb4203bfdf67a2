"""Communication: collective volumes, transfer times, and which link each one uses.

Seed ``000_*`` §七 example 3 and 附录A (communication formulas):

* ring all-reduce of ``size`` bytes over ``n`` ranks: every rank sends (and receives)
  ``2(n−1)/n × size`` bytes (reduce-scatter then all-gather, n−1 steps each);
* tensor parallelism (Megatron): two all-reduces per layer (after attention and after
  the MLP) of the activations ``batch × tokens × hidden × bytes``;
* pipeline parallelism: each stage boundary sends ``batch × tokens × hidden × bytes``;
* time = bytes / (link bandwidth × efficiency) + a fixed per-message latency.

Links are per GPU and per direction (``intra_node_gb_per_s`` — NVLink — and
``inter_node_gb_per_s`` — the GPU's share of the network — of the accelerator preset).
Tensor parallelism stays on NVLink while ``tp <= gpus_per_node``; a pipeline boundary
crosses nodes when the stages on either side sit on different nodes.

:func:`ring_allreduce_bytes` and :func:`transfer_s` are plain functions over numbers:
other families reuse them under their own bindings with
``derive("dp_allreduce_bytes", ring_allreduce_bytes, ..., size_bytes="gradient_bytes", n="dp")``.
"""

from ..expr import ceil, floor, maximum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .kv_cache import (held_token_layers, kv_attention_elements_per_token_layer,
                       kv_elements_per_token_layer, state_bytes_per_sequence)

B = "bytes"
S = "s"

register_terms(
    Term("message_bytes", "payload of one collective or point-to-point transfer (the tensor "
         "being reduced or sent)", "bytes", "real", 0, minimum_open=True,
         sample=(1e6, 5.0331648e7, 4e9)),
    Term("link_gb_per_s", "bandwidth of the link one GPU uses, per direction (NVLink 4: 450; "
         "400 Gb/s InfiniBand: 50)", "GB/s", "real", 0, minimum_open=True,
         sample=(50, 100, 450), group="hardware"),
    Term("link_eff", "link efficiency: achieved bus bandwidth / peak link bandwidth (1 = the "
         "spec-sheet figure, as the seeds compute; default: the GPU family's measured "
         "NCCL/RCCL all-reduce figure, above 1 with NVLink SHARP)", "", "real", 0,
         minimum_open=True, maximum=2, sample=(0.7, 0.85, 1.0), group="efficiency"),
    Term("scale_out_eff", "scale-out (inter-node network) efficiency: achieved bus bandwidth "
         "/ the GPU's share of the network (1 = the spec-sheet figure, as the seeds compute; "
         "default: the efficiency table's scale_out_eff, Calculon's fitted InfiniBand model; "
         "link_eff, measured on NVLink inside one server, does not apply to the network)",
         "", "real", 0, minimum_open=True, maximum=2, sample=(0.7, 0.9, 1.0),
         group="efficiency"),
    Term("link_latency_us", "fixed start-up time of one collective or transfer (8 us in "
         "seed 003 §六 after kipp.ly; default: the GPU family's smallest NCCL/RCCL all-reduce)",
         "us", "real", 0, sample=(0, 8, 20), group="efficiency", maximum=1e6),
    Term("gpus_per_node", "GPUs that share one NVLink domain (a server)", "GPUs",
         sample=(4, 8), default=8, group="hardware", maximum=1024),
    Term("comm_overlap", "fraction of prefill tensor-parallel communication hidden behind "
         "compute (0 = fully exposed, as in vLLM; 1 = fully overlapped, as seed 000 §七 "
         "example 1 assumes)", "", "real", 0, maximum=1, default=0.0, sample=(0, 0.5, 1),
         group="efficiency"),
)


# ------------------------------------------------------------------ generic pieces

@formula(B, "seed 000 附录A: AllReduce = 2(n−1)/n × data_size (ring algorithm)",
         size_bytes="message_bytes", n="n_gpus")
def ring_allreduce_bytes(size_bytes, n):
    """Bytes each of ``n`` ranks sends (and receives) in a ring all-reduce of
    ``size_bytes``: reduce-scatter and all-gather, ``n − 1`` steps of ``size/n`` each.
    Zero for a single rank."""
    return 2 * (n - 1) / n * size_bytes


@formula(S, "seed 000 附录A: 通信延迟 = 通信量 / 带宽 + 启动延迟",
         size_bytes="message_bytes")
def transfer_s(size_bytes, link_gb_per_s, link_eff, link_latency_us):
    """Seconds to move ``size_bytes`` over a link of ``link_gb_per_s`` GB/s per direction
    at efficiency ``link_eff``, plus one fixed start-up latency."""
    return size_bytes / (link_gb_per_s * 1e9 * link_eff) + link_latency_us * 1e-6


@formula(B, "activations travel (and are kept) in 16 bits unless the model runs in fp32")
def act_dtype_bytes(dtype_bytes):
    """Bytes of one activation element: ``max(dtype_bytes, 2)`` — int8/int4 weight
    quantization and fp8 GEMMs still produce 16-bit activations; fp32 models use 4."""
    return maximum(dtype_bytes, 2)


@formula("layers", "pipeline stages hold ceil(L / pp) layers at most")
def stage_layers(num_layers, pp):
    """Decoder layers on the busiest pipeline stage: ``ceil(num_layers / pp)``."""
    return ceil(num_layers / pp)


# ----------------------------------------------------------- tensor parallelism

@formula(B, "seed 000 §七 example 3: batch × seq × hidden × 2 per all-reduce")
def tp_message_bytes(batch, seq_len, hidden_size, act_dtype_bytes):
    """Size of the activation tensor one tensor-parallel all-reduce reduces: the layer
    output for ``batch`` sequences of ``seq_len`` tokens (``seq_len`` is the tokens of
    this pass: the prompt in prefill, 1 in decode)."""
    return batch * seq_len * hidden_size * act_dtype_bytes


@formula(B, "seed 000 §七 example 3: 2 × (4−1)/4 × 1 × 2048 × 8192 × 2 ≈ 50 MB")
def tp_allreduce_bytes(tp_message_bytes, tp):
    """Bytes each GPU sends in one tensor-parallel all-reduce (ring)."""
    return ring_allreduce_bytes(tp_message_bytes, tp)


@formula(B, "Megatron-LM: two all-reduces per layer (attention output, MLP output)")
def tp_comm_bytes(num_layers, tp_allreduce_bytes):
    """Tensor-parallel bytes each GPU sends for one forward pass through every layer
    (``2 × num_layers`` all-reduces)."""
    return 2 * num_layers * tp_allreduce_bytes


@formula(B, "seed 000 §七 example 3: 50 MB × 40 layers × 2 (Attn+FFN) ≈ 4 GB per stage")
def tp_comm_bytes_per_stage(stage_layers, tp_allreduce_bytes):
    """Tensor-parallel bytes each GPU of the busiest pipeline stage sends per pass."""
    return 2 * stage_layers * tp_allreduce_bytes


@formula("GB/s", "NVLink inside a node, the network beyond it")
def tp_link_gb_per_s(tp, gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s):
    """Per-direction bandwidth of the link a tensor-parallel group uses: NVLink while the
    group fits in one node (``tp <= gpus_per_node``), else the inter-node network."""
    return where(tp <= gpus_per_node, intra_node_gb_per_s, inter_node_gb_per_s)


@formula("", "the efficiency of the link tp_link_gb_per_s names")
def tp_link_eff(tp, gpus_per_node, link_eff, scale_out_eff):
    """Achieved share of the tensor-parallel group's link: ``link_eff`` on NVLink,
    ``scale_out_eff`` on the network."""
    return where(tp <= gpus_per_node, link_eff, scale_out_eff)


@formula("", "which link the tensor-parallel group uses")
def tp_link(tp, gpus_per_node):
    """``intra-node`` (NVLink) or ``inter-node`` (network); ``none`` when tp = 1."""
    return where(tp > 1, where(tp <= gpus_per_node, "intra-node", "inter-node"), "none")


def chosen_link(inside, intra_node_gb_per_s, inter_node_gb_per_s, link_eff, scale_out_eff):
    """``(GB/s, efficiency)`` of the link a group uses: NVLink at ``link_eff`` while it is
    ``inside`` one node, else the network at ``scale_out_eff``."""
    return (where(inside, intra_node_gb_per_s, inter_node_gb_per_s),
            where(inside, link_eff, scale_out_eff))


def _collectives_s(count, each_bytes, active, link_gb_per_s, link_eff, link_latency_us):
    """``count`` sequential collectives of ``each_bytes`` per rank; latency only when
    ``active`` (more than one rank takes part)."""
    return count * (each_bytes / (link_gb_per_s * 1e9 * link_eff) +
                    where(active, link_latency_us * 1e-6, 0))


@formula(S, "seed 000 §七 example 3: 4 GB / 450 GB/s ≈ 9 ms (plus per-message latency)")
def tp_comm_s_per_stage(stage_layers, tp_allreduce_bytes, tp, tp_link_gb_per_s, tp_link_eff,
                        link_latency_us):
    """Seconds the busiest stage spends in tensor-parallel all-reduces for one pass:
    ``2 × stage_layers`` all-reduces, each bytes / (link × efficiency) + latency."""
    return _collectives_s(2 * stage_layers, tp_allreduce_bytes, tp > 1, tp_link_gb_per_s,
                          tp_link_eff, link_latency_us)


def tp_comm_s(num_layers, batch, seq_len, hidden_size, act_dtype_bytes, tp, tp_link_gb_per_s,
              tp_link_eff, link_latency_us):
    """Seconds of tensor-parallel all-reduce in one pass of ``batch`` sequences of
    ``seq_len`` tokens through all layers: ``2 × num_layers`` all-reduces in sequence
    (pipeline stages run one after another for one batch), each ring bytes / (link ×
    efficiency) + latency; zero for tp = 1."""
    each = ring_allreduce_bytes(batch * seq_len * hidden_size * act_dtype_bytes, tp)
    return _collectives_s(2 * num_layers, each, tp > 1, tp_link_gb_per_s, tp_link_eff,
                          link_latency_us)


formula(S, "seed 000 附录A: TP通信/层 = 2 × AllReduce(batch × seq × hidden × 2)")(tp_comm_s)
derive("prefill_tp_comm_s", tp_comm_s, S, "seed 000 §七 example 1: TP all-reduces of the "
       "prompt's activations (the engine's all-reduce latency)", seq_len="prompt_len",
       link_latency_us="tp_allreduce_latency_us")
derive("decode_tp_comm_s", tp_comm_s, S, "seed 003 §六 (kipp.ly): per-token all-reduces, "
       "latency-dominated (the engine's all-reduce latency)", seq_len=1,
       link_latency_us="tp_allreduce_latency_us")


# --------------------------------------------------------- pipeline parallelism

@formula(B, "seed 000 附录A: PP通信/边界 = batch × seq × hidden × 2")
def pp_message_bytes(batch, seq_len, hidden_size, act_dtype_bytes):
    """Activation bytes one pipeline stage boundary sends for one pass."""
    return batch * seq_len * hidden_size * act_dtype_bytes


@formula("boundaries", "stages packed onto nodes of gpus_per_node GPUs")
def pp_inter_node_boundaries(pp, tp, gpus_per_node):
    """Stage boundaries that cross nodes: the ``floor(gpus_per_node / tp)`` stages that
    fit in a node talk over NVLink, the rest over the network (every boundary when a
    stage's tensor-parallel group already spans nodes)."""
    stages_per_node = maximum(floor(gpus_per_node / tp), 1)
    return ceil(pp / stages_per_node) - 1


@formula("", "which link pipeline boundaries use")
def pp_link(pp, pp_inter_node_boundaries):
    """``inter-node`` when any boundary crosses nodes, ``intra-node`` otherwise, ``none``
    for pp = 1."""
    return where(pp > 1, where(pp_inter_node_boundaries > 0, "inter-node", "intra-node"),
                 "none")


def pp_comm_s(batch, seq_len, hidden_size, act_dtype_bytes, pp, pp_inter_node_boundaries,
              intra_node_gb_per_s, inter_node_gb_per_s, link_eff, scale_out_eff,
              link_latency_us):
    """Seconds one pass spends sending activations across the ``pp − 1`` stage boundaries
    (each bytes / (link × efficiency) + latency; inter-node boundaries on the network)."""
    size = batch * seq_len * hidden_size * act_dtype_bytes
    inter = pp_inter_node_boundaries
    return _collectives_s(inter, size, pp > 1, inter_node_gb_per_s, scale_out_eff,
                          link_latency_us) + \
        _collectives_s(pp - 1 - inter, size, pp > 1, intra_node_gb_per_s, link_eff,
                       link_latency_us)


formula(S, "seed 000 §七 example 3: 32 MB / 100 GB/s ≈ 0.3 ms per boundary")(pp_comm_s)
derive("prefill_pp_comm_s", pp_comm_s, S, "pipeline sends of the prompt's activations",
       seq_len="prompt_len")
derive("decode_pp_comm_s", pp_comm_s, S, "pipeline sends of one token per sequence",
       seq_len=1)


# ------------------------------------------- disaggregated prefill / decode (PD)

register_terms(
    Term("request_rate", "requests arriving per second (Poisson arrivals in the serving "
         "model; 0: no offered load, serving figures are then at the plan's capacity)",
         "requests/s", "real", 0, sample=(1, 10, 100), maximum=1e7),
)

derive("kv_model_attention_elements_per_token_layer", kv_attention_elements_per_token_layer,
       "elements", "seed 000 §2.4 K and V of every KV head (the whole model, no "
       "tensor-parallel split)", kv_heads_per_gpu="num_kv_heads")
derive("kv_model_elements_per_token_layer", kv_elements_per_token_layer, "elements",
       "K and V of every KV head plus the indexer key (the whole model)",
       kv_attention_elements_per_token_layer="kv_model_attention_elements_per_token_layer")
derive("state_model_bytes_per_sequence", state_bytes_per_sequence, B,
       "linear-attention state of one sequence, the whole model", linear_state_share=1)


@formula(B, "seed 002 §五 (DistServe §4): KV of a 512-token OPT-66B request ≈ 1.13 GB")
def kv_transfer_bytes(prompt_len, num_full_layers, num_sliding_layers, sliding_window,
                      num_chunked_layers, attention_chunk_size,
                      kv_model_elements_per_token_layer, kv_dtype_bytes,
                      state_model_bytes_per_sequence):
    """KV-cache bytes of one prompt, all layers and heads: what a prefill instance sends
    to a decode instance per request (sliding/chunked layers send what they hold, linear
    layers their state)."""
    token_layers = held_token_layers(prompt_len, num_full_layers, num_sliding_layers,
                                     sliding_window, num_chunked_layers, attention_chunk_size)
    return token_layers * kv_model_elements_per_token_layer * kv_dtype_bytes + \
        state_model_bytes_per_sequence


@formula("bytes/s", "seed 002 §五: 1.13 GB × 10 requests/s = 11.3 GB/s")
def kv_transfer_bytes_per_s(kv_transfer_bytes, request_rate):
    """KV bytes per second the prefill→decode link must carry at ``request_rate``."""
    return kv_transfer_bytes * request_rate


@formula("Gbit/s", "seed 002 §五: ≈ 90 Gbps")
def kv_transfer_gbit_per_s(kv_transfer_bytes_per_s):
    """The same bandwidth in network units: gigabits (1e9 bits) per second."""
    return kv_transfer_bytes_per_s * 8 / 1e9


@formula(S, "per request over the prefill instance's network links")
def kv_transfer_s(kv_transfer_bytes, tp, inter_node_gb_per_s, scale_out_eff, link_latency_us):
    """Seconds to ship one request's KV cache from a prefill to a decode instance on
    another node: the ``tp`` GPUs of the prefill instance send their shards in parallel."""
    return kv_transfer_bytes / (tp * inter_node_gb_per_s * 1e9 * scale_out_eff) + \
        link_latency_us * 1e-6


@formula("", "DistServe: the transfer is hidden when the link keeps up")
def kv_link_utilisation(kv_transfer_bytes_per_s, tp, inter_node_gb_per_s, scale_out_eff):
    """Share of the prefill instance's network bandwidth the KV transfers use at
    ``request_rate`` (above 1: the link cannot keep up)."""
    return kv_transfer_bytes_per_s / (tp * inter_node_gb_per_s * 1e9 * scale_out_eff)
