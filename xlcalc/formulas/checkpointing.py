"""Activation checkpointing: √N segments, what recomputation costs, training vs inference.

Seed ``000_*`` §4.3 ("显存减少: 最多可减少到 √N; 计算增加: 约增加33%") and seed ``002_*``
§1.11 (GPipe: "一次额外的前向计算开销占整个系统计算开销的1/3").  Chen et al. 2016
("Training Deep Nets with Sublinear Memory Cost", arXiv:1604.06174 §4) keep the input of
every ``k``-th layer and recompute one segment of ``k`` layers at a time in the backward
pass: memory ``ceil(L/k)`` layer inputs plus ``k`` layers' full activations, smallest near
``k = √L``, for one extra forward pass.

Layer sizes come from xlcalc's activation model (:mod:`xlcalc.formulas.activations`:
Korthikanti et al. 2022, generalised): a layer's full activations are
``act_layer_body_bytes + act_layer_scores_bytes``, its checkpoint is
``act_layer_input_bytes``.
"""

from ..expr import ceil, sqrt
from ..graph import derive, formula
from .activations import act_layer_scores_bytes

B = "bytes"


@formula("layers", "Chen et al. 2016 §4: segments of √L layers")
def checkpoint_segment_layers(stage_layers):
    """Layers per checkpointed segment: ``ceil(√L)`` of the stage's layers."""
    return ceil(sqrt(stage_layers))


@formula(B, "Chen et al. 2016 §4: ceil(L/k) checkpoints + one segment of k layers")
def sqrt_checkpoint_activation_bytes(stage_layers, checkpoint_segment_layers,
                                     act_layer_input_bytes, act_layer_body_bytes,
                                     act_layer_scores_bytes):
    """Activation bytes of the stage's layers for one micro-batch with √N checkpointing:
    every segment's input kept, one segment's full activations live during its backward."""
    k = checkpoint_segment_layers
    return ceil(stage_layers / k) * act_layer_input_bytes + \
        k * (act_layer_body_bytes + act_layer_scores_bytes)


@formula("", "seed 000 §4.3: 显存减少: 最多可减少到 √N")
def sqrt_checkpoint_memory_ratio(sqrt_checkpoint_activation_bytes, stage_layers,
                                 act_layer_body_bytes, act_layer_scores_bytes):
    """√N checkpointing's layer activations over storing every layer's (no recomputation)."""
    return sqrt_checkpoint_activation_bytes / \
        (stage_layers * (act_layer_body_bytes + act_layer_scores_bytes))


@formula("", "seed 000 §4.3: 计算增加: 约增加33% (one extra forward on top of 3 passes)")
def recompute_extra_flops_fraction(training_flops, training_flops_recompute):
    """FLOPs full recomputation (or √N checkpointing) adds over a step without it."""
    return training_flops_recompute / training_flops - 1


@formula("", "seed 002 §1.11 (GPipe): the extra forward's share of the recomputing step")
def recompute_flops_share(training_flops, training_flops_recompute):
    """Share of a recomputing step's FLOPs that is the repeated forward pass."""
    return 1 - training_flops / training_flops_recompute


@formula("", "seed 001 §1.3: 训练需要的显存是同样规模推理的3-4倍")
def train_infer_memory_ratio(train_total_bytes, infer_total_bytes):
    """Training memory per GPU over inference memory per GPU for the same model."""
    return train_total_bytes / infer_total_bytes


derive("act_layer_scores_eager_bytes", act_layer_scores_bytes, B,
       "Korthikanti et al. 2022 §4.1: 5as²b with eager attention (fp16, dropout)",
       doc="Attention-core activations of one layer with eager attention (the s×s scores, "
           "softmax output and dropout mask kept).", attention_is_eager=1)
derive("act_layer_scores_flash_bytes", act_layer_scores_bytes, B,
       "FlashAttention keeps the log-sum-exp instead of the s×s scores",
       doc="Attention-core activations of one layer with FlashAttention (4 bytes of "
           "log-sum-exp per head and token).", attention_is_eager=0)


@formula("×", "seed 004: FlashAttention 节约10倍以上内存; seed 000 §6.1: O(S²) → O(S)")
def flash_activation_saving(act_layer_body_bytes, act_layer_scores_eager_bytes,
                            act_layer_scores_flash_bytes):
    """A layer's stored activations with eager attention over those with FlashAttention."""
    return (act_layer_body_bytes + act_layer_scores_eager_bytes) / \
        (act_layer_body_bytes + act_layer_scores_flash_bytes)
