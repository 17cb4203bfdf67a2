"""Subcommands for the tutorials' analyses (:mod:`xlcalc.analysis`), registered with
:func:`xlcalc.cli.command`.

``gemm``              one GEMM's FLOPs, bytes, intensity and roofline time
``critical-batch``    where decode turns compute-bound; decode's share of peak
``layer-flops``       one layer's FLOPs by part, prefill and decode
``kv-savings``        the compute the KV cache saves over a generation
``mla-flops``         MLA decode FLOPs with and without weight absorption
``prefix-cache``      KV memory and prefill FLOPs a shared prefix saves
``checkpointing``     √N activation checkpointing and the cost of recomputation
``allreduce``         ring, tree and hierarchical all-reduce times
``attention-traffic`` eager attention vs FlashAttention: HBM bytes, time, speed-up
``op-traffic``        an element-wise / reduction operator's HBM traffic
``ccr``               compute-to-communication ratio and link utilisation

Numbers are SI (bytes, seconds, FLOPs); ``--json`` prints JSON.
"""

from __future__ import annotations

from .cli import _number, command

_INT = (lambda text: _number(text, int))


def _model(p):
    p.add_argument("model", help="preset name or path to a config.json")


def _gpu(p, required=True):
    p.add_argument("--gpu", required=required, help="accelerator preset, e.g. h100-sxm")


def _rates(p):
    p.add_argument("--dtype", default="bf16", help="compute / storage dtype (default bf16)")
    p.add_argument("--mfu", type=_number, default=None,
                   help="utilisation of the dense peak (default: calibrated for the GPU "
                        "family, GEMMs on the measured curve by size; the tutorials: 0.5)")
    p.add_argument("--bw-eff", type=_number, default=None,
                   help="achieved / peak HBM bandwidth (default: calibrated for the GPU "
                        "family; the tutorials: 1.0)")


def _setup_gemm(p):
    for name, what in (("m", "rows of [M, K] (tokens)"), ("n", "columns of [K, N]"),
                       ("k", "inner dimension")):
        p.add_argument(name, type=_INT, help=what)
    _gpu(p)
    _rates(p)


@command("gemm", "one GEMM [M,K]·[K,N]: FLOPs, bytes, intensity, roofline time", _setup_gemm)
def cmd_gemm(args):
    from .analysis import gemm_roofline
    return gemm_roofline(args.m, args.n, args.k, args.gpu, args.dtype, args.mfu, args.bw_eff)


def _setup_critical(p):
    _model(p)
    _gpu(p)
    p.add_argument("--context-len", type=_INT, required=True, help="tokens attended per step")
    p.add_argument("--batch", type=_INT, default=1, help="sequences in the step (default 1)")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--kv-dtype", default="bf16", help="KV cache dtype (default bf16)")
    _rates(p)


@command("critical-batch", "the decode batch that turns compute-bound, and decode's share "
         "of peak", _setup_critical)
def cmd_critical_batch(args):
    from .analysis import critical_batch
    return critical_batch(args.model, args.gpu, args.context_len, args.batch, args.tp,
                          args.dtype, args.kv_dtype, args.mfu, args.bw_eff)


def _setup_layer(p):
    _model(p)
    p.add_argument("--batch", type=_INT, default=1, help="sequences (default 1)")
    p.add_argument("--prompt-len", type=_INT, required=True, help="prefill tokens")
    p.add_argument("--context-len", type=_INT, default=None,
                   help="tokens a decode step attends to (default prompt + 1)")


@command("layer-flops", "one layer's FLOPs by part (QKV, scores, P·V, W_O, MLP) and the LM "
         "head, prefill and decode", _setup_layer)
def cmd_layer_flops(args):
    from .analysis import layer_flops
    return layer_flops(args.model, args.batch, args.prompt_len, args.context_len)


def _setup_kv_savings(p):
    _model(p)
    p.add_argument("--prompt-len", type=_INT, required=True, help="prompt tokens")
    p.add_argument("--output-len", type=_INT, required=True, help="generated tokens")
    p.add_argument("--batch", type=_INT, default=1, help="sequences (default 1)")


@command("kv-savings", "the compute a KV cache saves over a generation", _setup_kv_savings)
def cmd_kv_savings(args):
    from .analysis import kv_cache_savings
    return kv_cache_savings(args.model, args.prompt_len, args.output_len, args.batch)


def _setup_mla(p):
    _model(p)
    p.add_argument("--context-len", type=_INT, required=True, help="tokens attended per step")
    p.add_argument("--batch", type=_INT, default=1, help="sequences (default 1)")


@command("mla-flops", "MLA decode FLOPs with and without weight absorption", _setup_mla)
def cmd_mla_flops(args):
    from .analysis import mla_decode_flops
    return mla_decode_flops(args.model, args.batch, args.context_len)


def _setup_prefix(p):
    _model(p)
    p.add_argument("--batch", type=_INT, required=True, help="concurrent requests")
    p.add_argument("--prompt-len", type=_INT, required=True, help="prompt tokens per request")
    p.add_argument("--prefix-len", type=_INT, required=True, help="shared prefix tokens")
    p.add_argument("--hit-rate", type=_number, required=True,
                   help="share of requests whose prefix is cached (0-1)")
    p.add_argument("--kv-dtype", default="bf16", help="KV cache dtype (default bf16)")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--block-size", type=_INT, default=16, help="KV block (default 16)")


@command("prefix-cache", "KV memory and prefill FLOPs prefix caching saves", _setup_prefix)
def cmd_prefix_cache(args):
    from .analysis import prefix_caching
    return prefix_caching(args.model, args.batch, args.prompt_len, args.prefix_len,
                          args.hit_rate, args.kv_dtype, args.tp, args.block_size)


def _setup_checkpointing(p):
    _model(p)
    p.add_argument("--seq-len", type=_INT, required=True, help="tokens per sequence")
    p.add_argument("--micro-batch", type=_INT, default=1, help="sequences (default 1)")
    p.add_argument("--precision", default="bf16-mixed", help="training recipe")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--pp", type=_INT, default=1, help="pipeline stages (default 1)")


@command("checkpointing", "√N activation checkpointing and the cost of recomputation",
         _setup_checkpointing)
def cmd_checkpointing(args):
    from .analysis import checkpointing
    return checkpointing(args.model, args.seq_len, args.micro_batch, args.precision, args.tp,
                         args.pp)


def _setup_allreduce(p):
    p.add_argument("size_bytes", type=_number, help="bytes reduced")
    p.add_argument("n", type=_INT, help="GPUs")
    _gpu(p)
    p.add_argument("--gpus-per-node", type=_INT, default=8, help="GPUs per node (default 8)")
    p.add_argument("--link-eff", type=_number, default=None,
                   help="NVLink efficiency (default: the GPU family's NCCL/RCCL figure)")
    p.add_argument("--scale-out-eff", type=_number, default=None,
                   help="network efficiency beyond one node (default: the efficiency "
                        "table's, Calculon's InfiniBand model)")
    p.add_argument("--link-latency-us", type=_number, default=None,
                   help="latency of one step in microseconds (default: the GPU family's "
                        "NCCL/RCCL figure; the tutorials: 8)")


@command("allreduce", "ring, tree and hierarchical all-reduce times", _setup_allreduce)
def cmd_allreduce(args):
    from .analysis import allreduce_algorithms
    return allreduce_algorithms(args.size_bytes, args.n, args.gpu, args.gpus_per_node,
                                args.link_eff, args.link_latency_us, args.scale_out_eff)


def _setup_attention(p):
    _model(p)
    _gpu(p)
    p.add_argument("--batch", type=_INT, default=1, help="sequences (default 1)")
    p.add_argument("--seq-len", type=_INT, required=True, help="tokens per sequence")
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--flash-block-size", type=_INT, default=128,
                   help="FlashAttention query block rows (default 128)")
    _rates(p)


@command("attention-traffic", "eager attention vs FlashAttention: HBM bytes, time, speed-up",
         _setup_attention)
def cmd_attention_traffic(args):
    from .analysis import attention_traffic
    return attention_traffic(args.model, args.gpu, args.batch, args.seq_len, args.dtype,
                             args.tp, args.flash_block_size, args.mfu, args.bw_eff)


def _setup_op(p):
    p.add_argument("operator", help="elementwise, residual-add, rmsnorm, layernorm, "
                   "softmax-naive, softmax-safe or softmax-online")
    p.add_argument("elements", type=_number, help="elements of the tensor")
    _gpu(p)
    _rates(p)


@command("op-traffic", "an element-wise or reduction operator's HBM traffic and time",
         _setup_op)
def cmd_op_traffic(args):
    from .analysis import operator_traffic
    return operator_traffic(args.operator, args.elements, args.gpu, args.dtype, args.mfu,
                            args.bw_eff)


def _setup_ccr(p):
    p.add_argument("work_flops", type=_number, help="FLOPs computed alongside the transfer")
    p.add_argument("message_bytes", type=_number, help="bytes communicated")
    _gpu(p)
    p.add_argument("--link-gb-per-s", type=_number, required=True,
                   help="link bandwidth per direction, GB/s")
    p.add_argument("--dtype", default="bf16", help="compute dtype (default bf16)")
    p.add_argument("--mfu", type=_number, default=None,
                   help="utilisation (default: the GPU family's calibrated GEMM plateau)")
    p.add_argument("--link-eff", type=_number, default=None,
                   help="link efficiency (default: the GPU family's NCCL/RCCL figure)")


@command("ccr", "compute-to-communication ratio and link utilisation", _setup_ccr)
def cmd_ccr(args):
    from .analysis import compute_comm_ratio
    return compute_comm_ratio(args.work_flops, args.message_bytes, args.gpu,
                              args.link_gb_per_s, args.dtype, args.mfu, args.link_eff)
