"""Training subcommands of the ``xlcalc`` command line (registered with
:func:`xlcalc.cli.command`; :mod:`xlcalc.cli` imports this module when it exists).

``train-mem``   memory per GPU by part, fits/headroom with ``--gpu``
``train-fit``   smallest dp / ZeRO stage / recomputation that fits (a table)
``train-time``  FLOPs, days, GPU-hours, cost, tokens/s per GPU
``train-comm``  DP/TP/PP bytes and seconds per optimizer step

Memory is shown in ``--unit`` (GB = 1e9 bytes by default); ``--json`` prints JSON.
"""

from __future__ import annotations

from .cli import _number, command, verdict

_INT = (lambda text: _number(text, int))


def _model_workload(p, batch_required=True):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--batch", type=_INT, required=batch_required,
                   help="global batch in sequences (split over --dp)")
    p.add_argument("--seq-len", type=_INT, required=batch_required, help="tokens per sequence")


def _plan_options(p, gpu_required=False):
    p.add_argument("--gpu", required=gpu_required, help="accelerator preset (adds fits/headroom)")
    p.add_argument("--precision", default="bf16-mixed",
                   help="fp32, fp16-mixed, bf16-mixed, megatron-distopt (default "
                        "bf16-mixed)")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw, adam, sgd, sgd-momentum, adam-8bit, adafactor, lion "
                        "(default adamw)")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--pp", type=_INT, default=1, help="pipeline-parallel degree (default 1)")
    p.add_argument("--micro-batch", type=_INT, default=None,
                   help="sequences per micro-batch (default: batch / dp, no accumulation)")
    p.add_argument("--sequence-parallel", action="store_true",
                   help="Megatron sequence parallelism (norm/dropout activations ÷ tp)")
    p.add_argument("--no-flash-attention", action="store_true",
                   help="eager attention: store the s×s scores")
    p.add_argument("--dropout", action="store_true", help="the model trains with dropout")
    p.add_argument("--vp", type=_INT, default=None,
                   help="model chunks per GPU of the interleaved pipeline (default 1)")
    p.add_argument("--trainable-fraction", type=_number, default=None,
                   help="share of parameters trained, e.g. 0.01 for LoRA (default 1)")
    p.add_argument("--reserve-gb", type=_number, default=None,
                   help="per-GPU reserve in GB (default 2)")
    p.add_argument("--activation-rule", default=None,
                   help="activation estimate: korthikanti (default; the source tutorials' "
                        "rules of thumb are shown in their worked examples)")
    p.add_argument("--unit", default="GB", help="memory unit (default GB = 1e9 bytes)")


def _options(args) -> dict:
    return dict(
        micro_batch=args.micro_batch,
        sequence_parallel=1 if args.sequence_parallel else None,
        flash_attention=0 if args.no_flash_attention else None,
        dropout=1 if args.dropout else None, vp=args.vp,
        trainable_fraction=args.trainable_fraction,
        train_reserve_bytes=None if args.reserve_gb is None else args.reserve_gb * 1e9,
        activation_rule=args.activation_rule)


_BYTES = ("weights", "master_weights", "gradients", "optimizer", "activations", "reserve",
          "total", "gpu_memory", "headroom")


def _setup_mem(p):
    _model_workload(p)
    _plan_options(p)
    p.add_argument("--zero", type=_INT, default=0, help="ZeRO stage 0-3 (FSDP = 3; default 0)")
    p.add_argument("--dp", type=_INT, default=1, help="data-parallel degree (default 1)")
    p.add_argument("--recompute", default="none", help="none, selective, full (default none)")


@command("train-mem", "training memory per GPU by part (weights, master weights, gradients, "
         "optimizer, activations, reserve)", _setup_mem)
def cmd_train_mem(args):
    import pandas as pd
    from .training import train_memory
    from .units import to_unit, unit_factor
    unit_factor(args.unit)
    s = train_memory(args.model, args.batch, args.seq_len, args.precision, args.optimizer,
                     args.zero, args.dp, args.tp, args.pp, args.recompute, args.gpu,
                     **_options(args))
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
    _plan_options(p, gpu_required=True)
    p.add_argument("--max-gpus", type=_INT, default=None, help="largest plan to consider")


@command("train-fit", "smallest data-parallel degree / ZeRO stage / recomputation that fits "
         "(first row), all options as a table", _setup_fit)
def cmd_train_fit(args):
    from .training import train_fit_search
    from .units import to_unit, unit_factor
    unit_factor(args.unit)
    opts = {k: v for k, v in _options(args).items() if v is not None}
    table = train_fit_search(args.model, args.batch, args.seq_len, args.gpu, args.precision,
                             args.optimizer, tp=args.tp, pp=args.pp, max_gpus=args.max_gpus,
                             **opts)
    for column in _BYTES:
        if column in table:
            table[column] = to_unit(table[column], args.unit)
    fitting = table[table["fits"].astype(bool)] if "fits" in table else table.iloc[:0]
    if len(fitting):
        first = fitting.iloc[0]
        line = f"FITS: on {first['gpus']:,.0f} GPUs with dp={first['dp']:,.0f}, " \
               f"ZeRO {first['zero']:,.0f}, recompute {first['recompute']} (first row)"
    else:
        line = "DOES NOT FIT: no plan in the table fits; more GPUs (--max-gpus), tp/pp or a " \
               "smaller batch"
    return verdict(table, len(fitting) > 0, line)


def _setup_time(p):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--tokens", type=_number, required=True, help="training tokens, e.g. 1e12")
    p.add_argument("--gpu", required=True, help="accelerator preset")
    p.add_argument("--n-gpus", type=_INT, required=True, help="number of GPUs")
    p.add_argument("--mfu", type=_number, default=0.4,
                   help="utilisation of the dense peak (default 0.4)")
    p.add_argument("--recompute", default="none",
                   help="none, selective, full (full: 8ND instead of 6ND)")
    p.add_argument("--precision", default="bf16-mixed", help="recipe (sets the peak used)")
    p.add_argument("--price", type=_number, default=None, help="price per GPU-hour")


@command("train-time", "training FLOPs, days, GPU-hours and cost", _setup_time)
def cmd_train_time(args):
    from .training import training_time
    return training_time(args.model, args.tokens, args.gpu, args.n_gpus, args.mfu,
                         args.recompute, args.precision, args.price)


def _setup_comm(p):
    _model_workload(p)
    p.add_argument("--gpu", required=True, help="accelerator preset (its NVLink/network links)")
    p.add_argument("--dp", type=_INT, default=1, help="data-parallel degree (default 1)")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--pp", type=_INT, default=1, help="pipeline-parallel degree (default 1)")
    p.add_argument("--zero", type=_INT, default=0, help="ZeRO stage 0-3 (default 0)")
    p.add_argument("--precision", default="bf16-mixed", help="recipe (gradient bytes)")
    p.add_argument("--recompute", default="none", help="none, selective, full")
    p.add_argument("--micro-batch", type=_INT, default=None,
                   help="sequences per micro-batch (default: batch / dp)")
    p.add_argument("--gpus-per-node", type=_INT, default=None, help="GPUs per node (default 8)")


@command("train-comm", "data/tensor/pipeline-parallel traffic and time per optimizer step",
         _setup_comm)
def cmd_train_comm(args):
    from .training import training_comm
    return training_comm(args.model, args.batch, args.seq_len, args.gpu, args.dp, args.tp,
                         args.pp, args.zero, args.precision, args.recompute, args.micro_batch,
                         gpus_per_node=args.gpus_per_node)
