"""Step time as a training step runs: compute, the pipeline bubble, communication and
what of it the compute hides, then tokens/s, MFU and the whole run with goodput.

One optimizer step of ``batch`` sequences on dp·tp·pp·cp GPUs, m = ``grad_accum_steps``
micro-batches per replica, on the busiest (first) pipeline stage:

* **compute** — the FLOPs the GPUs execute (Megatron's count with the recomputed forward
  pass, the attention core over the causal half that FlashAttention/sdpa execute — eager
  attention executes the full s×s) ÷ (GPUs × peak × ``compute_eff``).  The projections run
  at the recipe's GEMM peak (fp8 recipes: the fp8 peak), the attention core at its
  attention peak (bf16 for the fp8 recipes, Transformer Engine's default).  The
  memory-bound element-wise kernels add their HBM traffic ÷ (bandwidth × ``train_bw_eff``),
  taken as 4 × the activations each layer produces (6 × with full recomputation).
* **bubble** — 1F1B idles (p − 1)/m of the ideal pipeline time, the interleaved schedule
  (p − 1)/(m·v) (Narayanan et al. 2021 §2.2: bubble fraction (p − 1)/(m·v)).
* **communication** — :mod:`xlcalc.formulas.training_comm`: data-parallel (exposed
  beyond what ``dp_overlap`` of its window hides: the last micro-batch's backward pass
  for DDP and ZeRO-1/2, the whole step for ZeRO-3 / FSDP, whose gathers prefetch),
  tensor-, context-, expert- and pipeline-parallel (``mp_overlap`` of them hidden),
  host offload copies (exposed).
* **step** = compute + bubble + exposed communication; tokens/s per GPU =
  batch·seq_len/(step·GPUs); MFU = the model's FLOPs (Megatron's count, no
  recomputation, full s×s as in Korthikanti et al. 2022 §6) ÷ (step · GPUs · peak).
* **whole run** = tokens/(batch·seq_len) steps × step ÷ ``goodput`` (restarts,
  evaluation, checkpointing: Llama 3 reports more than 90 % effective training time,
  Dubey et al. 2024 §3.3.4).

Default efficiencies: ``compute_eff`` — the GPU family's measured GEMM plateau (8-bit or
16-bit, as the recipe computes) × ``step_compute_share``, the one constant fitted on the
calibration half of the validation rows through this step model
(``tools/fit_engine_calibration.py --training``, ``presets/training/
step_compute_share.json``); the documented ones, not fitted: ``train_bw_eff`` 0.7 (serving
systems reach 60–80 % of spec HBM bandwidth, DESIGN.md); ``dp_overlap`` 1 (DDP and FSDP
overlap by design); ``mp_overlap`` 0 (Megatron's TP/EP overlaps are opt-in);
``goodput`` 0.9.
"""

from __future__ import annotations

from ..expr import maximum, where
from ..glossary import Term, register_terms
from ..graph import derive, formula, lookup_node
from .training_time import train_days, train_gpu_hours

F = "FLOPs"
S = "s"

register_terms(
    Term("compute_eff", "share of the peak the GPU's kernels reach while computing (GEMMs, "
         "attention, element-wise): pipeline bubbles and exposed communication come on top "
         "(default: the GPU family's GEMM plateau × the step share fitted on the calibration "
         "half, step_compute_share)", "", "fraction", sample=(0.4, 0.55, 0.7),
         group="efficiency"),
    Term("dp_overlap", "share of the data-parallel communication window (backward of the "
         "last micro-batch; the whole step for ZeRO-3/FSDP) that hides the gradient "
         "reduction and weight gathers", "", "real", 0, maximum=1, default=1.0,
         sample=(0, 0.5, 1), group="efficiency"),
    Term("mp_overlap", "share of tensor-, context-, expert- and pipeline-parallel "
         "communication hidden behind compute", "", "real", 0, maximum=1, default=0.0,
         sample=(0, 0.5, 1), group="efficiency"),
    Term("train_bw_eff", "share of the HBM bandwidth the memory-bound element-wise kernels of "
         "a training step reach (norms, activations, casts, residual adds)", "", "fraction",
         default=0.7, sample=(0.6, 0.7, 0.8), group="efficiency"),
    Term("goodput", "share of the wall-clock time a run spends on training steps "
         "(restarts, evaluation and checkpoints take the rest; published runs: 0.8-0.9)", "",
         "fraction", default=0.9, sample=(0.8, 0.9, 1.0), group="efficiency"),
)

lookup_node("precision_attn_peak_field", "precisions", "precision", "attn_peak_field", unit="",
            source="precisions table", doc="the accelerator peak the attention core runs at")
lookup_node("train_attn_peak_tflops", "gpus", "gpu", column_key="precision_attn_peak_field",
            unit="TFLOP/s", source="GPU spec sheet",
            doc="dense peak of the accelerator for the recipe's attention",
            required=("precision", "a recipe {key} computes in ({supported})"))


# ---------------------------------------------------------------------------- FLOPs

@formula(F, "Megatron count: the attention core, 2·s·a·(d_qk + d_v) per token per layer "
         "and pass")
def train_step_attn_core_flops(batch, seq_len, num_layers, num_heads, attention_head_width,
                               recompute_extra_forward):
    """Attention-core FLOPs of one step over the full s×s (QKᵀ and attention·V), three
    passes (four with full recomputation)."""
    per_pass = batch * seq_len * num_layers * 2 * seq_len * num_heads * attention_head_width
    return (3 + recompute_extra_forward) * per_pass


@formula("", "FlashAttention/sdpa skip the masked half of a causal s×s; eager computes it")
def train_attn_executed_share(attention_is_eager, seq_len):
    """Share of the full s×s attention core the kernel executes: (s + 1)/(2s) causal
    (flash, sdpa), 1 for eager."""
    return where(attention_is_eager > 0, 1, (seq_len + 1) / (2 * seq_len))


@formula("bytes", "every stored activation is written forward and read backward, its "
         "gradient written and read: 4 × the activations of a layer (6 × with the forward "
         "pass recomputed)")
def train_elementwise_bytes(stack_megatron, stack_hf, act_layer_body_bytes,
                            act_layer_scores_bytes, hf_act_layer_body_bytes,
                            hf_act_scores_bytes, stage_layers, grad_accum_steps,
                            recompute_extra_forward):
    """HBM bytes the memory-bound kernels (norms, activation functions, residual adds,
    casts, dropout) move per step on one GPU, taken as 4 × the activations a layer
    produces (the stack's count, nothing recomputed) × layers × micro-batches."""
    layer = stack_megatron * (act_layer_body_bytes + act_layer_scores_bytes) + \
        stack_hf * (hf_act_layer_body_bytes + hf_act_scores_bytes)
    return (4 + 2 * recompute_extra_forward) * layer * stage_layers * grad_accum_steps


@formula(S, "bytes ÷ (HBM bandwidth × train_bw_eff)")
def train_elementwise_s(train_elementwise_bytes, memory_bandwidth_gb_per_s, train_bw_eff):
    """Seconds per step of the memory-bound element-wise kernels."""
    return train_elementwise_bytes / (memory_bandwidth_gb_per_s * 1e9 * train_bw_eff)


@formula(S, "FLOPs ÷ (GPUs × peak × compute_eff): projections at the GEMM peak, attention "
         "core at the attention peak; plus the element-wise kernels' memory traffic")
def train_compute_s(train_step_flops, train_step_attn_core_flops, train_attn_executed_share,
                    train_world_size, train_peak_tflops, train_attn_peak_tflops, compute_eff,
                    train_elementwise_s):
    """Seconds one GPU computes per step (all its micro-batches, recomputation included)."""
    gemm = train_step_flops - train_step_attn_core_flops
    core = train_step_attn_core_flops * train_attn_executed_share
    rate = train_world_size * compute_eff * 1e12
    return gemm / (rate * train_peak_tflops) + core / (rate * train_attn_peak_tflops) + \
        train_elementwise_s


@formula(S, "Narayanan et al. 2021 §2.2: bubble fraction (p − 1)/(m·v)")
def train_bubble_s(train_compute_s, pp, vp, grad_accum_steps):
    """Seconds the pipeline idles per step: (p − 1)/(m·v) of the compute time, m
    micro-batches, v model chunks per GPU (1F1B: v = 1)."""
    return train_compute_s * (pp - 1) / (grad_accum_steps * vp)


# ---------------------------------------------------------------- what is exposed

@formula(S, "DDP/ZeRO-1/2 reduce during the last backward; ZeRO-3/FSDP gathers prefetch "
         "through the step")
def train_dp_window_s(train_compute_s, grad_accum_steps, zero_stage, recompute_extra_forward):
    """Compute time the data-parallel collectives can hide behind: the backward pass of
    the last micro-batch (2/3 of it, 3/4 with the recomputed forward) for DDP and ZeRO-1/2,
    the whole step for ZeRO-3 / FSDP."""
    backward = (2 + recompute_extra_forward) / (3 + recompute_extra_forward)
    return where(zero_stage >= 3, train_compute_s,
                 train_compute_s / grad_accum_steps * backward)


@formula(S, "what the overlap window does not hide")
def train_dp_exposed_s(train_dp_comm_s, train_dp_window_s, dp_overlap):
    """Data-parallel seconds per step on the critical path."""
    return maximum(train_dp_comm_s - dp_overlap * train_dp_window_s, 0)


@formula(S, "exposed communication: data-parallel beyond its window, the rest × (1 − overlap), "
         "host copies")
def train_exposed_comm_s(train_dp_exposed_s, train_tp_comm_s, train_cp_comm_s, train_ep_comm_s,
                         train_pp_comm_s, mp_overlap, train_offload_s):
    """Seconds per step communication adds to the compute and the bubble."""
    model_parallel = train_tp_comm_s + train_cp_comm_s + train_ep_comm_s + train_pp_comm_s
    return train_dp_exposed_s + (1 - mp_overlap) * model_parallel + train_offload_s


@formula(S, "compute + bubble + exposed communication")
def train_step_s(train_compute_s, train_bubble_s, train_exposed_comm_s):
    """Wall-clock seconds of one optimizer step."""
    return train_compute_s + train_bubble_s + train_exposed_comm_s


# ------------------------------------------------------------------------- rates

@formula("tokens/s", "batch·seq_len / (step · GPUs)")
def train_step_tokens_per_s_per_gpu(batch, seq_len, train_step_s, train_world_size):
    """Training tokens each GPU processes per second."""
    return batch * seq_len / (train_step_s * train_world_size)


@formula("", "Korthikanti et al. 2022 §6: model FLOPs / (time × GPUs × peak)")
def train_step_mfu(megatron_training_flops_glu, train_step_s, train_world_size,
                   train_peak_tflops):
    """Model FLOPs utilisation of the step: Megatron's count without recomputation (full
    s×s) ÷ (seconds × GPUs × the recipe's peak)."""
    return megatron_training_flops_glu / (train_step_s * train_world_size *
                                          train_peak_tflops * 1e12)


@formula("TFLOP/s", "model FLOPs per second per GPU, as Megatron-Bridge's tables report")
def train_step_tflops_per_gpu(megatron_training_flops_glu, train_step_s, train_world_size):
    """Model TFLOP/s per GPU (Megatron's count, full s×s)."""
    return megatron_training_flops_glu / (train_step_s * train_world_size) / 1e12


@formula("steps", "tokens ÷ tokens per step")
def train_steps(tokens, batch, seq_len):
    """Optimizer steps to train on ``tokens`` tokens."""
    return tokens / (batch * seq_len)


@formula(S, "steps × step time ÷ goodput")
def train_run_s(train_steps, train_step_s, goodput):
    """Wall-clock seconds of the whole run, restarts and evaluation included."""
    return train_steps * train_step_s / goodput


derive("train_run_days", train_days, "days", "… / 86400",
       doc="Wall-clock days of the whole run.", train_time_s="train_run_s")
derive("train_run_gpu_hours", train_gpu_hours, "GPU-hours", "GPUs × hours of the run",
       doc="GPU-hours of the whole run.", n_gpus="train_world_size",
       train_time_s="train_run_s")
