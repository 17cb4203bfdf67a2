"""Training memory per GPU: model states by precision recipe and optimizer, sharded by
ZeRO / FSDP over data parallelism and divided by tensor and pipeline parallelism.

Model states are four parts per parameter (seed ``000_*`` §四 4.2, seed ``001_*`` §3.1,
ZeRO §3.1): the working **weights** (bf16/fp16/fp32), the fp32 **master weights**, the
**gradients** and the **optimizer** states.  A precision recipe (table ``precisions``,
``xlcalc/presets/training/precisions.json``) states the bytes per parameter of the first
three; an optimizer (table ``optimizers``) states the fourth.  Frozen parameters (LoRA,
partial fine-tuning: ``trainable_fraction`` < 1) keep their weights but need no master
copy, gradient or optimizer state.

Sharding (Rajbhandari et al. 2020, ZeRO, §5): stage 1 shards the optimizer states and
master weights over the ``dp`` data-parallel ranks, stage 2 also the gradients, stage 3
also the weights.  PyTorch FSDP ``FULL_SHARD`` is stage 3 and ``SHARD_GRAD_OP`` stage 2.
A recipe may imply a stage (the Megatron distributed optimizer is stage 1: ``6 + 12/d``).

Tensor parallelism splits every matrix over ``tp`` ranks; pipeline parallelism gives each
of ``pp`` stages ``ceil(num_layers / pp)`` layers at most (``stage_layers`` of
:mod:`xlcalc.formulas.comm`; uneven stages are allowed, as Megatron's
``--decoder-first-pipeline-num-layers`` and DeepSpeed's partitioner allow), and the first
stage also holds the token embedding (Narayanan et al. 2021), which makes it the stage
with the most memory.  Expert parallelism is not modelled.
Norm weights, which Megatron replicates on every tensor-parallel rank, are divided like the
rest (a few kB per layer).

The per-GPU total adds the activations (:mod:`xlcalc.formulas.activations`) and a reserve
for the CUDA context, NCCL buffers and allocator fragmentation (``train_reserve_bytes``,
2 GB by default; seed ``000_*`` §4.2 budgets 10-20 GB of temporary buffers for 70 B).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..expr import ceil, maximum, where
from ..glossary import Term, register_terms
from ..graph import formula, lookup_node, register_table

B = "bytes"
P = "parameters"
PRESETS = Path(__file__).resolve().parent.parent / "presets" / "training"


def load_training_table(filename: str, key: str):
    """A JSON list of records in ``presets/training`` as a DataFrame indexed by ``name``
    (lower case), the ``key`` name on the index."""
    import pandas as pd
    records = json.loads((PRESETS / filename).read_text(encoding="utf-8"))
    frame = pd.DataFrame.from_records(records).set_index("name")
    frame.index = frame.index.str.lower()
    frame.index.name = key
    return frame


register_table("precisions", lambda: load_training_table("precisions.json", "precision"),
               "precision", "training precision recipes: bytes per parameter of weights, "
               "master weights and gradients (presets/training/precisions.json)")
register_table("optimizers", lambda: load_training_table("optimizers.json", "optimizer"),
               "optimizer", "optimizers: bytes of state per trainable parameter "
               "(presets/training/optimizers.json)")

register_terms(
    Term("precision", "training precision recipe (bytes per parameter of weights, master "
         "weights, gradients)", "", "choice", table="precisions", default="bf16-mixed"),
    Term("optimizer", "optimizer whose states are kept per trainable parameter", "", "choice",
         table="optimizers", default="adamw"),
    Term("zero", "ZeRO stage: 0 none, 1 optimizer states + master weights, 2 + gradients, "
         "3 + weights (FSDP FULL_SHARD = 3), sharded over dp", "", "int", 0, maximum=3,
         default=0, sample=(0, 1, 2, 3)),
    Term("trainable_fraction", "share of the parameters that are trained (1 = full "
         "fine-tuning; LoRA/frozen layers less): only they need master weights, gradients "
         "and optimizer states", "", "fraction", default=1.0, sample=(1.0, 0.5, 0.01)),
    Term("train_reserve_bytes", "per-GPU reserve for the CUDA context, NCCL buffers and "
         "allocator fragmentation during training", B, "real", 0, default=2e9,
         sample=(0.0, 2e9, 15e9), group="efficiency", maximum=1e13),
)

_R = "precisions table"
lookup_node("precision_weight_bytes", "precisions", "precision", "weight_bytes", unit=B,
            source=_R, doc="bytes per parameter of the working weights")
lookup_node("precision_master_bytes", "precisions", "precision", "master_bytes", unit=B,
            source=_R, doc="bytes per trainable parameter of the fp32 master copy")
lookup_node("precision_grad_bytes", "precisions", "precision", "grad_bytes", unit=B,
            source=_R, doc="bytes per trainable parameter of the gradients kept")
lookup_node("precision_grad_comm_bytes", "precisions", "precision", "grad_comm_bytes", unit=B,
            source=_R, doc="bytes per element of the gradients data parallelism reduces")
lookup_node("precision_act_bytes", "precisions", "precision", "act_bytes", unit=B,
            source=_R, doc="bytes per activation element (masks are 1 byte)")
lookup_node("precision_zero_min", "precisions", "precision", "zero_min", unit="",
            source=_R, doc="ZeRO stage the recipe implies (1 for the distributed optimizer)")
lookup_node("optimizer_state_bytes", "optimizers", "optimizer", "state_bytes", unit=B,
            source="optimizers table", doc="bytes of dense state per trainable parameter")
lookup_node("optimizer_factored_bytes", "optimizers", "optimizer", "factored_bytes", unit=B,
            source="optimizers table",
            doc="bytes per row/column accumulator pair of a factored moment (Adafactor)")


# ------------------------------------------------------------------ parameters per GPU

@formula("", "ZeRO stages 0-3; Megatron's distributed optimizer is stage 1")
def zero_stage(zero, precision_zero_min):
    """The ZeRO stage in effect: the one asked for, or the one the recipe implies."""
    return maximum(zero, precision_zero_min)


@formula(P, "the final norm after the last layer (LayerNorm: weight + bias; RMSNorm: weight)")
def params_final_norm(hidden_size, norm_bias):
    """Parameters of the final normalisation."""
    return hidden_size * (1 + norm_bias)


@formula(P, "non-embedding parameters without the final norm, per layer")
def params_per_layer_avg(params_non_embedding, params_final_norm, num_layers):
    """Parameters of one decoder layer, averaged over the layers (dense and MoE layers
    differ in MoE models)."""
    return (params_non_embedding - params_final_norm) / num_layers


@formula(P, "Narayanan et al. 2021: the first stage holds the embedding; the last the head")
def train_params_first_stage(params_embedding, stage_layers, params_per_layer_avg,
                             params_final_norm, params_lm_head, pp):
    """Parameters on the first pipeline stage: the embedding and its layers, and with no
    pipeline (pp = 1) the final norm and LM head too (then it is the whole model)."""
    return params_embedding + stage_layers * params_per_layer_avg + \
        where(pp > 1, 0, params_final_norm + params_lm_head)


@formula(P, "Megatron tensor parallelism splits every matrix (vocab-parallel embedding too)")
def train_params_per_gpu(train_params_first_stage, tp):
    """Parameters one GPU of the first pipeline stage holds before ZeRO sharding."""
    return train_params_first_stage / tp


# -------------------------------------------------------------------- model states

@formula(B, "optimizers table; Adafactor's factored moment ≈ 8/h bytes per parameter")
def optimizer_bytes_per_param(optimizer_state_bytes, optimizer_factored_bytes, hidden_size):
    """Optimizer-state bytes per trainable parameter: dense states plus a factored
    moment's row and column accumulators, taken as (r + c)·4/(r·c) with r = c = h."""
    return optimizer_state_bytes + optimizer_factored_bytes / hidden_size


def _shards(zero_stage, stage, dp):
    """dp when the ZeRO stage in effect shards this part, else 1."""
    return where(zero_stage >= stage, dp, 1)


@formula(B, "seed 000 §四 4.2 (BF16: 70B × 2); ZeRO §5.3 (stage 3 shards the weights)")
def train_weights_bytes(train_params_per_gpu, precision_weight_bytes, zero_stage, dp):
    """Working weights on one GPU: parameters × bytes, ÷ dp under ZeRO-3 / FSDP."""
    return train_params_per_gpu * precision_weight_bytes / _shards(zero_stage, 3, dp)


@formula(B, "seed 000 §七 example 2 (FP32 master 7B × 4); ZeRO §5.1 (stage 1 shards it)")
def train_master_weights_bytes(train_params_per_gpu, trainable_fraction, precision_master_bytes,
                               zero_stage, dp):
    """fp32 master copy of the trainable parameters on one GPU, ÷ dp from ZeRO-1 on."""
    return train_params_per_gpu * trainable_fraction * precision_master_bytes / \
        _shards(zero_stage, 1, dp)


@formula(B, "seed 000 §四 4.2 (gradients = parameters × bytes); ZeRO §5.2 (stage 2)")
def train_gradients_bytes(train_params_per_gpu, trainable_fraction, precision_grad_bytes,
                          zero_stage, dp):
    """Gradients of the trainable parameters on one GPU, ÷ dp from ZeRO-2 on."""
    return train_params_per_gpu * trainable_fraction * precision_grad_bytes / \
        _shards(zero_stage, 2, dp)


@formula(B, "seed 000 §3.4 (AdamW: 2 × parameters × 4 bytes); ZeRO §5.1 (stage 1)")
def train_optimizer_bytes(train_params_per_gpu, trainable_fraction, optimizer_bytes_per_param,
                          zero_stage, dp):
    """Optimizer states of the trainable parameters on one GPU, ÷ dp from ZeRO-1 on."""
    return train_params_per_gpu * trainable_fraction * optimizer_bytes_per_param / \
        _shards(zero_stage, 1, dp)


@formula(B, "sum of the four model-state parts")
def train_model_state_bytes(train_weights_bytes, train_master_weights_bytes,
                            train_gradients_bytes, train_optimizer_bytes):
    """Weights, master weights, gradients and optimizer states on one GPU."""
    return train_weights_bytes + train_master_weights_bytes + train_gradients_bytes + \
        train_optimizer_bytes


@formula(B, "ZeRO §3.1: (2 + 2 + K)Ψ per model replica")
def train_model_state_bytes_replica(train_params_per_gpu, trainable_fraction,
                                    precision_weight_bytes, precision_master_bytes,
                                    precision_grad_bytes, optimizer_bytes_per_param):
    """Model states of one model-parallel rank before any ZeRO sharding (what all dp
    replicas together hold once, when fully sharded)."""
    trained = precision_master_bytes + precision_grad_bytes + optimizer_bytes_per_param
    return train_params_per_gpu * (precision_weight_bytes + trainable_fraction * trained)


@formula(B, "breakdown first: total = sum of the parts (DESIGN.md principle 6)")
def train_total_bytes(train_weights_bytes, train_master_weights_bytes, train_gradients_bytes,
                      train_optimizer_bytes, train_activation_bytes, train_reserve_bytes):
    """Training memory on the busiest GPU (first pipeline stage): model states,
    activations and the reserve."""
    return train_weights_bytes + train_master_weights_bytes + train_gradients_bytes + \
        train_optimizer_bytes + train_activation_bytes + train_reserve_bytes


# ------------------------------------------------------------------------------- fit

@formula("", "a plan that does not fit is a result (DESIGN.md principle 9)")
def train_fits(train_total_bytes, gpu_memory_bytes):
    """True when the per-GPU training memory fits in the accelerator."""
    return train_total_bytes <= gpu_memory_bytes


@formula(B, "memory left on the GPU (negative: over by this much)")
def train_headroom_bytes(train_total_bytes, gpu_memory_bytes):
    """GPU memory minus training memory per GPU."""
    return gpu_memory_bytes - train_total_bytes


@formula("", "training memory as a share of the GPU's memory")
def train_memory_share(train_total_bytes, gpu_memory_bytes):
    """Per-GPU training memory ÷ GPU memory (above 1: does not fit)."""
    return train_total_bytes / gpu_memory_bytes


@formula("GPUs", "dp × tp × pp")
def train_world_size(dp, tp, pp):
    """GPUs of the plan."""
    return dp * tp * pp


@formula("GPUs", "seed 000 §四 4.2 generalised: full sharding over data parallelism")
def train_gpus_needed(tp, pp, dp, train_model_state_bytes_replica, train_activation_bytes,
                      train_reserve_bytes, gpu_memory_bytes):
    """Fewest GPUs for this model, precision, optimizer, recomputation, tp and pp when
    the model states are fully sharded over the data-parallel ranks (ZeRO-3 / FSDP) and
    the plan's activations (those of its dp replicas) are spread over them:
    tp · pp · ceil((states + activations · dp) / (memory − reserve)).  A lower bound:
    the batch must still split into that many replicas and ZeRO-3 needs gather buffers."""
    spread = train_model_state_bytes_replica + train_activation_bytes * dp
    return tp * pp * ceil(spread / maximum(gpu_memory_bytes - train_reserve_bytes, 1))


@formula("GPUs", "seed 000 §四 4.2: 1365/80 ≈ 18 H100 (total ÷ memory, rounded up)")
def train_gpus_seed_rule(train_total_bytes, gpu_memory_bytes):
    """The seeds' rule: per-GPU training memory of the plan ÷ GPU memory, rounded up."""
    return ceil(train_total_bytes / gpu_memory_bytes)


@formula(B, "seed 003 §5.3: memory_model + 2 × memory_activations + memory_optimizer")
def train_memory_seed_003(train_weights_bytes, train_activation_bytes, train_optimizer_bytes):
    """Seed 003's total, which counts gradients as a second copy of the activations
    ("the number of gradients equals the number of intermediate values") instead of one
    per trainable parameter, and omits master weights."""
    return train_weights_bytes + 2 * train_activation_bytes + train_optimizer_bytes
