"""Property test: random and hostile arguments never make an Excel function raise.

Every catalogue function gets thousands of argument lists mixing plausible values
(presets, typical sizes, dtype names, two-column ranges) with hostile ones (negative,
zero, huge, NaN, ±inf, booleans, dates, text in numeric slots, empty and wrong-shaped
ranges, unknown presets, formula-looking text, very long text).  Whatever comes in, the
result is a finite number, a boolean, a text, or a rectangular table, and every failure
is a text starting with ``#`` that names one of the function's arguments — never the
wrapper's "failed unexpectedly" (a bug).
"""

import datetime as dt
import inspect
import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xlcalc.udfs as u
from xlcalc.formats import COMPUTE_DTYPES, DTYPES, KV_DTYPES
from xlcalc.hardware import gpu_names
from xlcalc.models import MODEL_FIELDS, preset_names

HOSTILE_TEXT = ["", " ", "abc", "=1+1", '=HYPERLINK("http://example.com","click")',
                "@SUM(A1:A9)", "+1", "-1", "1e9", "8", "NaN", "inf", "#VALUE!", "None",
                "\x00", "llama-2-70b\n", "../../etc/passwd", "C:\\config.json", "ünïcödé",
                "x" * 3000, "'; DROP TABLE models; --", "preset"]
HOSTILE_NUMBERS = [0.0, -0.0, -1.0, -8.0, 0.5, 1.5, 1e-300, 1e15, 1e300, 1.7976931348623157e308,
                   math.nan, math.inf, -math.inf, 2.0 ** 53 + 1, 3, 7, -3]
HOSTILE_OTHER = [None, True, False, dt.datetime(2024, 1, 1), dt.date(2024, 1, 1), [], [[]],
                 [[None]], [None], [[None, None]], [[1.0, 2.0]], [[1.0], [2.0]],
                 [[1.0, 2.0], [3.0, 4.0]], [[[1.0]]], ["a", "b", "c"], {"preset": "gpt2"},
                 (8.0,), [[float("nan")]]]

hostile = st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_OTHER)
numbers = st.one_of(st.sampled_from([1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 512.0, 2048.0, 4096.0,
                                     32768.0, 0.3, 0.5, 0.9, 1e9, 1e12]),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-10, 10 ** 6))
keys = st.sampled_from(list(MODEL_FIELDS) + ["preset", "model_type", "num_hidden_layers",
                                             "num_attention_heads", "memory_gb", "bogus", "",
                                             "=1+1"])
cell = st.one_of(st.none(), numbers, st.sampled_from(HOSTILE_TEXT[:12] + list(preset_names())[:5]))
two_column = st.lists(st.lists(st.one_of(keys, cell), min_size=2, max_size=2), min_size=0,
                      max_size=5)
preset_range = st.builds(lambda name, extra: [["preset", name]] + extra,
                         st.sampled_from(preset_names()), two_column)
gpu_range = st.builds(lambda name, extra: [["preset", name]] + extra,
                      st.sampled_from(gpu_names()),
                      st.lists(st.tuples(st.sampled_from(["memory_gb", "peak_tflops_bf16",
                                                          "memory_bandwidth_gb_per_s", "bogus"]),
                                         numbers).map(list), max_size=3))


def _excel(strategy):
    """A value as Excel may send it: bare, or as a one-cell range [[x]] (Office.js)."""
    return st.one_of(strategy, strategy.map(lambda v: [[v]]))


NAMED = {
    "model": st.one_of(_excel(st.sampled_from(preset_names())), preset_range, two_column,
                       st.sampled_from(["llama-2-70", "LLAMA-2-70B", " gpt2 ", "llama"])),
    "gpu": st.one_of(_excel(st.sampled_from(gpu_names())), gpu_range,
                     st.sampled_from(["h100", "H100-SXM", "tpu-v5"])),
    "dtype": _excel(st.sampled_from(list(DTYPES()) + ["BF16", "int3", "bf16-mixed", "fp16"])),
    "kv_dtype": _excel(st.sampled_from(list(KV_DTYPES()) + ["FP8", "int2", "q4_k_m"])),
    "compute_dtype": _excel(st.sampled_from(list(COMPUTE_DTYPES()) + ["AUTO", "fp9", "int4"])),
    "precision": _excel(st.sampled_from(["bf16-mixed", "fp16-mixed", "fp32", "seed-001",
                                         "megatron-distopt", "bf16", "mixed"])),
    "optimizer": _excel(st.sampled_from(["adamw", "adam", "sgd", "lion", "adafactor",
                                         "adam-8bit", "sgd-momentum", "rmsprop"])),
    "recompute": _excel(st.sampled_from(["none", "selective", "full", "partial"])),
    "unit": _excel(st.sampled_from(["B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
                                    "gb", "gib", "GBs", "bytes"])),
    "part": _excel(st.sampled_from(["total", "weights", "kv_cache", "activations", "reserve",
                                    "optimizer", "gradients", "master_weights", "embedding",
                                    "mlp", "nodes_needed", "max_sequences", "kv_tokens",
                                    "num_blocks", "bogus"])),
    "mode": _excel(st.sampled_from(["inference", "training", "forward", "training-recompute",
                                    "Training", "serving"])),
    "field": _excel(st.sampled_from(list(MODEL_FIELDS[:8]) + ["memory_gb", "peak_tflops_fp8",
                                                            "model_type", "nominal_params",
                                                            "full_name", "bogus"])),
    "example": _excel(st.sampled_from(["llama-70b-inference", "llama-7b-training",
                                       "llama-13b-capacity", "nope"])),
    "engine": _excel(st.sampled_from(["vllm", "sglang", "trt-llm", "seed", "VLLM", "tgi"])),
}


TYPICAL = {"model": st.sampled_from(["llama-2-7b", "llama-2-70b", "mixtral-8x7b",
                                     "deepseek-v3", "gemma-2-9b", "gpt2"]),
           "gpu": st.sampled_from(["h100-sxm", "a100-80gb", "mi300x", "l4"])}
typical_number = st.sampled_from([1.0, 2.0, 8.0, 64.0, 512.0, 4096.0, 0.5])


def _strategy(name):
    """Mostly plausible values (so that deep paths run), hostile ones in every slot."""
    specific = NAMED.get(name, _excel(numbers))
    typical = TYPICAL.get(name, specific if name in NAMED else typical_number)
    return st.one_of(typical, typical, typical, specific, hostile)


def _arguments(fn):
    params = list(inspect.signature(fn).parameters.values())
    required = sum(p.default is inspect.Parameter.empty for p in params)
    return st.integers(required, len(params)).flatmap(
        lambda n: st.tuples(*[_strategy(p.name) for p in params[:n]]))


def _check(name, fn, args):
    params = list(inspect.signature(fn).parameters)
    result = fn(*args)
    if isinstance(result, str):
        if result.startswith("#"):
            assert "failed unexpectedly" not in result, (name, args, result)
            assert len(result) <= u.MAX_ERROR
            assert any(re.search(rf"\b{re.escape(p)}\b", result) for p in params), \
                (name, args, result)
        else:
            assert name in ("LLM_MODEL", "GPU_SPEC"), (name, args, result)
        return
    if isinstance(result, list):
        assert result and all(isinstance(r, list) and len(r) == len(result[0])
                              for r in result), (name, args)
        for row in result:
            for v in row:
                assert v is None or isinstance(v, (str, bool, int, float)), (name, args, v)
                assert not isinstance(v, float) or math.isfinite(v), (name, args, v)
        return
    assert isinstance(result, (bool, int, float)), (name, args, result)
    assert not isinstance(result, float) or math.isfinite(result), (name, args, result)


def _fuzz(name, examples):
    fn = u.CATALOGUE[name]

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_arguments(fn))
    def run(args):
        _check(name, fn, args)

    run()


#: the tables are slower (they evaluate many presets / a whole worked example)
SLOW = {"LLM_MODELS", "GPU_LIST", "SEED_CHECK", "LATENCY_TABLE", "MEM_TABLE",
        "SERVING_PLAN"}


def test_every_function_survives_hostile_arguments():
    """Hypothesis draws (and would shrink a failure to) mixed argument lists."""
    calls = 0
    for name in u.CATALOGUE:
        n = 20 if name in SLOW else 60
        _fuzz(name, n)
        calls += n
    assert calls > 1500


def _pool(name):
    """Plain values for the fast random fuzzer: plausible ones for the slot, then hostile."""
    plausible = {
        "model": list(preset_names()) + [[["preset", "llama-2-7b"], ["num_layers", 4.0]],
                                         [["preset", "gpt2"], ["hidden_size", 96.0]],
                                         ["preset", "mistral-7b"], "LLAMA-2-7B"],
        "gpu": list(gpu_names()) + [[["preset", "a10"], ["memory_gb", 48.0]]],
        "dtype": list(DTYPES()), "kv_dtype": list(KV_DTYPES()),
        "compute_dtype": list(COMPUTE_DTYPES()),
        "precision": ["bf16-mixed", "fp16-mixed", "fp32", "seed-001", "megatron-distopt"],
        "optimizer": ["adamw", "adam", "sgd", "lion", "adafactor", "adam-8bit"],
        "recompute": ["none", "selective", "full"],
        "unit": ["GB", "GiB", "MB", "TB", "B", "kib"],
        "part": ["total", "weights", "kv_cache", "optimizer", "nodes_needed", "kv_tokens"],
        "mode": ["inference", "training", "forward", "training-recompute"],
        "field": ["hidden_size", "num_layers", "memory_gb", "peak_tflops_fp8", "model_type"],
        "example": ["llama-70b-inference", "llama-7b-training", "llama-13b-capacity",
                    "seed-004-survey"],
    }.get(name, [1.0, 2.0, 4.0, 8.0, 16.0, 128.0, 1024.0, 4096.0, 0.5, 0.9, 1e12, 3.0])
    return plausible, HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_OTHER


def test_thousands_of_random_calls_per_function():
    """A fast seeded fuzzer: 2,000 argument lists for every function (200 for the
    tables), each slot plausible or hostile, each value bare or as a [[x]] range."""
    import random
    rng = random.Random(20240605)
    total = 0
    for name, fn in u.CATALOGUE.items():
        params = list(inspect.signature(fn).parameters.values())
        required = sum(p.default is inspect.Parameter.empty for p in params)
        pools = [_pool(p.name) for p in params]
        for _ in range(200 if name in SLOW else 2000):
            n = rng.randint(required, len(params))
            args = []
            for plausible, bad in pools[:n]:
                value = rng.choice(plausible if rng.random() < 0.8 else bad)
                args.append([[value]] if rng.random() < 0.2 else value)
            _check(name, fn, tuple(args))
            total += 1
    assert total > 50000


def test_hostile_values_in_every_slot_one_at_a_time():
    """Each argument of each function in turn takes every hostile value while the others
    are valid: the error (if any) names an argument; nothing raises."""
    valid = {"model": "llama-2-7b", "gpu": "h100-sxm", "batch": 8.0, "seq_len": 1024.0,
             "prompt_len": 512.0, "output_len": 64.0, "context_len": 600.0, "tokens": 1e9,
             "engine": "vllm",
             "n_gpus": 8.0, "tp": 2.0, "pp": 1.0, "dp": 1.0, "zero": 0.0, "mfu": 0.4,
             "bw_eff": 0.9, "size_bytes": 1e9, "n": 8.0, "bytes": 1e9, "gbytes_per_s": 450.0,
             "latency_us": 8.0, "concurrent_users": 100.0, "price_per_gpu_hour": 2.0,
             "iteration_time_s": 5.0, "mode": None, "part": None, "field": "hidden_size",
             "example": None, "gemm_m": 16.0, "gemm_n": 4096.0, "gemm_k": 4096.0,
             "isl": 512.0, "osl": 64.0, "request_rate": 4.0, "ttft_ms_max": 1000.0,
             "tpot_ms_max": 50.0, "gpus": "h100-sxm", "dtypes": "bf16"}
    special = {("MEM_TABLE", "mode"): "inference", ("GPU_SPEC", "field"): "memory_gb",
               ("TP_COMM", "tokens"): 512.0}     # tokens per sequence there (<= 1e8)
    count = 0
    for name, fn in u.CATALOGUE.items():
        params = list(inspect.signature(fn).parameters)
        base = [special.get((name, p), valid.get(p)) for p in params]
        first = fn(*base)
        assert not (isinstance(first, str) and first.startswith("#")), (name, first)
        for i in range(len(params)):
            for bad in HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_OTHER:
                args = list(base)
                args[i] = bad
                _check(name, fn, tuple(args))
                count += 1
    assert count > 10000


PLAUSIBLE = {
    "model": st.sampled_from(preset_names()),
    "gpu": st.sampled_from(gpu_names()),
    "dtype": st.sampled_from(["bf16", "fp16", "fp8", "int8", "int4", "fp32"]),
    "kv_dtype": st.sampled_from(["bf16", "fp8", "int8"]),
    "compute_dtype": st.sampled_from(["auto"]),
    "tp": st.sampled_from([1.0, 2.0, 4.0, 8.0]), "pp": st.sampled_from([1.0, 2.0, 4.0]),
    "dp": st.sampled_from([1.0, 2.0, 8.0]), "zero": st.sampled_from([0.0, 1.0, 2.0, 3.0]),
    "n_gpus": st.sampled_from([1.0, 2.0, 8.0, 64.0]), "n": st.sampled_from([2.0, 8.0]),
    "mfu": st.sampled_from([0.3, 0.5]), "bw_eff": st.sampled_from([0.8, 1.0]),
    "tokens": st.sampled_from([1.0, 128.0, 1e12]), "latency_us": st.sampled_from([0.0, 8.0]),
    "engine": st.sampled_from(["vllm", "sglang", "trt-llm", "seed"]),
}


def test_plausible_plans_run_deep():
    """Plausible arguments only (every preset and GPU, real dtypes and degrees): most calls
    compute a number; the rest are errors naming an argument (tp not dividing the heads,
    a dtype the GPU lacks …), never an exception."""
    ok = total = 0
    for name, fn in u.CATALOGUE.items():
        params = list(inspect.signature(fn).parameters)

        @settings(max_examples=15 if name in SLOW else 60, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(st.tuples(*[PLAUSIBLE.get(p, NAMED.get(p, typical_number)) for p in params]))
        def run(args):
            nonlocal ok, total
            _check(name, fn, args)
            result = fn(*args)
            total += 1
            ok += not (isinstance(result, str) and result.startswith("#"))

        run()
    assert ok > total / 3, (ok, total)
