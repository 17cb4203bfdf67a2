"""Hardware and number-format subcommands of the ``xlcalc`` command line.

``gpus``     the accelerator presets; with a name (or an alias such as ``H100``) every
             field of one preset with its unit, source and confidence note
``formats``  the number formats: weight storage (bits per weight from the core's formula;
             with ``--model``, that model's weight memory in each format), KV cache, compute
"""

from __future__ import annotations

from .cli import _number, command

_GIB = 2 ** 30


def _setup_gpus(p):
    p.add_argument("gpu", nargs="?", help="one preset (name or alias) to show field by field")


@command("gpus", "list the accelerator presets (or one preset's fields with their sources)",
         _setup_gpus)
def cmd_gpus(args):
    import pandas as pd
    from .hardware import GPU_FIELDS, GPU_UNITS, gpus_table, load_gpu
    if args.gpu:
        g = load_gpu(args.gpu)
        rows = []
        for f in GPU_FIELDS:
            conf = g.confidence.get(f, {})
            rows.append({"field": f, "value": g.fields[f], "unit": GPU_UNITS.get(f, "TFLOP/s"),
                         "source": g.source_of(f), "confidence": conf.get("note", ""),
                         "range": conf.get("range") or ""})
        return pd.DataFrame(rows).set_index("field")
    frame = gpus_table()
    frame.insert(2, "memory_gib_reported", frame["memory_bytes_reported"] / _GIB)
    return frame.drop(columns=["memory_bytes_reported", "peak_tflops_16bit", "source"])


def _setup_formats(p):
    p.add_argument("--kind", default="weights", choices=("weights", "kv", "compute"),
                   help="which table: weight storage (default), KV cache, compute dtypes")
    p.add_argument("--group-size", type=lambda t: _number(t, int), default=128,
                   help="GPTQ/AWQ group size for int4 (default 128)")
    p.add_argument("--model", default=None,
                   help="also the model's weight memory (GB) in each storage format")


@command("formats", "number formats: weight storage (bits per weight), KV cache, compute",
         _setup_formats)
def cmd_formats(args):
    from .estimate import sweep
    from .formats import DTYPES, compute_dtypes_table, dtypes_table, kv_dtypes_table
    if args.kind == "kv":
        return kv_dtypes_table().drop(columns=["source"])
    if args.kind == "compute":
        return compute_dtypes_table()
    table = dtypes_table().drop(columns=["note", "source"])
    bits = sweep(["weight_base_bits"], dtype=list(DTYPES()), quant_group_size=args.group_size)
    table.insert(0, "bits_per_weight", bits.set_index("dtype")["weight_base_bits"])
    table.insert(1, "bytes_per_weight", table["bits_per_weight"] / 8)
    if args.model:
        w = sweep(["weight_bytes_per_param", "model_weights_bytes"], model=args.model,
                  dtype=list(DTYPES()), quant_group_size=args.group_size).set_index("dtype")
        table.insert(2, "layer_bytes_per_weight", w["weight_bytes_per_param"])
        table.insert(3, "weights_GB", w["model_weights_bytes"] / 1e9)
    return table
