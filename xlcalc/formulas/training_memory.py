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
with the most memory.

Expert parallelism (Megatron-Core MoE): the routed experts are spread over ``ep`` ranks
and split over ``etp`` expert-tensor-parallel ranks (default ``tp``); the GPUs of a
pipeline stage (tp·cp·dp = etp·ep·edp) shard the experts' states over the edp =
tp·cp·dp/(etp·ep) expert-data-parallel ranks, the other parameters' over dp·cp (Megatron's
distributed optimizer shards over the data- and context-parallel ranks).  HSDP
(``dp_shard`` < ``dp``): ZeRO/FSDP shards over groups of ``dp_shard`` replicas and
replicates across the dp/dp_shard groups (PyTorch ``HYBRID_SHARD``, torchtitan's
``data_parallel_shard_degree``).  Offload (``offload``, table ``offload``): ZeRO-Offload
keeps the master weights, optimizer states and gradients of the GPU's partition in host
memory; ZeRO-Infinity / FSDP ``CPUOffload`` the weights too.  Fine-tuning (``finetune``,
:mod:`xlcalc.formulas.training_finetune`): LoRA/QLoRA freeze the base and add adapters.
Norm weights, which Megatron replicates on every tensor-parallel rank, are divided like the
rest (a few kB per layer).

The per-GPU total adds the activations (:mod:`xlcalc.formulas.activations`) and a reserve
for the CUDA context, NCCL buffers and allocator fragmentation (``train_reserve_bytes``,
2 GB by default; seed ``000_*`` §4.2 budgets 10-20 GB of temporary buffers for 70 B).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..expr import ceil, eq, maximum, where
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
register_table("offload_modes", lambda: load_training_table("offload.json", "offload"),
               "offload", "what ZeRO/FSDP offloads to host memory (presets/training/offload.json)")

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
    Term("etp", "expert-tensor-parallel degree: GPUs each routed expert is split across "
         "(Megatron-Core; default tp)", "GPUs", "int", 1, sample=(1, 2), maximum=65536),
    Term("dp_shard", "GPUs a ZeRO/FSDP group shards the model states over (HSDP: shard "
         "within dp_shard replicas, replicate across dp/dp_shard; default dp)", "GPUs", "int",
         1, sample=(1, 8), maximum=1e7,
         relations=(("dp", lambda v, o: eq(o % v, 0), "a divisor of {other}={other_value}"),)),
    Term("offload", "model states kept in host memory: none, optimizer (ZeRO-Offload: master "
         "weights, optimizer states, gradients) or optimizer+params (ZeRO-Infinity / FSDP "
         "CPUOffload)", "", "choice", table="offload_modes", default="none"),
)

_O = "offload table"
lookup_node("offload_states", "offload_modes", "offload", "states_on_host", source=_O,
            doc="1 when master weights and optimizer states live in host memory")
lookup_node("offload_grads", "offload_modes", "offload", "grads_on_host", source=_O,
            doc="1 when the gradient partition lives in host memory")
lookup_node("offload_params", "offload_modes", "offload", "params_on_host", source=_O,
            doc="1 when the weights live in host memory between layers")

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
lookup_node("precision_weight_cache_bytes", "precisions", "precision", "weight_cache_bytes",
            unit=B, source=_R, doc="bytes per parameter of cached low-precision weight copies "
            "(fp8 recipes: rowwise and columnwise fp8)")
lookup_node("precision_gemm_input_bytes", "precisions", "precision", "gemm_input_bytes", unit=B,
            source=_R, doc="bytes per element of a projection's input kept for backward "
            "(fp8 recipes: the quantised copy)")
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


@formula("GPUs", "Megatron-Core: expert tensor parallelism defaults to tp", input_default=True)
def etp(tp):
    """Expert-tensor-parallel degree when not given: the tensor-parallel degree."""
    return tp


@formula("GPUs", "default: ZeRO/FSDP shards over every data-parallel rank", input_default=True)
def dp_shard(dp):
    """Sharding group when not given: all dp replicas (no HSDP replication)."""
    return dp


@formula("GPUs", "Megatron-Core: tp·cp·dp = etp·ep·edp on every pipeline stage")
def train_expert_ranks(tp, cp, dp, etp):
    """GPUs of a pipeline stage per expert-tensor-parallel group, tp·cp·dp/etp: what the
    expert-parallel degree must divide."""
    return tp * cp * dp / etp


@formula(P, "routed experts of the first stage's layers (MoE layers averaged over the stack)")
def train_expert_params_stage(stage_layers, num_layers, num_dense_layers, num_experts,
                              params_expert):
    """Routed-expert parameters on the first pipeline stage (0 for a dense model)."""
    return stage_layers * (num_layers - num_dense_layers) / num_layers * num_experts * \
        params_expert


@formula(P, "Megatron tensor parallelism splits every matrix (vocab-parallel embedding too)")
def train_dense_params_per_gpu(train_params_first_stage, train_expert_params_stage, tp):
    """Parameters other than routed experts one GPU of the first stage holds before ZeRO
    sharding: ÷ tp."""
    return (train_params_first_stage - train_expert_params_stage) / tp


@formula(P, "Megatron-Core MoE: experts ÷ ep (expert parallelism) ÷ etp (expert TP)")
def train_expert_params_per_gpu(train_expert_params_stage, ep, etp):
    """Routed-expert parameters one GPU of the first stage holds before ZeRO sharding."""
    return train_expert_params_stage / (ep * etp)


@formula(P, "dense part ÷ tp plus experts ÷ (ep·etp)")
def train_params_per_gpu(train_dense_params_per_gpu, train_expert_params_per_gpu):
    """Parameters one GPU of the first pipeline stage holds before ZeRO sharding."""
    return train_dense_params_per_gpu + train_expert_params_per_gpu


@formula("GPUs", "Megatron distributed optimizer: data- and context-parallel ranks; HSDP: "
         "the shard group")
def train_shard_group(dp_shard, cp):
    """Ranks ZeRO/FSDP shards the non-expert model states over: dp_shard·cp."""
    return dp_shard * cp


@formula("GPUs", "Megatron-Core: expert data parallelism edp = tp·cp·dp/(etp·ep)")
def train_expert_shard_group(train_shard_group, tp, ep, etp):
    """Ranks ZeRO shards the routed experts' states over: tp·cp·dp_shard/(etp·ep), at
    least 1."""
    return maximum(train_shard_group * tp / (ep * etp), 1)


# -------------------------------------------------------------------- model states

@formula(B, "optimizers table; Adafactor's factored moment ≈ 8/h bytes per parameter")
def optimizer_bytes_per_param(optimizer_state_bytes, optimizer_factored_bytes, hidden_size):
    """Optimizer-state bytes per trainable parameter: dense states plus a factored
    moment's row and column accumulators, taken as (r + c)·4/(r·c) with r = c = h."""
    return optimizer_state_bytes + optimizer_factored_bytes / hidden_size


def _sharded(zero_stage, stage, total, expert, group, expert_group):
    """Parameters of one GPU after ZeRO: the routed experts and the rest each ÷ its shard
    group when the stage in effect shards this kind of state, else as is."""
    on = zero_stage >= stage
    return (total - expert) / where(on, group, 1) + expert / where(on, expert_group, 1)


@formula(P, "ZeRO §5: what one GPU keeps of the weights, gradients, optimizer states")
def train_params_sharded_1(zero_stage, train_params_per_gpu, train_expert_params_per_gpu,
                           train_shard_group, train_expert_shard_group):
    """Parameters whose optimizer states and master weights one GPU keeps (÷ the shard
    groups from ZeRO-1 on)."""
    return _sharded(zero_stage, 1, train_params_per_gpu, train_expert_params_per_gpu,
                    train_shard_group, train_expert_shard_group)


@formula(P, "ZeRO §5.2: gradients sharded from stage 2 on")
def train_params_sharded_2(zero_stage, train_params_per_gpu, train_expert_params_per_gpu,
                           train_shard_group, train_expert_shard_group):
    """Parameters whose gradients one GPU keeps (÷ the shard groups from ZeRO-2 on)."""
    return _sharded(zero_stage, 2, train_params_per_gpu, train_expert_params_per_gpu,
                    train_shard_group, train_expert_shard_group)


@formula(P, "ZeRO §5.3: weights sharded at stage 3 (FSDP FULL_SHARD)")
def train_params_sharded_3(zero_stage, train_params_per_gpu, train_expert_params_per_gpu,
                           train_shard_group, train_expert_shard_group):
    """Parameters whose weights one GPU keeps (÷ the shard groups at ZeRO-3)."""
    return _sharded(zero_stage, 3, train_params_per_gpu, train_expert_params_per_gpu,
                    train_shard_group, train_expert_shard_group)


@formula(B, "seed 000 §四 4.2 (BF16: 70B × 2); ZeRO §5.3; QLoRA's nf4 base; offload")
def train_weights_host_and_gpu_bytes(train_params_sharded_3, precision_weight_bytes,
                                     precision_weight_cache_bytes, finetune_base_quantized,
                                     finetune_quant_bytes, train_linear_fraction):
    """Base weights of one GPU's ZeRO-3 partition wherever they live: parameters × the
    recipe's bytes (plus an fp8 recipe's cached fp8 copies), QLoRA's linear layers at
    its 4-bit bytes instead."""
    full = precision_weight_bytes + precision_weight_cache_bytes
    quant = finetune_base_quantized * train_linear_fraction * (full - finetune_quant_bytes)
    return train_params_sharded_3 * (full - quant)


@formula(B, "offload table: ZeRO-Infinity / FSDP CPUOffload keep the weights on the host")
def train_weights_bytes(train_weights_host_and_gpu_bytes, offload_params):
    """Working weights on one GPU (0 when offloaded: the layer being computed is fetched,
    a transient the reserve covers)."""
    return train_weights_host_and_gpu_bytes * (1 - offload_params)


def _trainable_on_gpu(sharded_base, trainable_fraction, finetune_base_trainable, adapters,
                      zero_stage, shard_group, from_stage):
    """Trained base parameters of a ZeRO partition plus the LoRA adapters, these split over
    the shard group from ZeRO stage ``from_stage`` on."""
    adapters = adapters / where(zero_stage >= from_stage, shard_group, 1)
    return sharded_base * trainable_fraction * finetune_base_trainable + adapters


@formula(P, "trainable parameters: the base (full fine-tuning) and LoRA adapters")
def train_trainable_sharded_1(train_params_sharded_1, trainable_fraction,
                              finetune_base_trainable, train_adapter_params_per_gpu, zero_stage,
                              train_shard_group):
    """Trainable parameters whose optimizer states one GPU keeps (÷ shard group from
    ZeRO-1)."""
    return _trainable_on_gpu(train_params_sharded_1, trainable_fraction,
                             finetune_base_trainable, train_adapter_params_per_gpu, zero_stage,
                             train_shard_group, 1)


@formula(P, "trainable parameters whose gradients one GPU keeps")
def train_trainable_sharded_2(train_params_sharded_2, trainable_fraction,
                              finetune_base_trainable, train_adapter_params_per_gpu, zero_stage,
                              train_shard_group):
    """Trainable parameters whose gradients one GPU keeps (÷ shard group from ZeRO-2)."""
    return _trainable_on_gpu(train_params_sharded_2, trainable_fraction,
                             finetune_base_trainable, train_adapter_params_per_gpu, zero_stage,
                             train_shard_group, 2)


@formula(B, "LoRA adapters in the recipe's weight dtype, sharded like the weights")
def train_adapter_bytes(train_adapter_params_per_gpu, precision_weight_bytes, zero_stage,
                        train_shard_group, offload_params):
    """Adapter weights on one GPU (0 without adapters)."""
    shards = where(zero_stage >= 3, train_shard_group, 1)
    return train_adapter_params_per_gpu * precision_weight_bytes / shards * (1 - offload_params)


@formula(B, "seed 000 §七 example 2 (FP32 master 7B × 4); ZeRO §5.1 (stage 1 shards it)")
def train_master_weights_bytes(train_trainable_sharded_1, precision_master_bytes,
                               offload_states):
    """fp32 master copy of the trainable parameters on one GPU, ÷ the shard group from
    ZeRO-1 on (0 when offloaded)."""
    return train_trainable_sharded_1 * precision_master_bytes * (1 - offload_states)


@formula(B, "seed 000 §四 4.2 (gradients = parameters × bytes); ZeRO §5.2 (stage 2)")
def train_gradients_bytes(train_trainable_sharded_2, precision_grad_bytes, offload_grads):
    """Gradients of the trainable parameters on one GPU, ÷ the shard group from ZeRO-2 on
    (0 when offloaded)."""
    return train_trainable_sharded_2 * precision_grad_bytes * (1 - offload_grads)


@formula(B, "seed 000 §3.4 (AdamW: 2 × parameters × 4 bytes); ZeRO §5.1 (stage 1)")
def train_optimizer_bytes(train_trainable_sharded_1, optimizer_bytes_per_param, offload_states):
    """Optimizer states of the trainable parameters on one GPU, ÷ the shard group from
    ZeRO-1 on (0 when offloaded)."""
    return train_trainable_sharded_1 * optimizer_bytes_per_param * (1 - offload_states)


@formula(B, "ZeRO-Offload §4 / ZeRO-Infinity §5: what lives in host memory per GPU")
def train_host_bytes(train_weights_host_and_gpu_bytes, train_trainable_sharded_1,
                     train_trainable_sharded_2, precision_master_bytes, precision_grad_bytes,
                     optimizer_bytes_per_param, offload_states, offload_grads, offload_params):
    """Host (CPU) memory one GPU's offloaded model states take: master weights, optimizer
    states, gradients and, with parameter offload, the weights."""
    return offload_states * train_trainable_sharded_1 * (precision_master_bytes +
                                                         optimizer_bytes_per_param) + \
        offload_grads * train_trainable_sharded_2 * precision_grad_bytes + \
        offload_params * train_weights_host_and_gpu_bytes


@formula(B, "host memory per GPU × GPUs per node")
def train_host_bytes_per_node(train_host_bytes, gpus_per_node):
    """Host memory a node needs for its GPUs' offloaded model states."""
    return train_host_bytes * gpus_per_node


@formula(B, "sum of the four model-state parts")
def train_model_state_bytes(train_weights_bytes, train_adapter_bytes, train_master_weights_bytes,
                            train_gradients_bytes, train_optimizer_bytes):
    """Weights, adapters, master weights, gradients and optimizer states on one GPU."""
    return train_weights_bytes + train_adapter_bytes + train_master_weights_bytes + \
        train_gradients_bytes + train_optimizer_bytes


@formula(B, "ZeRO §3.1: (2 + 2 + K)Ψ per model replica")
def train_model_state_bytes_replica(train_params_per_gpu, train_expert_params_per_gpu, ep,
                                    trainable_fraction, finetune_base_trainable,
                                    train_adapter_params_per_gpu, precision_weight_bytes,
                                    precision_weight_cache_bytes, precision_master_bytes,
                                    precision_grad_bytes, optimizer_bytes_per_param,
                                    finetune_base_quantized, finetune_quant_bytes,
                                    train_linear_fraction):
    """Model states of one tensor-parallel slice of the first stage before any ZeRO
    sharding or expert parallelism (what its data-, context- and expert-parallel GPUs
    together hold once when fully sharded)."""
    params = train_params_per_gpu + (ep - 1) * train_expert_params_per_gpu
    trained = precision_master_bytes + precision_grad_bytes + optimizer_bytes_per_param
    full = precision_weight_bytes + precision_weight_cache_bytes
    weight = full - finetune_base_quantized * train_linear_fraction * (full - finetune_quant_bytes)
    return params * (weight + trainable_fraction * finetune_base_trainable * trained) + \
        train_adapter_params_per_gpu * (precision_weight_bytes + trained)


@formula(B, "breakdown first: total = sum of the parts (DESIGN.md principle 6)")
def train_total_bytes(train_weights_bytes, train_adapter_bytes, train_master_weights_bytes,
                      train_gradients_bytes, train_optimizer_bytes, train_activation_bytes,
                      train_reserve_bytes):
    """Training memory on the busiest GPU (first pipeline stage): model states (adapters
    included), activations and the reserve."""
    return train_weights_bytes + train_adapter_bytes + train_master_weights_bytes + \
        train_gradients_bytes + train_optimizer_bytes + train_activation_bytes + \
        train_reserve_bytes


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


@formula("GPUs", "dp × tp × pp × cp (expert parallelism reuses these GPUs)")
def train_world_size(dp, tp, pp, cp):
    """GPUs of the plan."""
    return dp * tp * pp * cp


@formula("GPUs", "seed 000 §四 4.2 generalised: full sharding over data parallelism")
def train_gpus_needed(tp, pp, dp, cp, train_model_state_bytes_replica, train_activation_bytes,
                      train_reserve_bytes, gpu_memory_bytes):
    """Fewest GPUs for this model, precision, optimizer, recomputation, tp and pp when
    the model states are fully sharded over the data- and context-parallel ranks (ZeRO-3
    / FSDP) and the plan's activations (those of its dp·cp GPUs) are spread over them:
    tp · pp · ceil((states + activations · dp · cp) / (memory − reserve)).  A lower bound:
    the batch must still split into that many replicas and ZeRO-3 needs gather buffers."""
    spread = train_model_state_bytes_replica + train_activation_bytes * dp * cp
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
