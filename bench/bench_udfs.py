"""Excel-function benchmark: the Python-side cost of the UDFs in ``xlcalc.udfs``.

Excel (classic xlwings, xlwings Lite) calls a UDF once per cell and recalculation, with
Excel-shaped arguments (floats for integers, strings, None for empty cells).  This script
times, in one process:

1. **One scalar call**: ``KV_CACHE("llama-2-70b", 8.0, 4096.0)`` (preset model, targets:
   UDF ≤ 8 µs and the core call ≤ 5 µs median on this project's machine) and a few other functions, each beside the core API call it wraps
   (``xlcalc.kv_cache_bytes`` …) measured in interleaved blocks, so that both see the
   same machine load.  Median of the per-call times of many blocks.
2. **A 10,000-call sheet recalculation**: 10,000 cells with varied arguments (33 model
   presets, batches, lengths, dtypes, tp; some cells referenced as 1×1 ranges, optional
   arguments empty) recalculated one call at a time, as Excel does: (a) a sheet of
   KV_CACHE cells, (b) a planning sheet mixing memory, latency, capacity and training
   functions.  The baseline is the same cells computed with the core API in the same
   process (the value of every cell is checked against it).

Medians over repeated runs; the machines here are shared and noisy, so ratios against a
baseline measured in the same process are the figures to compare across runs.

    python bench/bench_udfs.py [--blocks 41] [--block-calls 2000] [--repeat 7] [--wait-load 1.5]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import xlcalc.udfs as udfs
from _common import load_line, wait_for_load
from xlcalc import basics, serving, training
from xlcalc.models import load_model, preset_names

GB = 1e9


def per_call_us(fn, args, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - t0) / calls * 1e6


def interleaved(pairs, blocks, calls, best=None):
    """Median µs per call of each (label, fn, args), blocks interleaved round-robin;
    ``best`` (a dict) receives the fastest block of each (the least disturbed one)."""
    for _, fn, args in pairs:          # warm caches (plans, presets) before timing
        for _ in range(200):
            fn(*args)
    times = {label: [] for label, _, _ in pairs}
    gc.collect()
    for _ in range(blocks):
        for label, fn, args in pairs:
            times[label].append(per_call_us(fn, args, calls))
    if best is not None:
        best.update({label: min(ts) for label, ts in times.items()})
    return {label: statistics.median(ts) for label, ts in times.items()}


# ------------------------------------------------------------------ single calls

SCALAR = [
    # (UDF, its arguments as Excel sends them, the core call it wraps, value check)
    ("KV_CACHE", ("llama-2-70b", 8.0, 4096.0),
     lambda: basics.kv_cache_bytes("llama-2-70b", 8.0, 4096.0) / GB),
    ("WEIGHTS_MEM", ("llama-2-70b", "bf16", 8.0),
     lambda: serving.weights_memory("llama-2-70b", "bf16", 8.0) / GB),
    ("INFER_MEM", ("llama-2-70b", 8.0, 4096.0, None, None, 8.0),
     lambda: serving.inference_memory("llama-2-70b", 8.0, 4096.0, tp=8.0)["total"] / GB),
    ("MAX_BATCH", ("llama-2-70b", "h100-sxm", 4096.0, None, None, 8.0),
     lambda: serving.max_batch("llama-2-70b", "h100-sxm", 4096.0, 8.0)),
    ("PREFILL_MS", ("llama-2-70b", "h100-sxm", 8.0, 512.0, None, 8.0),
     lambda: serving.prefill_time("llama-2-70b", "h100-sxm", 8.0, 512.0, 8.0) * 1e3),
    ("GEN_SECONDS", ("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0, None, None, 8.0),
     lambda: serving.inference_latency("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0,
                                       8.0)["e2e_s"]),
    ("TRAIN_MEM", ("llama-2-7b", 8.0, 4096.0),
     lambda: training.train_memory("llama-2-7b", 8.0, 4096.0)["total"] / GB),
    ("TRAIN_DAYS", ("llama-2-70b", 2e12, "h100-sxm", 1024.0),
     lambda: training.training_time("llama-2-70b", 2e12, "h100-sxm", 1024.0)["days"]),
]


def bench_scalar(blocks, calls):
    rows = []
    for name, args, core in SCALAR:
        fn = udfs.CATALOGUE[name]
        value = fn(*args)
        assert abs(value - core()) <= 1e-9 * abs(value), (name, value, core())
        n = calls if name in ("KV_CACHE", "WEIGHTS_MEM") else max(calls // 10, 50)
        b = blocks if name == "KV_CACHE" else max(blocks // 4, 7)
        fastest = {}
        t = interleaved([("udf", fn, args), ("core", core, ())], b, n, fastest)
        rows.append((name, t["udf"], t["core"], fastest["udf"]))
    return rows


# ------------------------------------------------------------ sheet recalculation

def _cell(rng, value):
    """A cell argument as Excel may send it: the value, or a referenced 1×1 range."""
    return [[value]] if rng.random() < 0.2 else value


def kv_sheet(n, rng):
    """n KV_CACHE cells: (UDF args, core thunk)."""
    models = [m for m in preset_names()]
    cells = []
    for _ in range(n):
        m = rng.choice(models)
        heads = load_model(m).fields
        tps = [t for t in (1, 2, 4, 8) if heads["num_heads"] % t == 0 and
               (heads["num_kv_heads"] % t == 0 or t % heads["num_kv_heads"] == 0)]
        b = float(rng.choice([1, 2, 4, 8, 16, 32, 64, 128, 256]))
        s = float(rng.choice([512, 1024, 2048, 4096, 8192, 32768, 131072]))
        kv = rng.choice(["bf16", "fp8", "int8", None])
        tp = float(rng.choice(tps))
        unit = rng.choice([None, "GB", "GiB", "MB"])
        args = (m, _cell(rng, b), _cell(rng, s), kv, _cell(rng, tp), unit)
        div = {None: 1e9, "GB": 1e9, "GiB": 2 ** 30, "MB": 1e6}[unit]
        cells.append(("KV_CACHE", args,
                      (lambda m=m, b=b, s=s, kv=kv or "bf16", tp=tp, div=div:
                       basics.kv_cache_bytes(m, b, s, kv, tp) / div)))
    return cells


def planning_sheet(n, rng):
    """n cells of a capacity-planning sheet: memory, latency, capacity, training."""
    models = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b",
              "mistral-7b", "mixtral-8x7b", "qwen2.5-14b", "qwen2.5-72b"]
    gpus = ["h100-sxm", "a100-80gb", "h200", "mi300x"]
    cells = []
    for i in range(n):
        m, g = rng.choice(models), rng.choice(gpus)
        b = float(rng.choice([1, 4, 8, 16, 32, 64]))
        s = float(rng.choice([1024, 2048, 4096, 8192]))
        tp = float(rng.choice([1, 2, 4, 8]))
        kind = i % 8
        if kind in (0, 1, 2):
            cells.append(("KV_CACHE", (m, b, s, None, tp),
                          lambda m=m, b=b, s=s, tp=tp: basics.kv_cache_bytes(m, b, s, "bf16", tp) / GB))
        elif kind == 3:
            cells.append(("WEIGHTS_MEM", (m, None, tp),
                          lambda m=m, tp=tp: serving.weights_memory(m, "bf16", tp) / GB))
        elif kind == 4:
            cells.append(("INFER_MEM", (m, b, s, None, None, tp),
                          lambda m=m, b=b, s=s, tp=tp:
                          serving.inference_memory(m, b, s, tp=tp)["total"] / GB))
        elif kind == 5:
            cells.append(("MAX_BATCH", (m, g, s, None, None, tp),
                          lambda m=m, g=g, s=s, tp=tp: serving.max_batch(m, g, s, tp)))
        elif kind == 6:
            cells.append(("PREFILL_MS", (m, g, b, s, None, tp),
                          lambda m=m, g=g, b=b, s=s, tp=tp:
                          serving.prefill_time(m, g, b, s, tp) * 1e3))
        else:
            cells.append(("TRAIN_DAYS", (m, 1e12, g, 64.0 * tp),
                          lambda m=m, g=g, n=64.0 * tp:
                          training.training_time(m, 1e12, g, n)["days"]))
    return cells


def recalc(cells):
    t0 = time.perf_counter()
    out = [udfs.CATALOGUE[name](*args) for name, args, _ in cells]
    return time.perf_counter() - t0, out


def recalc_core(cells):
    t0 = time.perf_counter()
    out = [core() for _, _, core in cells]
    return time.perf_counter() - t0, out


def bench_sheet(cells, repeat):
    _, values = recalc(cells)
    _, expected = recalc_core(cells)
    for (name, args, _), v, e in zip(cells, values, expected):
        assert not isinstance(v, str), (name, args, v)
        assert abs(v - e) <= 1e-9 * max(abs(e), 1e-30), (name, args, v, e)
    udf, core = [], []
    gc.collect()
    for _ in range(repeat):
        udf.append(recalc(cells)[0])
        core.append(recalc_core(cells)[0])
    return statistics.median(udf), statistics.median(core)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, default=41)
    p.add_argument("--block-calls", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--cells", type=int, default=10_000)
    p.add_argument("--wait-load", type=float, default=None,
                   help="wait (at most 10 minutes) until the 1-minute load average is "
                        "below this (the machine is shared)")
    a = p.parse_args(argv)
    wait_for_load(a.wait_load)
    print(load_line("before"))

    print("One scalar call (median µs per call over interleaved blocks; core = the API "
          "call the UDF wraps; fastest = the least disturbed UDF block)")
    print(f"{'function':<14}{'UDF µs':>10}{'core µs':>10}{'UDF/core':>10}{'fastest':>10}")
    for name, t_udf, t_core, t_best in bench_scalar(a.blocks, a.block_calls):
        print(f"{name:<14}{t_udf:>10.1f}{t_core:>10.1f}{t_udf / t_core:>10.2f}{t_best:>10.1f}")

    rng = random.Random(2024)
    for title, cells in (("KV_CACHE sheet", kv_sheet(a.cells, rng)),
                         ("planning sheet", planning_sheet(a.cells, rng))):
        udf, core = bench_sheet(cells, a.repeat)
        n = len(cells)
        print(f"\n{n:,}-call recalculation, {title} (median of {a.repeat})")
        print(f"  UDFs:     {udf * 1e3:8.1f} ms total, {udf / n * 1e6:6.1f} µs per call")
        print(f"  core API: {core * 1e3:8.1f} ms total, {core / n * 1e6:6.1f} µs per call")
        print(f"  ratio UDF / core: {udf / core:.2f}")
    print(load_line("after"))


if __name__ == "__main__":
    main()
