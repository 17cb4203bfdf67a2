"""Training time and cost: FLOPs ÷ (GPUs × peak × MFU), GPU-hours, dollars, tokens/s.

Seed ``000_*`` §5.3: training FLOPs ≈ 6 × parameters × tokens (forward 2, backward 4);
``time = FLOPs / (GPUs × peak FLOP/s × utilisation)``; 6 × 70 B × 1 T tokens on 1,000
H100 at 990 TFLOP/s and 30 % ≈ 16 days.  Full activation recomputation runs the forward
pass twice: 8ND (seed ``000_*`` §4.3: "+33 %").  The FLOPs formulas themselves live in
:mod:`xlcalc.formulas.flops` (6ND, 8ND, Megatron's per-iteration count); this module
prices them.

``mfu`` here is the share of the dense peak the executed work reaches: with ``recompute
= "full"`` the executed work is 8ND, so the same ``mfu`` gives a third more time (the
model-FLOPs utilisation then is ¾ of ``mfu``).  The peak is the accelerator's dense peak
for the precision recipe's compute type (bf16, fp16 or fp32).  Without an ``mfu`` (0) the
rate is calibrated: the GPU family's GEMM plateau times the training step's end-to-end
share (:func:`~xlcalc.formulas.efficiency.train_mfu`).
"""

from __future__ import annotations

from ..expr import where
from ..glossary import Term, register_terms
from ..graph import derive, formula, lookup_node

F = "FLOPs"
S = "s"

register_terms(
    Term("price_per_gpu_hour", "price of one GPU for one hour (cloud or amortised)", "$/GPU-h",
         "real", 0, sample=(1.0, 2.5, 4.0), group="hardware", maximum=1e6),
    Term("iteration_time_s", "measured wall-clock seconds of one training iteration (one "
         "optimizer step over the global batch)", S, "real", 0, minimum_open=True,
         sample=(1.1, 13.75, 71.49)),
)

lookup_node("precision_peak_field", "precisions", "precision", "peak_field", unit="",
            source="precisions table", doc="the accelerator peak the recipe computes at")
lookup_node("train_peak_tflops", "gpus", "gpu", column_key="precision_peak_field",
            unit="TFLOP/s", source="GPU spec sheet",
            doc="dense peak of the accelerator for the precision recipe's compute",
            required=("precision", "a recipe {key} computes in ({supported})"))


@formula(F, "seed 000 §5.3 (6ND) / §4.3 (recomputation +33 %: 8ND)")
def train_flops(recompute_extra_forward, training_flops_6nd, training_flops_8nd):
    """FLOPs a training run executes on ``tokens`` tokens: 6ND, or 8ND when full
    recomputation repeats the forward pass."""
    return where(recompute_extra_forward > 0, training_flops_8nd, training_flops_6nd)


@formula(F, "Megatron-LM num_floating_point_operations per iteration × iterations")
def train_flops_megatron(recompute_extra_forward, megatron_training_flops_glu,
                         megatron_training_flops_glu_recompute, tokens, batch, seq_len):
    """Training FLOPs by Megatron's per-iteration count (attention s² terms and logits
    included) scaled to ``tokens``: per-iteration FLOPs × tokens / (batch × seq_len)."""
    per_iteration = where(recompute_extra_forward > 0, megatron_training_flops_glu_recompute,
                          megatron_training_flops_glu)
    return per_iteration * tokens / (batch * seq_len)


def _seconds(flops, n_gpus, peak_tflops, mfu):
    """FLOPs ÷ (GPUs × peak × utilisation)."""
    return flops / (n_gpus * peak_tflops * 1e12 * mfu)


@formula(S, "seed 000 §5.3: time = FLOPs / (GPUs × peak × utilisation)")
def train_time_s(train_flops, n_gpus, train_peak_tflops, train_mfu):
    """Wall-clock seconds of the training run on ``n_gpus`` GPUs at ``mfu`` of the peak
    (calibrated when not given)."""
    return _seconds(train_flops, n_gpus, train_peak_tflops, train_mfu)


derive("train_plan_time_s", train_time_s, S, "as train_time_s on the plan's dp × tp × pp GPUs",
       n_gpus="train_world_size")


@formula("days", "seed 000 §5.3: … / 3600 / 24")
def train_days(train_time_s):
    """Wall-clock days of the training run."""
    return train_time_s / 86400


@formula("GPU-hours", "GPUs × hours")
def train_gpu_hours(n_gpus, train_time_s):
    """GPU-hours the run consumes."""
    return n_gpus * train_time_s / 3600


@formula("$", "GPU-hours × price per GPU-hour")
def train_cost(train_gpu_hours, price_per_gpu_hour):
    """Cost of the run at ``price_per_gpu_hour``."""
    return train_gpu_hours * price_per_gpu_hour


@formula("tokens/s", "throughput per GPU = tokens / (time × GPUs)")
def train_tokens_per_s_per_gpu(tokens, train_time_s, n_gpus):
    """Training tokens each GPU processes per second (peak × MFU / (6N), or 8N)."""
    return tokens / (train_time_s * n_gpus)


@formula("tokens", "Hoffmann et al. 2022 (Chinchilla): ≈ 20 tokens per parameter")
def chinchilla_tokens(params_total):
    """Compute-optimal training tokens for the model's size, a reference line."""
    return 20 * params_total


@formula(F, "Megatron-LM per-iteration FLOPs, recomputation included when full")
def train_step_flops(recompute_extra_forward, megatron_training_flops_glu,
                     megatron_training_flops_glu_recompute):
    """FLOPs one iteration (the global batch) executes."""
    return where(recompute_extra_forward > 0, megatron_training_flops_glu_recompute,
                 megatron_training_flops_glu)


@formula(S, "iteration FLOPs / (GPUs × peak × utilisation)")
def train_step_time_s(train_step_flops, n_gpus, train_peak_tflops, train_mfu):
    """Seconds of one iteration over the global batch."""
    return _seconds(train_step_flops, n_gpus, train_peak_tflops, train_mfu)


@formula("", "Korthikanti et al. 2022 §6 / Table 5: model FLOPs / (time × GPUs × peak)")
def train_mfu_measured(megatron_training_flops_glu, iteration_time_s, n_gpus,
                       train_peak_tflops):
    """Model FLOPs utilisation of a measured iteration: the iteration's model FLOPs
    (Megatron's count without recomputation, 72·B·s·L·h²·(1 + s/6h + V/12hL) for a GPT)
    ÷ (seconds × GPUs × peak)."""
    return megatron_training_flops_glu / (iteration_time_s * n_gpus * train_peak_tflops * 1e12)


# --------------------------------------------------------------- the run's wall clock

@formula(S, "Dubey et al. 2024 (Llama 3) §3.3.4: > 90 % effective training time")
def train_wall_s(train_time_s, goodput):
    """Wall-clock seconds of the run at ``mfu``: the training time ÷ ``goodput``
    (restarts, evaluation and checkpoints)."""
    return train_time_s / goodput


# the run's days, GPU-hours and cost: the same formulas as above, on the wall clock
derive("train_wall_days", train_days, "days", "… / 86400",
       doc="Wall-clock days of the run, goodput included.", train_time_s="train_wall_s")
derive("train_wall_gpu_hours", train_gpu_hours, "GPU-hours", "GPUs × wall-clock hours",
       doc="GPU-hours the run holds its GPUs, goodput included.", train_time_s="train_wall_s")
derive("train_wall_cost", train_cost, "$", "GPU-hours × price per GPU-hour",
       doc="Cost of the run, goodput included.", train_gpu_hours="train_wall_gpu_hours")


@formula(F, "steps × the executed FLOPs of one step")
def train_run_flops(train_steps, train_step_flops):
    """FLOPs the run executes (Megatron's count per step, recomputation included)."""
    return train_steps * train_step_flops


derive("train_run_cost", train_cost, "$", "GPU-hours × price per GPU-hour",
       doc="Cost of the run on the step model, goodput included.",
       train_gpu_hours="train_run_gpu_hours")
