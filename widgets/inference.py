"""The inference (serving) planner form."""

from __future__ import annotations

import pandas as pd

from xlcalc.estimate import estimate
from xlcalc.hardware import load_gpu
from xlcalc.models import load_model
from xlcalc.serving import (SERVING_DEFAULTS, gpus_needed, inference_latency, inference_memory,
                            inference_plan_sweep, serving_capacity)
from xlcalc.units import to_unit

from . import controls as C
from .base import Plan, PlanForm
from .export import FormulaSpec
from .render import Card, fmt

__all__ = ["InferenceForm", "INFERENCE_DEFAULTS"]

#: the form opens on seed 000 §七 example 1's workload (LLaMA-70B on 8×H100, TP=8) at the
#: calibrated defaults: the vLLM engine, the GPU family's measured efficiencies (the
#: efficiency controls at 0 mean "the default": calibrated, or the engine's)
INFERENCE_DEFAULTS = dict(model="llama-2-70b", gpu="h100-sxm", batch=8, prompt_len=512,
                          output_len=256, tp=8, pp=1, dtype="bf16", kv_dtype="bf16",
                          compute_dtype="auto", engine=SERVING_DEFAULTS["engine"], mfu=0.0,
                          bw_eff=0.0, gpu_memory_utilization=0.0)


_PARTS = ("weights", "kv_cache", "activations", "reserve")
_LABELS = {"weights": "weights", "kv_cache": "KV cache", "activations": "activations",
           "reserve": "engine reserve"}


class InferenceForm(PlanForm):
    """Serving plan: memory per GPU (weights, KV cache, activation peak, engine reserve)
    against the GPU, time to first token, time per output token, throughput, the most
    concurrent sequences and the fewest GPUs — from :func:`xlcalc.inference_memory`,
    :func:`~xlcalc.inference_latency`, :func:`~xlcalc.serving_capacity` and
    :func:`~xlcalc.gpus_needed`.

    ``InferenceForm(model="llama-3-8b", gpu="l40s", batch=32)`` opens on those values;
    ``form.set(tp=2)`` changes several at once; ``form.controls`` maps glossary names to
    widgets; ``form.result`` is the breakdown DataFrame and ``form.figures`` the headline
    figures.
    """

    title = "xlcalc · inference planner"
    subtitle = ("Memory per GPU, latency and capacity of serving a model: change a control "
                "and the plan follows (the engine's memory rules, vLLM by default; "
                "efficiencies calibrated per GPU family: 0 means the default).")
    template = "llama-70b-inference"
    chart_parts = _PARTS
    sweep_axes = {"batch": "batch", "prompt_len": "context (prompt_len)",
                  "output_len": "output_len", "tp": "tp"}
    groups = (
        ("Model and hardware", ("model", "gpu")),
        ("Workload", ("batch", "prompt_len", "output_len")),
        ("Parallelism and precision", ("tp", "pp", "dtype", "kv_dtype", "compute_dtype")),
        ("Engine and efficiency", ("engine", "mfu", "bw_eff", "gpu_memory_utilization")),
    )
    formulas = (
        FormulaSpec("INFER_MEM", "total_gb", "memory per GPU (GB)",
                    args={"part": "total", "unit": "GB"}),
        FormulaSpec("KV_CACHE", "kv_cache_gb", "KV cache per GPU (GB)", requires={"pp": 1}),
        FormulaSpec("WEIGHTS_MEM", "weights_gb", "weights per GPU (GB)"),
        FormulaSpec("PREFILL_MS", "ttft_ms", "time to first token (ms)",
                    requires={"pp": 1, "kv_dtype": "bf16", "bw_eff": 0.0}),
        FormulaSpec("GEN_SECONDS", "e2e_s", "end-to-end latency (s)", requires={"pp": 1}),
        FormulaSpec("TOKENS_PER_S", "tokens_per_s", "generated tokens/s", requires={"pp": 1}),
        FormulaSpec("MAX_BATCH", "max_batch", "most concurrent sequences",
                    requires={"pp": 1, "gpu_memory_utilization": 0.0}),
        FormulaSpec("GPUS_NEEDED", "gpus_needed", "fewest GPUs",
                    args={"mode": "inference", "part": "gpus"},
                    requires={"kv_dtype": "bf16", "gpu_memory_utilization": 0.0}),
        FormulaSpec("LLM_PARAMS", "params", "parameters"),
    )

    def __init__(self, **values):
        super().__init__(**values)

    def _make_controls(self) -> dict:
        d = INFERENCE_DEFAULTS
        model, config = self._model_controls(d["model"])
        return {
            "model": model,
            "config_json": config,
            "gpu": self._gpu_control(d["gpu"]),
            "batch": C.int_slider("batch", d["batch"], 1, 1024),
            "prompt_len": C.int_slider("prompt_len", d["prompt_len"], 16, 131072),
            "output_len": C.int_slider("output_len", d["output_len"], 1, 32768),
            "tp": C.int_dropdown("tp", [1, 2, 4, 8], d["tp"]),
            "pp": C.int_dropdown("pp", [1, 2, 4, 8], d["pp"]),
            "dtype": C.choice("dtype", d["dtype"]),
            "kv_dtype": C.choice("kv_dtype", d["kv_dtype"]),
            "compute_dtype": C.choice("compute_dtype", d["compute_dtype"]),
            "engine": C.choice("engine", d["engine"]),
            "mfu": C.fraction_slider("mfu", d["mfu"], lo=0.0),
            "bw_eff": C.fraction_slider("bw_eff", d["bw_eff"], lo=0.0),
            "gpu_memory_utilization": C.fraction_slider("gpu_memory_utilization",
                                                        d["gpu_memory_utilization"], lo=0.0),
        }

    # ------------------------------------------------------------------ plan

    def compute(self, inputs: dict) -> Plan:
        i = dict(inputs)
        model, gpu = load_model(i["model"]), load_gpu(i["gpu"])
        util = i["gpu_memory_utilization"]
        seq_len = estimate("total_len", prompt_len=i["prompt_len"],
                           output_len=i["output_len"])["total_len"]
        common = dict(dtype=i["dtype"], kv_dtype=i["kv_dtype"], engine=i["engine"])
        lat = inference_latency(model, gpu, i["batch"], i["prompt_len"], i["output_len"],
                                tp=i["tp"], pp=i["pp"], mfu=i["mfu"], bw_eff=i["bw_eff"],
                                compute_dtype=i["compute_dtype"], **common)
        mem = inference_memory(model, i["batch"], seq_len, tp=i["tp"], pp=i["pp"], gpu=gpu,
                               gpu_memory_utilization=util, **common)
        cap = serving_capacity(model, gpu, seq_len, tp=i["tp"], pp=i["pp"],
                               gpu_memory_utilization=util, **common)
        need = gpus_needed(model, gpu, i["batch"], seq_len, gpu_memory_utilization=util,
                           **common)
        gpu_bytes = estimate("gpu_memory_bytes", gpu=gpu)["gpu_memory_bytes"]

        table = _breakdown(mem, ("weights", "kv_cache", "activations", "reserve", "total"),
                           gpu_bytes)
        gb = {p: to_unit(float(mem[p]), "GB") for p in ("weights", "kv_cache", "activations",
                                                          "reserve", "total", "budget",
                                                          "headroom")}
        from xlcalc.basics import params
        fig = {
            "fits": bool(mem["fits"]),
            "headroom_gb": gb["headroom"],
            "total_gb": gb["total"],
            "weights_gb": gb["weights"],
            "kv_cache_gb": gb["kv_cache"],
            "budget_gb": gb["budget"],
            "gpu_memory_gb": to_unit(gpu_bytes, "GB"),
            "ttft_ms": float(lat["ttft_s"]) * 1e3,
            "tpot_ms": float(lat["tpot_s"]) * 1e3,
            "e2e_s": float(lat["e2e_s"]),
            "tokens_per_s": float(lat["tokens_per_s"]),
            "tokens_per_s_per_user": float(lat["tokens_per_s_per_user"]),
            "max_batch": float(cap["max_sequences"]),
            "gpus_needed": float(need["gpus_needed"]),
            "seq_len": float(seq_len),
            "params": float(params(model)["total"]),
        }
        n_gpus = i["tp"] * i["pp"]
        cards = [
            Card("fits", "Fits?", "fits" if fig["fits"] else "does not fit", "",
                 f"{fmt(fig['total_gb'])} of {fmt(fig['budget_gb'])} usable per GPU",
                 "good" if fig["fits"] else "bad"),
            Card("headroom_gb", "Headroom", fig["headroom_gb"], "GB",
                 "usable memory left per GPU", "" if fig["fits"] else "bad"),
            Card("ttft_ms", "Time to first token", fig["ttft_ms"], "ms",
                 f"prefill, {lat['prefill_bound']}-bound ({i['engine']})"),
            Card("tpot_ms", "Time per output token", fig["tpot_ms"], "ms",
                 f"decode, {lat['decode_bound']}-bound"),
            Card("tokens_per_s", "Throughput", fig["tokens_per_s"], "tokens/s",
                 f"{fmt(fig['tokens_per_s_per_user'])} per user"),
            Card("e2e_s", "End-to-end", fig["e2e_s"], "s",
                 f"{i['prompt_len']:,} in, {i['output_len']:,} out"),
            Card("max_batch", "Max batch", fig["max_batch"], "seqs",
                 f"{int(seq_len):,}-token seqs, {n_gpus} GPU{'s' if n_gpus > 1 else ''}",
                 "" if fig["max_batch"] >= i["batch"] else "bad"),
            Card("gpus_needed", "GPUs needed", fig["gpus_needed"], "",
                 f"fewest that fit: tp {int(need['tp'])} × pp {int(need['pp'])}"
                 if fig["gpus_needed"] else "no split fits",
                 "" if fig["gpus_needed"] else "bad"),
        ]
        chart = dict(parts_gb={p: gb[p] for p in _PARTS}, capacity_gb=fig["gpu_memory_gb"],
                     budget_gb=fig["budget_gb"], capacity_label=gpu.name,
                     title=(f"{fmt(fig['total_gb'])} GB of {fmt(fig['gpu_memory_gb'])} GB "
                            f"per GPU — {'fits' if fig['fits'] else 'does NOT fit'}"))
        context = dict(i, model=i["model"] if isinstance(i["model"], str) else model,
                       gpu=gpu.name, seq_len=seq_len, n_gpus=i["tp"])
        warning = lat["warning"] or ""
        return Plan(table, fig, cards, chart, context, warning)

    # ----------------------------------------------------------------- sweep

    def sweep_values(self, axis: str) -> list:
        current = self.controls[axis].value
        if axis == "tp":
            return C.options_of(self.controls["tp"])
        hi = {"batch": 1024, "prompt_len": 131072, "output_len": 16384}[axis]
        lo = {"batch": 1, "prompt_len": 128, "output_len": 16}[axis]
        values = [v for v in C.nice_log_ints(lo, hi) if v & (v - 1) == 0]   # powers of two
        return sorted({*values, int(current)})

    def compute_sweep(self, inputs: dict, axis: str):
        """One vectorised :func:`~xlcalc.inference_plan_sweep` over ``axis``: memory,
        latency and capacity as the plan computes them (the engine's KV pages)."""
        i = dict(inputs)
        i["model"], i["gpu"] = load_model(i["model"]), load_gpu(i["gpu"])
        i[axis] = self.sweep_values(axis)
        targets = ("infer_total_bytes", "infer_headroom_bytes", "infer_fits", "ttft_s",
                   "tpot_s", "e2e_s", "tokens_per_s", "max_sequences")
        frame = inference_plan_sweep(targets, **i)
        exact = paged = frame
        return pd.DataFrame({
            axis: exact[axis].astype(int),
            "total_gb": exact["infer_total_bytes"] / 1e9,
            "headroom_gb": exact["infer_headroom_bytes"] / 1e9,
            "fits": exact["infer_fits"].astype(bool),
            "ttft_ms": exact["ttft_s"] * 1e3,
            "tpot_ms": exact["tpot_s"] * 1e3,
            "e2e_s": exact["e2e_s"],
            "tokens_per_s": exact["tokens_per_s"],
            "max_batch": paged["max_sequences"],
        })

    def sweep_panels(self):
        return (("total_gb", "memory per GPU", "GB"), ("tpot_ms", "time per output token", "ms"),
                ("tokens_per_s", "throughput", "tokens/s"))

    # ---------------------------------------------------------------- export

    def workbook_inputs(self) -> dict:
        """The template's inputs from this form: the controls' values, every other serving
        input at the value the form computes with (a default that is the engine's or the
        GPU family's — the controls at 0 — is evaluated for the plan)."""
        from xlcalc.serving import _inputs
        from xlcalc.workbooks.templates import template
        ctx = self.plan.context if self.plan else self.inputs
        given = {k: v for k, v in ctx.items() if k in self.controls or k == "model"}
        out, computed = {}, []
        for name in template(self.template).inputs:
            if name in given and given[name] is not None:
                out[name] = given[name]
            elif name in SERVING_DEFAULTS and name not in given:
                out[name] = SERVING_DEFAULTS[name]
            else:
                computed.append(name)
        if computed:
            plan = _inputs(dict(given, batch=ctx["batch"], seq_len=ctx.get("seq_len"),
                                prompt_len=ctx["prompt_len"], output_len=ctx["output_len"]))
            values = estimate(computed, **plan)
            out.update({name: values[name] for name in computed})
        return out


def _breakdown(parts, names, gpu_bytes) -> pd.DataFrame:
    """part, GB, share of GPU memory — the breakdown table of a form."""
    rows = [(p, to_unit(float(parts[p]), "GB"), float(parts[p]) / gpu_bytes) for p in names]
    return pd.DataFrame(rows, columns=["part", "GB", "share of GPU memory"])
