"""Training subcommands of the ``xlcalc`` command line (registered with
:func:`xlcalc.cli.command`; :mod:`xlcalc.cli` imports this module when it exists).

``train-mem``   memory per GPU by part, fits/headroom with ``--gpu``
``train-fit``   the best plans that fit, searched over every parallelism axis
``train-step``  one optimizer step: compute, bubble, communication, tokens/s, MFU
``train-time``  FLOPs, days, GPU-hours, cost, tokens/s per GPU
``train-comm``  DP/TP/PP/CP/EP bytes and seconds per optimizer step

Memory is shown in ``--unit`` (GB = 1e9 bytes by default); ``--json`` prints JSON.
"""

from __future__ import annotations

import argparse

from .cli import _number, command, verdict

_INT = (lambda text: _number(text, int))


def _ints(text):
    """``4`` or ``1,2,4``: one value or a list (the fit search's axes)."""
    values = [_number(t, int) for t in text.split(",") if t.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"not a number or a list: {text!r}")
    return values[0] if len(values) == 1 else values


def _words(text):
    values = [t.strip() for t in text.split(",") if t.strip()]
    return values[0] if len(values) == 1 else values


def _model_workload(p, batch_required=True):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--batch", type=_INT, required=batch_required,
                   help="global batch in sequences (split over --dp)")
    p.add_argument("--seq-len", type=_INT, required=batch_required, help="tokens per sequence")


def _recipe_options(p):
    p.add_argument("--precision", default="bf16-mixed",
                   help="fp32, fp16-mixed, bf16-mixed, megatron-distopt, fp8-delayed, "
                        "fp8-current, fp8-block, mxfp8 (default bf16-mixed)")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw, adamw-bf16, adam, sgd, sgd-momentum, adam-8bit, adafactor, lion "
                        "(default adamw)")


def _stack_options(p):
    p.add_argument("--stack", default=None,
                   help="megatron (Megatron-LM/Transformer Engine, default) or hf "
                        "(transformers' modules)")
    p.add_argument("--attention", default=None, help="flash (default), sdpa or eager")
    p.add_argument("--sequence-parallel", action="store_true",
                   help="Megatron sequence parallelism (norm/dropout activations ÷ tp)")
    p.add_argument("--dropout", action="store_true", help="the model trains with dropout")
    p.add_argument("--vp", type=_INT, default=None,
                   help="model chunks per GPU of the interleaved pipeline (default 1)")
    p.add_argument("--etp", type=_INT, default=None,
                   help="expert-tensor-parallel degree (default --tp)")
    p.add_argument("--dp-shard", type=_INT, default=None,
                   help="HSDP: GPUs the model states are sharded over (default --dp)")
    p.add_argument("--offload", default=None,
                   help="none (default), optimizer (ZeRO-Offload), optimizer+params")
    p.add_argument("--finetune", default=None, help="full (default), lora, qlora")
    p.add_argument("--lora-rank", type=_INT, default=None, help="LoRA rank (default 16)")
    p.add_argument("--lora-targets", default=None,
                   help="qv, attention, all-linear (default all-linear)")
    p.add_argument("--trainable-fraction", type=_number, default=None,
                   help="share of the base parameters trained (default 1)")
    p.add_argument("--reserve-gb", type=_number, default=None,
                   help="per-GPU reserve in GB (default 2)")
    p.add_argument("--activation-rule", default=None,
                   help="activation estimate: korthikanti (default; the source tutorials' "
                        "rules of thumb are shown in their worked examples)")


def _options(args) -> dict:
    """The keyword-only switches given on the command line (None: the glossary default)."""
    given = dict(
        stack=args.stack, attention=args.attention,
        sequence_parallel=1 if args.sequence_parallel else None,
        dropout=1 if args.dropout else None, vp=args.vp, etp=args.etp, dp_shard=args.dp_shard,
        offload=args.offload, finetune=args.finetune, lora_rank=args.lora_rank,
        lora_targets=args.lora_targets, trainable_fraction=args.trainable_fraction,
        train_reserve_bytes=None if args.reserve_gb is None else args.reserve_gb * 1e9,
        activation_rule=args.activation_rule)
    return {k: v for k, v in given.items() if v is not None}


_BYTES = ("weights", "adapters", "master_weights", "gradients", "optimizer", "activations",
          "reserve", "total", "gpu_memory", "headroom", "host", "host_per_node")


def _setup_mem(p):
    _model_workload(p)
    p.add_argument("--gpu", help="accelerator preset (adds fits/headroom)")
    _recipe_options(p)
    p.add_argument("--zero", type=_INT, default=0, help="ZeRO stage 0-3 (FSDP = 3; default 0)")
    p.add_argument("--dp", type=_INT, default=1, help="data-parallel degree (default 1)")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--pp", type=_INT, default=1, help="pipeline-parallel degree (default 1)")
    p.add_argument("--cp", type=_INT, default=None, help="context-parallel degree (default 1)")
    p.add_argument("--ep", type=_INT, default=None, help="expert-parallel degree (default 1)")
    p.add_argument("--recompute", default="none", help="none, selective, full (default none)")
    p.add_argument("--micro-batch", type=_INT, default=None,
                   help="sequences per micro-batch (default: batch / dp, no accumulation)")
    _stack_options(p)
    p.add_argument("--unit", default="GB", help="memory unit (default GB = 1e9 bytes)")


def _in_unit(series_or_frame, unit):
    from .units import to_unit
    for column in _BYTES:
        if column in series_or_frame:
            series_or_frame[column] = to_unit(series_or_frame[column], unit)
    return series_or_frame


@command("train-mem", "training memory per GPU by part (weights, adapters, master weights, "
         "gradients, optimizer, activations, reserve)", _setup_mem)
def cmd_train_mem(args):
    import pandas as pd
    from .training import train_memory
    from .units import to_unit, unit_factor
    unit_factor(args.unit)
    extra = {k: v for k, v in dict(cp=args.cp, ep=args.ep).items() if v is not None}
    s = train_memory(args.model, args.batch, args.seq_len, args.precision, args.optimizer,
                     args.zero, args.dp, args.tp, args.pp, args.recompute, args.gpu,
                     args.micro_batch, **extra, **_options(args))
    head = {"model": args.model, "batch": args.batch, "seq_len": args.seq_len,
            "precision": args.precision, "optimizer": args.optimizer, "zero": args.zero,
            "dp": args.dp, "tp": args.tp, "pp": args.pp, "recompute": args.recompute}
    body = {f"{k}_{args.unit}" if k in _BYTES else k: to_unit(v, args.unit) if k in _BYTES
            else v for k, v in s.items()}
    result = pd.Series({**head, **body}, name="training memory per GPU")
    if "fits" not in s:
        return result                      # no --gpu: nothing to fit against
    from .cli_serving import memory_verdict
    return memory_verdict(result, bool(s["fits"]), s["total"], s["gpu_memory"], s["headroom"],
                          args.unit, usable="")


def _setup_fit(p):
    _model_workload(p)
    p.add_argument("--gpu", required=True, help="accelerator preset")
    _recipe_options(p)
    for axis, what in (("tp", "tensor-parallel degrees"), ("pp", "pipeline stages"),
                       ("cp", "context-parallel degrees"), ("ep", "expert-parallel degrees"),
                       ("dp", "data-parallel degrees"), ("micro-batch", "micro-batch sizes"),
                       ("zero", "ZeRO stages")):
        p.add_argument(f"--{axis}", type=_ints, default=None,
                       help=f"{what}: one value or a comma list (default: searched)")
    p.add_argument("--recompute", type=_words, default=None,
                   help="none, selective, full or a comma list (default: all three)")
    p.add_argument("--n-gpus", type=_INT, default=None, help="exactly this many GPUs")
    p.add_argument("--max-gpus", type=_INT, default=None, help="at most this many GPUs")
    p.add_argument("--top", type=_INT, default=5, help="plans to show (default 5)")
    _stack_options(p)
    p.add_argument("--unit", default="GB", help="memory unit (default GB = 1e9 bytes)")


@command("train-fit", "the best plans that fit, by step time, searched over tp, pp, cp, ep, "
         "dp, micro-batch, ZeRO and recomputation", _setup_fit)
def cmd_train_fit(args):
    from .training_plan import train_fit_search
    from .units import unit_factor
    unit_factor(args.unit)
    axes = {k: v for k, v in dict(tp=args.tp, pp=args.pp, cp=args.cp, ep=args.ep, dp=args.dp,
                                  micro_batch=args.micro_batch, zero=args.zero,
                                  recompute=args.recompute).items() if v is not None}
    table = train_fit_search(args.model, args.batch, args.seq_len, args.gpu, args.precision,
                             args.optimizer, n_gpus=args.n_gpus, max_gpus=args.max_gpus,
                             top=args.top, **axes, **_options(args))
    table = _in_unit(table, args.unit)
    fitting = table[table["fits"].astype(bool)] if "fits" in table else table.iloc[:0]
    if len(fitting):
        first = fitting.iloc[0]
        line = (f"FITS: fastest plan {first['step_s']:,.4g} s per step on {first['gpus']:,.0f} "
                f"GPUs (tp {first['tp']:,.0f}, pp {first['pp']:,.0f}, dp {first['dp']:,.0f}, "
                f"ZeRO {first['zero']:,.0f}, recompute {first['recompute']}; first row)")
    else:
        line = "DOES NOT FIT: " + table.attrs.get("message", "no plan fits")
    return verdict(table, len(fitting) > 0, line)


def _setup_step(p):
    _model_workload(p)
    p.add_argument("--gpu", required=True, help="accelerator preset")
    _recipe_options(p)
    for axis, default in (("dp", 1), ("tp", 1), ("pp", 1), ("cp", 1), ("ep", 1), ("zero", 0)):
        p.add_argument(f"--{axis}", type=_INT, default=default, help=f"(default {default})")
    p.add_argument("--micro-batch", type=_INT, default=None,
                   help="sequences per micro-batch (default: batch / dp)")
    p.add_argument("--recompute", default="none", help="none, selective, full (default none)")
    p.add_argument("--compute-eff", type=_number, default=None,
                   help="share of the peak while computing (default 0.55)")
    p.add_argument("--gpus-per-node", type=_INT, default=None, help="GPUs per node (default 8)")
    _stack_options(p)


@command("train-step", "one optimizer step as it runs: compute, pipeline bubble, "
         "communication by kind, exposed communication, tokens/s per GPU, MFU", _setup_step)
def cmd_train_step(args):
    from .training_plan import training_step
    options = _options(args)
    options.pop("vp", None)
    extra = {k: v for k, v in dict(compute_eff=args.compute_eff,
                                   gpus_per_node=args.gpus_per_node).items() if v is not None}
    return training_step(args.model, args.gpu, args.batch, args.seq_len,
                         micro_batch=args.micro_batch, dp=args.dp, tp=args.tp, pp=args.pp,
                         vp=args.vp or 1, cp=args.cp, ep=args.ep, zero=args.zero,
                         precision=args.precision, recompute=args.recompute,
                         stack=options.pop("stack", "megatron"),
                         attention=options.pop("attention", "flash"), **options, **extra)


def _setup_time(p):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--tokens", type=_number, required=True, help="training tokens, e.g. 1e12")
    p.add_argument("--gpu", required=True, help="accelerator preset")
    p.add_argument("--n-gpus", type=_INT, required=True, help="number of GPUs")
    p.add_argument("--mfu", type=_number, default=0.4,
                   help="utilisation of the dense peak without a plan (default 0.4)")
    p.add_argument("--recompute", default="none",
                   help="none, selective, full (full: 8ND instead of 6ND)")
    p.add_argument("--precision", default="bf16-mixed", help="recipe (sets the peak used)")
    p.add_argument("--price", type=_number, default=None, help="price per GPU-hour")
    p.add_argument("--goodput", type=_number, default=None,
                   help="share of wall-clock time spent training (default 0.9)")
    p.add_argument("--batch", type=_INT, default=None,
                   help="with --seq-len: time from the step model (global batch)")
    p.add_argument("--seq-len", type=_INT, default=None, help="tokens per sequence")
    for axis in ("tp", "pp", "cp", "ep", "micro-batch", "zero"):
        p.add_argument(f"--{axis}", type=_INT, default=None, help="plan (with --batch)")


@command("train-time", "training FLOPs, days, GPU-hours and cost", _setup_time)
def cmd_train_time(args):
    from .training_plan import training_time
    plan = {k: v for k, v in dict(tp=args.tp, pp=args.pp, cp=args.cp, ep=args.ep,
                                  micro_batch=args.micro_batch, zero=args.zero).items()
            if v is not None}
    return training_time(args.model, args.tokens, args.gpu, args.n_gpus, args.mfu,
                         args.recompute, args.precision, args.price, goodput=args.goodput,
                         batch=args.batch, seq_len=args.seq_len, **plan)


def _setup_comm(p):
    _model_workload(p)
    p.add_argument("--gpu", required=True, help="accelerator preset (its NVLink/network links)")
    p.add_argument("--dp", type=_INT, default=1, help="data-parallel degree (default 1)")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--pp", type=_INT, default=1, help="pipeline-parallel degree (default 1)")
    p.add_argument("--cp", type=_INT, default=None, help="context-parallel degree (default 1)")
    p.add_argument("--ep", type=_INT, default=None, help="expert-parallel degree (default 1)")
    p.add_argument("--zero", type=_INT, default=0, help="ZeRO stage 0-3 (default 0)")
    p.add_argument("--precision", default="bf16-mixed", help="recipe (gradient bytes)")
    p.add_argument("--recompute", default="none", help="none, selective, full")
    p.add_argument("--micro-batch", type=_INT, default=None,
                   help="sequences per micro-batch (default: batch / dp)")
    p.add_argument("--gpus-per-node", type=_INT, default=None, help="GPUs per node (default 8)")


@command("train-comm", "data/tensor/pipeline/context/expert-parallel traffic and time per "
         "optimizer step", _setup_comm)
def cmd_train_comm(args):
    from .training import training_comm
    extra = {k: v for k, v in dict(cp=args.cp, ep=args.ep).items() if v is not None}
    return training_comm(args.model, args.batch, args.seq_len, args.gpu, args.dp, args.tp,
                         args.pp, args.zero, args.precision, args.recompute, args.micro_batch,
                         gpus_per_node=args.gpus_per_node, **extra)
