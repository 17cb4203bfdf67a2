"""Serving subcommands of the ``xlcalc`` command line (registered with
:func:`xlcalc.cli.command`; :mod:`xlcalc.cli` imports this module when it exists).

``infer``        memory per GPU (at prompt + output tokens) and roofline latency
``capacity``     concurrent sequences that fit, KV blocks/tokens, nodes for N users
``gpus-needed``  fewest GPUs (tp × pp) that hold a serving plan
``comm``         tensor/pipeline-parallel traffic and time of one pass

Memory is shown in ``--unit`` (GB = 1e9 bytes by default), latencies in ms (end-to-end in
s); ``--json`` prints JSON.  The engine (``--engine``, default vllm) sets the memory rules,
batching defaults and per-step/request overheads; efficiencies are calibrated per GPU
family unless ``--mfu``/``--bw-eff``/``--link-eff``/``--link-latency-us`` are given.  Both
are printed with every answer.
"""

from __future__ import annotations

from .cli import _number, command, fmt_number, verdict

_INT = (lambda text: _number(text, int))
_MEMORY = ("weights", "kv_cache", "activations", "reserve", "total", "budget", "headroom")


def _model_gpu(p, gpu_required=True):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--gpu", required=gpu_required, help="accelerator preset, e.g. h100-sxm")


def _parallel(p):
    p.add_argument("--tp", type=_INT, default=1, help="tensor-parallel degree (default 1)")
    p.add_argument("--pp", type=_INT, default=1, help="pipeline-parallel degree (default 1)")


def _dtypes(p, compute=False):
    p.add_argument("--dtype", default="bf16",
                   help="weights' storage format: bf16, fp8, int4, nvfp4, q4_k_m … "
                        "(`xlcalc formats`; default bf16)")
    p.add_argument("--kv-dtype", default="bf16", help="KV-cache format (default bf16)")
    if compute:
        p.add_argument("--compute-dtype", default=None,
                       help="dtype the kernels run in (default auto: the weights' native "
                            "compute where the GPU has it, else 16 bits)")


def _engine(p):
    p.add_argument("--engine", default="vllm",
                   help="serving engine whose memory rules and defaults apply: vllm, sglang, "
                        "trt-llm (default vllm; `xlcalc engines`)")
    p.add_argument("--gpu-memory-utilization", type=_number, default=None,
                   help="share of GPU memory the engine may use (default: the engine's; "
                        "vllm 0.9)")
    p.add_argument("--reserve-gb", type=_number, default=None,
                   help="engine reserve (non-torch memory) per GPU in GB (default: the "
                        "engine's; vllm 0.14)")
    p.add_argument("--max-num-batched-tokens", type=_INT, default=None,
                   help="tokens per forward pass / activation profile (default: the "
                        "engine's for the GPU; vllm 8192 on 70 GiB and more, else 2048)")
    p.add_argument("--max-num-seqs", type=_INT, default=None,
                   help="sequences per step (default: the engine's for the GPU; vllm 1024 "
                        "on 70 GiB and more, else 256)")
    p.add_argument("--no-flash-attention", action="store_true",
                   help="eager attention: the s×s scores take memory")
    p.add_argument("--unit", default="GB", help="memory unit (default GB = 1e9 bytes)")


def _engine_options(args) -> dict:
    return dict(engine=args.engine, gpu_memory_utilization=args.gpu_memory_utilization,
                infer_reserve_bytes=None if args.reserve_gb is None else args.reserve_gb * 1e9,
                max_num_batched_tokens=args.max_num_batched_tokens,
                max_num_seqs=args.max_num_seqs,
                flash_attention=0 if args.no_flash_attention else None)


def _in_unit(series, unit, names=_MEMORY):
    from .units import to_unit
    return {f"{k}_{unit}" if k in names else k: to_unit(v, unit) if k in names else v
            for k, v in series.items()}


# --------------------------------------------------------------------------- infer

def _setup_infer(p):
    _model_gpu(p)
    p.add_argument("--batch", type=_INT, required=True, help="sequences served together")
    p.add_argument("--prompt-len", type=_INT, required=True, help="input tokens per sequence")
    p.add_argument("--output-len", type=_INT, required=True,
                   help="generated tokens per sequence")
    _parallel(p)
    _dtypes(p, compute=True)
    p.add_argument("--mfu", type=_number, default=None,
                   help="run every FLOP at this share of the dense peak (default: calibrated: "
                        "GEMMs on the GPU family's measured curve by size, attention at its "
                        "fused kernel's rate, times the engine's end-to-end share)")
    p.add_argument("--bw-eff", type=_number, default=None,
                   help="achieved / peak HBM bandwidth (default: the GPU family's STREAM "
                        "share times the engine's end-to-end share)")
    p.add_argument("--link-eff", type=_number, default=None,
                   help="achieved / peak link bandwidth (default: the GPU family's NCCL/RCCL "
                        "all-reduce bus bandwidth share)")
    p.add_argument("--link-latency-us", type=_number, default=None,
                   help="latency of one collective in microseconds (default: the GPU "
                        "family's smallest NCCL/RCCL all-reduce; tensor-parallel all-reduces "
                        "use the engine's custom kernel)")
    p.add_argument("--comm-overlap", type=_number, default=None,
                   help="share of prefill TP communication hidden by compute (default 0)")
    _engine(p)


@command("infer", "serving plan: memory per GPU and roofline latency (TTFT, TPOT, "
         "end-to-end, tokens/s)", _setup_infer)
def cmd_infer(args):
    import pandas as pd
    from .estimate import estimate
    from .serving import inference_latency, inference_memory
    from .units import unit_factor
    unit_factor(args.unit)
    seq_len = estimate("total_len", prompt_len=args.prompt_len,
                       output_len=args.output_len)["total_len"]
    memory = inference_memory(args.model, args.batch, seq_len, args.dtype, args.kv_dtype,
                              args.tp, args.pp, args.gpu, **_engine_options(args))
    latency = inference_latency(args.model, args.gpu, args.batch, args.prompt_len,
                                args.output_len, args.tp, args.pp, args.dtype, args.kv_dtype,
                                args.mfu, args.bw_eff, engine=args.engine,
                                compute_dtype=args.compute_dtype, link_eff=args.link_eff,
                                link_latency_us=args.link_latency_us,
                                comm_overlap=args.comm_overlap)
    head = {"model": args.model, "gpu": args.gpu, "engine": args.engine, "tp": args.tp,
            "pp": args.pp, "batch": args.batch, "prompt_len": args.prompt_len,
            "output_len": args.output_len, "dtype": args.dtype, "kv_dtype": args.kv_dtype,
            "mfu": "calibrated" if args.mfu is None else args.mfu}
    mem = _in_unit(memory.drop("warning"), args.unit)
    times = {"ttft_ms": latency["ttft_s"] * 1e3, "tpot_ms": latency["tpot_s"] * 1e3,
             "e2e_s": latency["e2e_s"]}
    rest = latency.drop(["ttft_s", "tpot_s", "e2e_s"]).to_dict()
    result = pd.Series({**head, **mem, **times, **rest}, name="inference plan")
    return memory_verdict(result, memory["fits"], memory["total"], memory["budget"],
                          memory["headroom"], args.unit)


def memory_verdict(result, fits, total, budget, headroom, unit, usable="usable "):
    """``FITS: 18.58 of 72 GB per GPU`` / ``DOES NOT FIT: short by 12.3 GB per GPU``."""
    from .units import to_unit

    def show(v):
        return fmt_number(to_unit(v, unit))
    if fits:
        line = f"FITS: {show(total)} of {show(budget)} {unit} {usable}per GPU " \
               f"(headroom {show(headroom)} {unit})"
    else:
        line = f"DOES NOT FIT: short by {show(-headroom)} {unit} per GPU " \
               f"({show(total)} needed, {show(budget)} {unit} {usable}per GPU)"
    return verdict(result, fits, line)


# ------------------------------------------------------------------------ capacity

def _setup_capacity(p):
    _model_gpu(p)
    p.add_argument("--seq-len", type=_INT, required=True,
                   help="tokens per request (prompt + output)")
    _parallel(p)
    _dtypes(p)
    p.add_argument("--n-gpus", type=_INT, default=None,
                   help="GPUs available (adds replicas and the sequences they hold)")
    p.add_argument("--users", type=_INT, default=None,
                   help="concurrent users to serve (adds replicas/nodes needed)")
    p.add_argument("--block-size", type=_INT, default=None,
                   help="KV block tokens (default: the engine's; vllm 16)")
    p.add_argument("--gpus-per-node", type=_INT, default=None, help="GPUs per node (default 8)")
    _engine(p)


@command("capacity", "concurrent sequences that fit (vLLM block arithmetic), KV tokens, nodes "
         "for N users", _setup_capacity)
def cmd_capacity(args):
    import pandas as pd
    from .serving import serving_capacity
    from .units import unit_factor
    unit_factor(args.unit)
    s = serving_capacity(args.model, args.gpu, args.seq_len, args.tp, args.pp, args.dtype,
                         args.kv_dtype, args.n_gpus, args.users, block_size=args.block_size,
                         gpus_per_node=args.gpus_per_node, **_engine_options(args))
    head = {"model": args.model, "gpu": args.gpu, "engine": args.engine,
            "seq_len": args.seq_len, "tp": args.tp, "pp": args.pp, "dtype": args.dtype,
            "kv_dtype": args.kv_dtype}
    result = pd.Series({**head, **_in_unit(s, args.unit, ("kv_budget", "kv_per_sequence",
                                                          "block_bytes"))},
                       name="serving capacity")
    return verdict(result, s["fits"], _capacity_line(s, args))


def _capacity_line(s, args) -> str:
    from .units import to_unit

    def gb(v):
        return f"{fmt_number(to_unit(v, args.unit))} {args.unit}"
    gpus = args.tp * args.pp
    replica = f"a replica of {gpus} GPU{'s' if gpus > 1 else ''} (tp={args.tp}, pp={args.pp})"
    if not s["fits"]:
        why = (f"the weights, activations and reserve exceed the usable memory by "
               f"{gb(-s['kv_budget'])} per GPU" if s["kv_budget"] < 0 else
               f"{gb(s['kv_budget'])} of KV budget per GPU, one sequence needs "
               f"{gb(s['kv_per_sequence'])}")
        return f"DOES NOT FIT: not one sequence of {fmt_number(args.seq_len)} tokens fits " \
               f"on {replica}: {why}"
    line = f"FITS: {fmt_number(s['max_sequences'])} sequences of " \
           f"{fmt_number(args.seq_len)} tokens on {replica}"
    if "nodes_needed" in s:
        line += f"; {fmt_number(args.users)} users need {fmt_number(s['replicas_needed'])} " \
                f"replicas on {fmt_number(s['nodes_needed'])} nodes"
    return line


# ---------------------------------------------------------------------- gpus-needed

def _setup_gpus(p):
    _model_gpu(p)
    p.add_argument("--batch", type=_INT, required=True, help="sequences served together")
    p.add_argument("--seq-len", type=_INT, required=True, help="tokens per sequence")
    _dtypes(p)
    p.add_argument("--gpus-per-node", type=_INT, default=None, help="GPUs per node (default 8)")
    _engine(p)


@command("gpus-needed", "fewest GPUs (a search over tensor × pipeline parallelism) that hold a "
         "serving plan, and the split chosen", _setup_gpus)
def cmd_gpus_needed(args):
    from .serving import gpus_needed
    from .units import unit_factor
    unit_factor(args.unit)
    s = gpus_needed(args.model, args.gpu, args.batch, args.seq_len, args.dtype, args.kv_dtype,
                    gpus_per_node=args.gpus_per_node, **_engine_options(args))
    import pandas as pd
    result = pd.Series({"engine": args.engine, **_in_unit(s, args.unit, ("total_one_gpu",))},
                       name="fewest GPUs")
    n = s["gpus_needed"]
    if n > 0:
        line = f"FITS on {fmt_number(n)} GPUs (tp={fmt_number(s['tp'])} × " \
               f"pp={fmt_number(s['pp'])})"
    else:
        line = "DOES NOT FIT: no tensor/pipeline split up to tp=" \
               f"{fmt_number(s['tp_max'])} holds the plan"
    return verdict(result, n > 0, line)


# ---------------------------------------------------------------------------- comm

def _setup_comm(p):
    _model_gpu(p, gpu_required=False)
    p.add_argument("--batch", type=_INT, required=True, help="sequences")
    p.add_argument("--seq-len", type=_INT, required=True,
                   help="tokens per sequence in the pass (prompt for prefill, 1 for decode)")
    _parallel(p)
    p.add_argument("--dtype", default="bf16", help="model dtype (activations 16-bit unless fp32)")
    p.add_argument("--link-eff", type=_number, default=None,
                   help="link efficiency (default: the GPU family's NCCL/RCCL figure)")
    p.add_argument("--link-latency-us", type=_number, default=None,
                   help="latency per all-reduce / transfer in microseconds (default: the GPU "
                        "family's NCCL/RCCL figure)")
    p.add_argument("--gpus-per-node", type=_INT, default=None, help="GPUs per node (default 8)")


@command("comm", "tensor/pipeline-parallel traffic (bytes per GPU) and time of one pass",
         _setup_comm)
def cmd_comm(args):
    from .serving import comm
    return comm(args.model, args.batch, args.seq_len, args.tp, args.pp, args.gpu, args.dtype,
                link_eff=args.link_eff, link_latency_us=args.link_latency_us,
                gpus_per_node=args.gpus_per_node)
