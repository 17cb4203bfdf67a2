"""The training planner form."""

from __future__ import annotations

import pandas as pd

from xlcalc.errors import XlcalcError
from xlcalc.estimate import estimate, sweep
from xlcalc.glossary import TERMS
from xlcalc.hardware import load_gpu
from xlcalc.models import load_model
from xlcalc.training import TRAINING_DEFAULTS, train_memory, training_time
from xlcalc.training_plan import STEP_DEFAULTS, training_step
from xlcalc.units import to_unit

from . import controls as C
from .base import Plan, PlanForm
from .export import FormulaSpec
from .inference import _breakdown
from .render import Card, fmt

__all__ = ["TrainingForm", "TRAINING_FORM_DEFAULTS"]


def _calibrated_compute_eff(gpu, precision) -> float:
    """The step model's default ``compute_eff`` for ``gpu`` and ``precision``."""
    return round(float(estimate("compute_eff", gpu=gpu, precision=precision)["compute_eff"]), 2)


#: the form opens on seed 000 §七 example 2's plan (LLaMA-7B, batch 32 × 2048 on one GPU,
#: BF16 mixed, AdamW, full recomputation) with 140 B tokens (Chinchilla) to train on
TRAINING_FORM_DEFAULTS = dict(model="llama-7b", gpu="h100-sxm", batch=32, seq_len=2048,
                              precision="bf16-mixed", optimizer="adamw", zero=0,
                              recompute="full", dp=1, tp=1, pp=1, cp=1, ep=1,
                              stack="megatron", attention="flash", finetune="full",
                              lora_rank=16, tokens=140e9, mfu=0.4,
                              compute_eff=_calibrated_compute_eff("h100-sxm", "bf16-mixed"),
                              price_per_gpu_hour=2.5, activation_rule="korthikanti")

_PARTS = ("weights", "adapters", "master_weights", "gradients", "optimizer", "activations",
          "reserve")


class TrainingForm(PlanForm):
    """Training plan: memory per GPU (weights, LoRA adapters, master weights, gradients,
    optimizer states, activations, reserve) against the GPU for the training stack and
    attention kernel, the fewest GPUs, the step as it runs (compute, pipeline bubble,
    exposed communication, tokens/s, MFU) and the run's wall-clock days, GPU-hours and cost
    on the plan's ``dp × tp × pp × cp`` GPUs — from :func:`xlcalc.train_memory`,
    :func:`xlcalc.training_step` and :func:`xlcalc.training_time`.

    ``batch`` is the global batch (split over ``dp`` replicas, so ``dp`` offers its
    divisors); ``zero`` shards model states over ``dp``."""

    title = "xlcalc · training planner"
    subtitle = ("Memory per GPU and time to train: precision, optimizer, ZeRO, "
                "recomputation and parallelism (analytic estimates; MFU is an input).")
    template = "llama-7b-training"
    chart_parts = _PARTS
    sweep_axes = {"batch": "batch", "seq_len": "context (seq_len)", "tp": "tp", "dp": "dp"}
    groups = (
        ("Model and hardware", ("model", "gpu")),
        ("Workload", ("batch", "seq_len", "tokens")),
        ("Training stack", ("stack", "attention", "finetune", "lora_rank")),
        ("Precision and memory savers", ("precision", "optimizer", "zero", "recompute",
                                         "activation_rule")),
        ("Parallelism", ("dp", "tp", "pp", "cp", "ep")),
        ("Efficiency and price", ("mfu", "compute_eff", "price_per_gpu_hour")),
    )
    formulas = (
        # TRAIN_MEM has no activation_rule argument: it uses the glossary's default rule
        FormulaSpec("TRAIN_MEM", "total_gb", "memory per GPU (GB)",
                    requires={"activation_rule": "korthikanti"}),
        FormulaSpec("TRAIN_DAYS", "train_days", "wall-clock days"),
        # without seq_len LLM_FLOPS uses the 6ND / 8ND rules, as the training time does
        FormulaSpec("LLM_FLOPS", "flops", "training FLOPs (6ND)",
                    args={"mode": "training", "seq_len": None},
                    requires={"recompute": ("none", "selective")}),
        FormulaSpec("LLM_FLOPS", "flops", "training FLOPs (8ND, full recomputation)",
                    args={"mode": "training-recompute", "seq_len": None},
                    requires={"recompute": "full"}),
        FormulaSpec("LLM_PARAMS", "params", "parameters"),
    )

    def _make_controls(self) -> dict:
        d = TRAINING_FORM_DEFAULTS
        model, config = self._model_controls(d["model"])
        return {
            "model": model,
            "config_json": config,
            "gpu": self._gpu_control(d["gpu"]),
            "batch": C.int_slider("batch", d["batch"], 1, 4096),
            "seq_len": C.int_slider("seq_len", d["seq_len"], 128, 131072),
            "tokens": C.log_slider("tokens", d["tokens"], 8, 14),
            "precision": C.choice("precision", d["precision"]),
            "optimizer": C.choice("optimizer", d["optimizer"]),
            "zero": C.toggle("zero", value=d["zero"]),
            "recompute": C.toggle("recompute", value=d["recompute"]),
            "activation_rule": C.choice("activation_rule", d["activation_rule"]),
            "stack": C.toggle("stack", value=d["stack"]),
            "attention": C.toggle("attention", value=d["attention"]),
            "finetune": C.toggle("finetune", value=d["finetune"]),
            "lora_rank": C.int_dropdown("lora_rank", [4, 8, 16, 32, 64, 128, 256],
                                        d["lora_rank"]),
            "dp": C.int_dropdown("dp", C.nice_log_ints(1, d["batch"]), d["dp"]),
            "tp": C.int_dropdown("tp", [1, 2, 4, 8], d["tp"]),
            "pp": C.int_dropdown("pp", [1, 2, 4, 8], d["pp"]),
            "cp": C.int_dropdown("cp", [1, 2, 4, 8], d["cp"]),
            "ep": C.int_dropdown("ep", [1, 2, 4, 8, 16, 32, 64], d["ep"]),
            "mfu": C.fraction_slider("mfu", d["mfu"]),
            # opens at the calibrated value for the GPU and recipe, and follows them
            "compute_eff": C.fraction_slider("compute_eff", d["compute_eff"]),
            "price_per_gpu_hour": C.real_box("price_per_gpu_hour", d["price_per_gpu_hour"]),
        }

    def _wire_dependencies(self) -> None:
        super()._wire_dependencies()
        self.controls["batch"].observe(self._on_batch, "value")
        self._on_batch(None)
        for name in ("gpu", "precision"):
            self.controls[name].observe(self._on_hardware, "value")

    def _on_hardware(self, change) -> None:
        """A new GPU or recipe: ``compute_eff`` moves to its calibrated value (the family's
        GEMM plateau × the fitted step share); the planner can still set another."""
        try:
            value = _calibrated_compute_eff(self.controls["gpu"].value,
                                            self.controls["precision"].value)
        except XlcalcError:
            return           # a recipe the GPU does not compute in: the plan says so
        self.controls["compute_eff"].value = round(value, 2)

    def _on_batch(self, change) -> None:
        """``dp`` must divide the global batch: offer its divisors (glossary relation)."""
        from .base import _restrict
        batch = self.controls["batch"].value
        candidates = [d for d in range(1, min(batch, 4096) + 1) if batch % d == 0]
        with self.hold():
            _restrict(self.controls["dp"], C.allowed_by_relations("dp", candidates,
                                                                  {"batch": batch}))

    # ------------------------------------------------------------------ plan

    def compute(self, inputs: dict) -> Plan:
        i = dict(inputs)
        model, gpu = load_model(i["model"]), load_gpu(i["gpu"])
        plan = dict(stack=i["stack"], attention=i["attention"], cp=i["cp"], ep=i["ep"],
                    finetune=i["finetune"], lora_rank=i["lora_rank"])
        mem = train_memory(model, i["batch"], i["seq_len"], precision=i["precision"],
                           optimizer=i["optimizer"], zero=i["zero"], dp=i["dp"], tp=i["tp"],
                           pp=i["pp"], recompute=i["recompute"], gpu=gpu,
                           activation_rule=i["activation_rule"], **plan)
        n_gpus = estimate("train_world_size", dp=i["dp"], tp=i["tp"], pp=i["pp"],
                          cp=i["cp"])["train_world_size"]
        step = training_step(model, gpu, i["batch"], i["seq_len"], dp=i["dp"], tp=i["tp"],
                             pp=i["pp"], cp=i["cp"], ep=i["ep"], zero=i["zero"],
                             precision=i["precision"], recompute=i["recompute"],
                             stack=i["stack"], attention=i["attention"],
                             finetune=i["finetune"], lora_rank=i["lora_rank"],
                             compute_eff=i["compute_eff"])
        time = training_time(model, i["tokens"], gpu, n_gpus, mfu=i["mfu"],
                             recompute=i["recompute"], precision=i["precision"],
                             price_per_gpu_hour=i["price_per_gpu_hour"])
        gpu_bytes = float(mem["gpu_memory"])
        table = _breakdown(mem, (*_PARTS, "total"), gpu_bytes)
        from xlcalc.basics import params
        fig = {
            "fits": bool(mem["fits"]),
            "headroom_gb": to_unit(float(mem["headroom"]), "GB"),
            "total_gb": to_unit(float(mem["total"]), "GB"),
            "gpu_memory_gb": to_unit(gpu_bytes, "GB"),
            "gpus_needed": float(mem["gpus_needed"]),
            "n_gpus": float(n_gpus),
            "train_days": float(time["days"]),
            "gpu_hours": float(time["gpu_hours"]),
            "cost": float(time["cost"]),
            "tokens_per_s_per_gpu": float(time["tokens_per_s_per_gpu"]),
            "flops": float(time["flops"]),
            "params": float(params(model)["total"]),
            "step_s": float(step["step_s"]),
            "step_bubble_s": float(step["bubble_s"]),
            "step_exposed_comm_s": float(step["exposed_comm_s"]),
            "step_tokens_per_s_per_gpu": float(step["tokens_per_s_per_gpu"]),
            "step_mfu": float(step["mfu"]),
        }
        fits = fig["fits"]
        cards = [
            Card("fits", "Fits?", "fits" if fits else "does not fit", "",
                 f"{fmt(fig['total_gb'])} of {fmt(fig['gpu_memory_gb'])} GB per GPU",
                 "good" if fits else "bad"),
            Card("headroom_gb", "Headroom", fig["headroom_gb"], "GB", "memory left per GPU",
                 "" if fits else "bad"),
            Card("gpus_needed", "GPUs needed", fig["gpus_needed"], "",
                 "fewest, states fully sharded"),
            Card("n_gpus", "GPUs in this plan", fig["n_gpus"], "",
                 f"dp {i['dp']} × tp {i['tp']} × pp {i['pp']} × cp {i['cp']}"),
            Card("step_s", "Step time", fig["step_s"], "s",
                 f"bubble {fmt(fig['step_bubble_s'])} s, exposed comm "
                 f"{fmt(fig['step_exposed_comm_s'])} s"),
            Card("step_tokens_per_s_per_gpu", "Tokens/s per GPU (step)",
                 fig["step_tokens_per_s_per_gpu"], "",
                 f"MFU {fig['step_mfu']:.0%} at compute_eff {i['compute_eff']:.0%}"),
            Card("train_days", "Training time", fig["train_days"], "days",
                 f"{fmt(i['tokens'] / 1e9)} B tokens at MFU {i['mfu']:.0%}"),
            Card("gpu_hours", "GPU-hours", fig["gpu_hours"], "h",
                 f"{fmt(fig['flops'] / 1e21)} ZFLOPs"),
            Card("cost", "Cost", fig["cost"], "$", f"at ${i['price_per_gpu_hour']:g}/GPU-h"),
            Card("tokens_per_s_per_gpu", "Tokens/s per GPU", fig["tokens_per_s_per_gpu"], "",
                 f"{fmt(fig['params'] / 1e9)} B params"),
        ]
        chart = dict(parts_gb={p: to_unit(float(mem[p]), "GB") for p in _PARTS},
                     capacity_gb=fig["gpu_memory_gb"], budget_gb=None, capacity_label=gpu.name,
                     title=(f"{fmt(fig['total_gb'])} GB of {fmt(fig['gpu_memory_gb'])} GB "
                            f"per GPU — {'fits' if fig['fits'] else 'does NOT fit'}"))
        context = dict(i, model=i["model"] if isinstance(i["model"], str) else model,
                       gpu=gpu.name, n_gpus=n_gpus)
        warning = ""
        if i["seq_len"] > model.max_position_embeddings:
            warning = (f"seq_len={i['seq_len']:,} exceeds {model.name}'s trained context "
                       f"max_position_embeddings={model.max_position_embeddings:,}")
        return Plan(table, fig, cards, chart, context, warning)

    # ----------------------------------------------------------------- sweep

    def sweep_values(self, axis: str) -> list:
        if axis in ("tp", "dp"):
            return C.options_of(self.controls[axis])
        current = int(self.controls[axis].value)
        if axis == "batch":
            dp = int(self.controls["dp"].value)
            values = [v for v in (2 ** k for k in range(13)) if v % dp == 0]
        else:
            values = [2 ** k for k in range(8, 18)]
        return sorted({*values, current})

    def _sweep_inputs(self, inputs: dict) -> dict:
        """The training inputs the form computes with: its values and every other training
        input at its glossary default (as :func:`xlcalc.train_memory` fills them)."""
        ctx = {n: TERMS[n].default for n in (*TRAINING_DEFAULTS, *STEP_DEFAULTS)}
        ctx.update(inputs)
        return ctx

    def compute_sweep(self, inputs: dict, axis: str):
        """One vectorised :func:`xlcalc.sweep` of memory and time across ``axis`` (the run
        on the plan's ``dp × tp × pp`` GPUs: ``n_gpus`` bound to ``train_world_size``)."""
        i = self._sweep_inputs(inputs)
        i["model"], i["gpu"] = load_model(i["model"]), load_gpu(i["gpu"])
        i[axis] = self.sweep_values(axis)
        targets = ["train_total_bytes", "train_headroom_bytes", "train_fits",
                   "train_gpus_needed", "train_world_size", "train_wall_days",
                   "train_wall_cost"]
        frame = sweep(targets, bind={"n_gpus": "train_world_size"}, **i)
        return pd.DataFrame({
            axis: frame[axis].astype(int),
            "total_gb": frame["train_total_bytes"] / 1e9,
            "headroom_gb": frame["train_headroom_bytes"] / 1e9,
            "fits": frame["train_fits"].astype(bool),
            "gpus_needed": frame["train_gpus_needed"],
            "n_gpus": frame["train_world_size"],
            "train_days": frame["train_wall_days"],
            "cost": frame["train_wall_cost"],
        })

    def sweep_panels(self):
        return (("total_gb", "memory per GPU", "GB"), ("train_days", "training time", "days"),
                ("gpus_needed", "fewest GPUs", ""))

    # ---------------------------------------------------------------- export

    def workbook_inputs(self) -> dict:
        """The template's inputs from this form: the controls' values, ``n_gpus`` = the
        plan's GPUs, every other training input at its glossary default."""
        from xlcalc.workbooks.templates import template
        ctx = self.plan.context if self.plan else self.inputs
        defaults = self._sweep_inputs({})
        out = {}
        for name in template(self.template).inputs:
            if name in ctx:
                out[name] = ctx[name]
            elif name in defaults and defaults[name] is not None:
                out[name] = defaults[name]
        return out
