"""Roofline pieces the tutorials teach: one GEMM, the critical decode batch, decode's share
of peak, element-wise and reduction operators, eager attention against FlashAttention.

* **One GEMM** ``[M,K]·[K,N]`` (seed ``002_*`` §1.10, seed ``001_*`` §4.1): ``2MNK`` FLOPs over
  ``(MK + KN + MN) × bytes`` of HBM traffic; its time is ``max(FLOPs / (peak × mfu), bytes /
  (bandwidth × bw_eff))`` and it is memory-bound below the ridge ``peak / bandwidth``.
  Without an explicit ``mfu`` the compute time follows the GPU family's calibrated curve
  (:mod:`.efficiency`: the plateau rate plus a fixed time per GEMM).
* **Critical batch** (seed 001 §4.4 "below batch 16 a matmul is memory-bound", seed 000
  §2.3): the batch at which a decode step's compute time reaches its memory time.  Each
  sequence adds its FLOPs and its KV reads; the weights are read once per step.
* **Decode compute utilisation** (seed 000 §2.3 "0.23 / 295 ≈ 0.08 %"): the FLOPs of a step
  over what the GPUs could compute at their dense peak in the step's time.
* **Operators** (seed ``004_*`` "element-wise and reduction operators are memory-bound"): HBM
  passes per element from the ``operators`` table (Milakov & Gimelshein 2018 for the three
  softmaxes), bytes, time and intensity.
* **Attention HBM traffic** (seed 004 and seed 002 §1.7, FlashAttention): eager attention
  reads Q, K, S, P, V and writes S, P, O (``4Nd + 4N²`` elements per head: FlashAttention
  Algorithm 0); FlashAttention-2 reads Q once, K and V once per query block of
  ``flash_block_size`` rows, writes O and the log-sum-exp once (Dao 2023, Algorithm 1).
  Both compute ``4N²d`` FLOPs per head (non-causal, as both papers count); the speed-up
  follows from the two roofline times.
"""

import json
from pathlib import Path

from ..expr import ceil, maximum, where
from ..glossary import Term, register_terms
from ..graph import formula, lookup_node, register_table
from .efficiency import gemm_seconds

S = "s"
B = "bytes"
F = "FLOPs"

register_terms(
    Term("gemm_m", "rows of the GEMM's left matrix [M, K] (tokens: the decode batch, or "
         "batch × sequence)", "elements", sample=(1, 16, 4096)),
    Term("gemm_n", "columns of the GEMM's right matrix [K, N] (the output width)",
         "elements", sample=(1024, 4096, 28672)),
    Term("gemm_k", "the GEMM's inner dimension (the input width, hidden / tp)", "elements",
         sample=(1024, 4096, 8192)),
    Term("operator", "an element-wise or reduction operator (operators table: HBM passes "
         "per element)", "", "choice", table="operators", default="softmax-safe"),
    Term("op_elements", "elements of the tensor an operator reads", "elements", "real", 0,
         minimum_open=True, sample=(1e6, 6.7e7, 5.4e8)),
    Term("flash_block_size", "rows of one FlashAttention block (FlashAttention-2's query "
         "block; its kernels use 64 or 128 rows; FlashAttention Alg. 1: ceil(M / 4d) for M "
         "SRAM elements)", "tokens", default=128, sample=(64, 128, 256)),
)


def _load_operators():
    import pandas as pd
    rows = json.loads((Path(__file__).resolve().parent.parent / "presets" /
                       "operators.json").read_text())
    frame = pd.DataFrame(rows).set_index("name")
    frame.index = frame.index.str.lower()
    return frame


register_table("operators", _load_operators, "operator",
               "element-wise and reduction operators: HBM reads and writes per element")
_OPS = "operators table (xlcalc/presets/operators.json)"
lookup_node("op_reads", "operators", "operator", "reads", unit="passes", source=_OPS,
            doc="Times the operator reads each input element from HBM.")
lookup_node("op_writes", "operators", "operator", "writes", unit="passes", source=_OPS,
            doc="Times the operator writes each output element to HBM.")
lookup_node("op_flops_per_element", "operators", "operator", "flops_per_element",
            unit="FLOPs", source=_OPS, doc="Arithmetic operations per element (exp as one).")


# ---------------------------------------------------------------------- one GEMM

@formula(F, "seed 002 §1.10 / seed 001 §4.1: 2·M·N·K")
def gemm_flops(gemm_m, gemm_n, gemm_k):
    """FLOPs of ``[M,K]·[K,N]``: one multiply and one add per term (seed 004 and seed 001
    §1.4 count multiply-adds, half this)."""
    return 2 * gemm_m * gemm_n * gemm_k


@formula(B, "seed 002 §1.10: (M·K + K·N + M·N) × dtype_bytes")
def gemm_bytes(gemm_m, gemm_n, gemm_k, dtype_bytes):
    """HBM bytes of one GEMM: both inputs read once, the output written once."""
    return (gemm_m * gemm_k + gemm_k * gemm_n + gemm_m * gemm_n) * dtype_bytes


@formula("FLOP/byte", "seed 002 §1.10 eq. (1): Arithmetic Intensity = FLOPs / bytes")
def gemm_intensity(gemm_flops, gemm_bytes):
    """FLOPs per HBM byte of one GEMM."""
    return gemm_flops / gemm_bytes


@formula(S, "seed 002 §1.10: T_cal = FLOPs / BW_cal; Calculon-style curve by size")
def gemm_compute_s(gemm_flops, peak_tflops, gemm_eff, gemm_fixed_s):
    """Compute time of one GEMM on one GPU: its FLOPs at ``mfu`` of the dtype's dense peak
    when ``mfu`` is given, else on the GPU family's calibrated curve (the plateau rate
    plus the fixed time of one GEMM, :mod:`.efficiency`)."""
    return gemm_seconds(gemm_flops, 1, peak_tflops * 1e12 * gemm_eff, gemm_fixed_s)


@formula(S, "seed 002 §1.10: T_mem = bytes / BW_mem")
def gemm_memory_s(gemm_bytes, hbm_bytes_per_s):
    """Memory time of one GEMM: its bytes at the achieved HBM bandwidth."""
    return gemm_bytes / hbm_bytes_per_s


@formula(S, "roofline: max(T_cal, T_mem)")
def gemm_time_s(gemm_compute_s, gemm_memory_s):
    """Time of one GEMM by the roofline: the longer of compute and memory."""
    return maximum(gemm_compute_s, gemm_memory_s)


@formula("", "seed 002 §1.10: memory-bound when T_mem > T_cal")
def gemm_bound(gemm_compute_s, gemm_memory_s):
    """"memory" when the GEMM's memory time exceeds its compute time, else "compute"."""
    return where(gemm_memory_s > gemm_compute_s, "memory", "compute")


# -------------------------------------------------------------- decode roofline

@formula("sequences", "seed 001 §4.4 / seed 000 §2.3: the batch where decode compute "
         "time reaches memory time")
def decode_critical_batch(batch, decode_compute_s, decode_memory_s, decode_weights_read_bytes,
                          hbm_bytes_per_s):
    """Sequences per decode step at which the step turns compute-bound at this context:
    ``weights time / (compute per sequence − KV time per sequence)``; 0 when it never does
    (each sequence's KV reads take longer than its FLOPs).  Per-sequence parts are taken
    from the step at ``batch`` (exact for dense models; an MoE model's weights read are
    those of ``batch``)."""
    weights = decode_weights_read_bytes / hbm_bytes_per_s
    per_sequence = (decode_compute_s - (decode_memory_s - weights)) / batch
    return where(per_sequence > 0, weights / where(per_sequence > 0, per_sequence, 1), 0)


@formula("", "seed 000 §2.3: 理论上GPU只能发挥 intensity / ridge 的算力")
def decode_compute_utilisation(decode_flops_mla_absorbed, decode_step_s, tp, peak_tflops):
    """Share of the GPUs' dense peak a decode step uses: its FLOPs (as engines run them)
    over ``tp × peak × step time`` (memory-bound: about intensity / ridge)."""
    return decode_flops_mla_absorbed / (decode_step_s * tp * peak_tflops * 1e12)


@formula("FLOP/byte", "seed 001 §4.4: self-attention in decode is ~1:1 FLOPs to bytes")
def decode_attention_intensity(num_heads, attention_head_width, kv_elements_per_token_layer,
                               kv_dtype_bytes, tp):
    """FLOPs per byte of the decode attention itself: a new token's ``2·a·(d_qk + d_v)``
    FLOPs per cached token per layer over that token's K/V bytes (both per GPU)."""
    return 2 * num_heads / tp * attention_head_width / \
        (kv_elements_per_token_layer * kv_dtype_bytes)


# -------------------------------------------------------- element-wise operators

@formula(B, "seed 004: element-wise and reduction operators move (reads + writes) × bytes")
def op_traffic_bytes(op_elements, op_reads, op_writes, dtype_bytes):
    """HBM bytes of one element-wise or reduction operator over ``op_elements`` elements."""
    return op_elements * (op_reads + op_writes) * dtype_bytes


@formula(S, "roofline: an operator far below the ridge takes its bytes / bandwidth")
def op_time_s(op_traffic_bytes, op_elements, op_flops_per_element, peak_tflops, gemm_eff,
              hbm_bytes_per_s):
    """Time of the operator: the longer of its HBM traffic and its arithmetic (at
    ``mfu``, or the family's GEMM plateau when it is not given)."""
    return maximum(op_traffic_bytes / hbm_bytes_per_s,
                   op_elements * op_flops_per_element / (peak_tflops * 1e12 * gemm_eff))


@formula("", "seed 004: element-wise and reduction operators are memory-bound")
def op_bound(op_traffic_bytes, op_elements, op_flops_per_element, peak_tflops, gemm_eff,
             hbm_bytes_per_s):
    """"memory" when the operator's HBM time exceeds its arithmetic time, else "compute"."""
    return where(op_traffic_bytes / hbm_bytes_per_s >
                 op_elements * op_flops_per_element / (peak_tflops * 1e12 * gemm_eff),
                 "memory", "compute")


@formula("FLOP/byte", "seed 004: memory-bound operators sit far below the ridge")
def op_intensity(op_elements, op_flops_per_element, op_traffic_bytes):
    """FLOPs per HBM byte of the operator."""
    return op_elements * op_flops_per_element / op_traffic_bytes


# ------------------------------------------------------ attention: eager vs Flash

@formula("sequence-heads", "batch × heads on one GPU")
def attention_heads_total(batch, num_heads, tp):
    """(sequence, head) pairs one GPU's attention processes."""
    return batch * num_heads / tp


@formula(B, "FlashAttention (Dao et al. 2022) Algorithm 0: read Q, K, S, P, V; write S, P, O")
def attention_eager_hbm_bytes(attention_heads_total, seq_len, head_dim, act_dtype_bytes):
    """HBM bytes of eager attention in one layer: per head Q, K read (2Nd), S written
    and read (2N²), P written and read (2N²), V read and O written (2Nd)."""
    n, d = seq_len, head_dim
    return attention_heads_total * (4 * n * d + 4 * n * n) * act_dtype_bytes


@formula(B, "FlashAttention-2 (Dao 2023) Algorithm 1: Q read once, K and V once per query "
         "block, O and the log-sum-exp written once")
def attention_flash_hbm_bytes(attention_heads_total, seq_len, head_dim, act_dtype_bytes,
                              flash_block_size):
    """HBM bytes of FlashAttention-2's forward pass in one layer: per head Q read and O
    written (2Nd), K and V read ``ceil(N / B_r)`` times (2Nd each time), the fp32
    log-sum-exp written (4N bytes)."""
    n, d = seq_len, head_dim
    blocks = ceil(n / flash_block_size)
    return attention_heads_total * ((2 * n * d + blocks * 2 * n * d) * act_dtype_bytes + 4 * n)


@formula(F, "FlashAttention §3.2: QKᵀ and PV, 2·N²·d each per head (no causal skipping)")
def attention_core_flops(attention_heads_total, seq_len, head_dim):
    """FLOPs of the two attention products in one layer (softmax left out)."""
    return attention_heads_total * 4 * seq_len * seq_len * head_dim


@formula(S, "roofline time of eager attention")
def attention_eager_s(attention_core_flops, attention_eager_hbm_bytes, peak_tflops,
                      attention_compute_eff, hbm_bytes_per_s):
    """max(compute, memory) of eager attention in one layer (compute at ``mfu``, or the
    family's fused-kernel efficiency when it is not given)."""
    return maximum(attention_core_flops / (peak_tflops * 1e12 * attention_compute_eff),
                   attention_eager_hbm_bytes / hbm_bytes_per_s)


@formula(S, "roofline time of FlashAttention-2")
def attention_flash_s(attention_core_flops, attention_flash_hbm_bytes, peak_tflops,
                      attention_compute_eff, hbm_bytes_per_s):
    """max(compute, memory) of FlashAttention-2 in one layer (same FLOPs, less traffic)."""
    return maximum(attention_core_flops / (peak_tflops * 1e12 * attention_compute_eff),
                   attention_flash_hbm_bytes / hbm_bytes_per_s)


@formula("×", "seed 000 §6.1 / seed 004: FlashAttention 2-4× faster")
def flash_attention_speedup(attention_eager_s, attention_flash_s):
    """Speed-up of FlashAttention-2 over eager attention implied by the roofline."""
    return attention_eager_s / attention_flash_s
