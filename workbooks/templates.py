"""The planning-workbook templates: specs whose live inputs reproduce the seeds'
worked examples (and a neutral general planner).

``xlcalc workbook NAME -o FILE`` writes one; ``python -m xlcalc.workbooks.templates`` (or
``xlcalc workbook --all -o templates/``) regenerates the committed files in
``templates/``; a test checks they are up to date.
"""

from __future__ import annotations

from pathlib import Path

from xlcalc.errors import unknown_choice
from xlcalc.worked import example

from .spec import Fit, Output, Section, Side, WorkbookSpec

__all__ = ["TEMPLATES", "template", "write_template", "template_bytes", "regenerate"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


def _inference_sections():
    return (
        Section("Model", (
            Output("params", "params_total", "Parameters", "parameters"),
            Output("active_params", "params_active", "Active parameters per token", "parameters"),
        )),
        Section("Memory per GPU", (
            Output("weights_gb", "infer_weights_bytes", "Weights", "GB", part=True),
            Output("kv_cache_gb", "infer_kv_cache_bytes", "KV cache", "GB", part=True),
            Output("activations_gb", "infer_activation_bytes", "Activations (peak)", "GB",
                   part=True),
            Output("reserve_gb", "infer_reserve_bytes", "Engine reserve", "GB", part=True),
            Output("total_gb", "infer_total_bytes", "Total", "GB", chart=True),
            Output("budget_gb", "infer_budget_bytes", "Usable (gpu_memory_utilization)", "GB",
                   chart=True),
            Output("headroom_gb", "infer_headroom_bytes", "Headroom", "GB"),
        )),
        Section("Latency and throughput", (
            Output("prefill_ms", "ttft_s", "Time to first token (prefill)", "ms"),
            Output("tpot_ms", "tpot_s", "Time per output token (excl. first)", "ms"),
            Output("e2e_s", "e2e_s", "End-to-end latency", "s"),
            Output("tokens_per_s", "tokens_per_s", "Generated tokens/s (batch)", "tokens/s"),
            Output("tokens_per_s_per_user", "tokens_per_s_per_user", "Tokens/s per user",
                   "tokens/s"),
            Output("prefill_bound", "prefill_bound", "Prefill is bound by", ""),
            Output("decode_bound", "decode_last_bound", "Decode is bound by", ""),
            Output("decode_intensity", "decode_last_intensity", "Decode intensity", "FLOP/B"),
            Output("ridge_intensity", "ridge_intensity", "GPU ridge point", "FLOP/B"),
        )),
        Section("Capacity and sizing", (
            Output("max_batch", "max_sequences", "Most concurrent sequences (this TP)",
                   "sequences"),
            Output("gpus_needed", "gpus_needed", "Fewest GPUs that fit", "GPUs"),
            Output("tp_comm_gb", "tp_comm_bytes", "TP traffic per GPU per prefill", "GB"),
            Output("context_warning", "generation_warning", "Context check", ""),
        )),
    )


def _inference(name, title, description, inputs, examples=()):
    return WorkbookSpec(
        name=name, title=title, description=description, inputs=inputs,
        sections=_inference_sections(),
        fits=(Fit("infer_fits", "Fits on one GPU?", "fits", "does NOT fit"),),
        capacity_node="gpu_memory_bytes", chart_title="Inference memory per GPU (GB)",
        worked_examples=tuple(examples),
        bind={"seq_len": "total_len", "context_len": "decode_first_context"})


def _training_sections():
    return (
        Section("Model", (
            Output("params", "params_total", "Parameters", "parameters"),
        )),
        Section("Memory per GPU", (
            Output("weights_gb", "train_weights_bytes", "Weights", "GB", part=True),
            Output("master_weights_gb", "train_master_weights_bytes", "Master weights", "GB",
                   part=True),
            Output("gradients_gb", "train_gradients_bytes", "Gradients", "GB", part=True),
            Output("optimizer_gb", "train_optimizer_bytes", "Optimizer states", "GB", part=True),
            Output("activations_gb", "train_activation_bytes", "Activations", "GB", part=True),
            Output("reserve_gb", "train_reserve_bytes", "Buffers / reserve", "GB", part=True),
            Output("total_gb", "train_total_bytes", "Total", "GB", chart=True),
            Output("headroom_gb", "train_headroom_bytes", "Headroom", "GB"),
            Output("gpus_needed", "train_gpus_needed", "Fewest GPUs that fit", "GPUs"),
        )),
        Section("Step time (as it runs)", (
            Output("step_compute_s", "train_compute_s", "Compute per step", "s"),
            Output("step_bubble_s", "train_bubble_s", "Pipeline bubble", "s"),
            Output("step_dp_comm_s", "train_dp_comm_s", "Data-parallel communication", "s"),
            Output("step_tp_comm_s", "train_tp_comm_s", "Tensor-parallel communication", "s"),
            Output("step_exposed_comm_s", "train_exposed_comm_s", "Exposed communication", "s"),
            Output("step_s", "train_step_s", "Step time", "s"),
            Output("step_tokens_per_s_per_gpu", "train_step_tokens_per_s_per_gpu",
                   "Tokens/s per GPU (step model)", "tokens/s"),
            Output("step_mfu", "train_step_mfu", "MFU (step model)", ""),
            Output("run_days", "train_run_days", "Whole run (step model, goodput)", "days"),
        )),
        Section("Time and cost", (
            Output("train_flops", "train_flops", "Training FLOPs", "ZFLOPs"),
            Output("train_days", "train_wall_s", "Wall-clock time (÷ goodput)", "days"),
            Output("gpu_hours", "train_wall_gpu_hours", "GPU-hours", "GPU-h"),
            Output("train_cost", "train_wall_cost", "Cost", "$"),
            Output("tokens_per_s_per_gpu", "train_tokens_per_s_per_gpu", "Tokens/s per GPU",
                   "tokens/s"),
            Output("chinchilla_tokens", "chinchilla_tokens", "Chinchilla tokens (20/param)",
                   "tokens"),
        )),
    )


def _step_inputs() -> dict:
    """The step model's efficiencies and links at their glossary defaults (a term without
    one, link_eff and link_latency_us, is the GPU family's calibrated node)."""
    from xlcalc.glossary import TERMS
    from xlcalc.graph import load_all
    from xlcalc.training_plan import STEP_DEFAULTS
    load_all()
    return {name: TERMS[name].default for name in STEP_DEFAULTS
            if TERMS[name].default is not None}


def _training(name, title, description, inputs, examples=()):
    inputs = dict(inputs, **{k: v for k, v in _step_inputs().items() if k not in inputs})
    return WorkbookSpec(
        name=name, title=title, description=description, inputs=inputs,
        sections=_training_sections(),
        fits=(Fit("train_fits", "Fits on one GPU?", "fits", "does NOT fit"),),
        capacity_node="gpu_memory_bytes", chart_title="Training memory per GPU (GB)",
        worked_examples=tuple(examples))


def _llama_70b_inference():
    ex = example("llama-70b-inference")
    inputs = {k: v for k, v in ex.inputs.items() if k != "context_len"}
    return _inference(
        "llama-70b-inference",
        "{model} inference on {gpu} (tp {tp}, pp {pp}): batch {batch}, {prompt_len} tokens in "
        "/ {output_len} out",
        "Serving plan: memory per GPU, latency and capacity. Change any input; every sheet "
        "follows. It opens on worked example 1 of the source tutorials (LLaMA-2-70B on 8 H100, "
        "tp 8); the Worked example sheets show each figure the tutorials print beside the "
        "live value.",
        inputs, ("llama-70b-inference", "llama-70b-communication", "llama-13b-capacity",
                 "seed-000-more", "seed-002-notes", "seed-003-more", "seed-004-survey"))


def _llama_7b_training():
    ex = example("llama-7b-training")
    inputs = dict(ex.inputs)
    # the seed's scenario, priced with xlcalc's own activation model (which follows
    # recompute/flash/sequence-parallel inputs) and the default 2 GB reserve; the Worked
    # example sheet keeps the seed's rule of thumb in its own scenario block
    inputs.update(activation_rule="korthikanti", train_reserve_bytes=2e9, tokens=140e9,
                  n_gpus=8, mfu=0.4, price_per_gpu_hour=2.5)
    return _training(
        "llama-7b-training",
        "{model} training on {n_gpus} {gpu}: batch {batch} × {seq_len} tokens, {precision}, "
        "{optimizer}, ZeRO {zero}, recompute {recompute}",
        "Training plan: memory per GPU, time and cost. Change any input; every sheet follows. "
        "It opens on worked example 2 of the source tutorials (LLaMA-7B, batch 32 × 2048 "
        "tokens, full recomputation), priced for 140 B tokens on 8 GPUs at 40 % MFU.",
        inputs, ("llama-7b-training", "llama-70b-training-memory",
                 "llama-70b-pretraining-days", "seed-001-resources"))


def _capacity_planner():
    from xlcalc.serving import SERVING_DEFAULTS
    from xlcalc.training import TRAINING_DEFAULTS
    from xlcalc.glossary import TERMS
    from xlcalc.graph import load_all
    load_all()      # the training terms are registered by their formula modules
    serving = dict(SERVING_DEFAULTS)
    serving.update(model="llama-3.1-8b", gpu="h100-sxm", batch=32, prompt_len=1024,
                   output_len=512, block_size=16)
    inputs = {k: serving[k] for k in ("model", "gpu", "batch", "prompt_len", "output_len",
                                      "tp", "pp", "dtype", "kv_dtype", "mfu", "bw_eff")}
    inputs.update({k: v for k, v in serving.items() if k not in inputs})
    training = {name: TERMS[name].default for name in TRAINING_DEFAULTS}
    training.update(_step_inputs())
    training.update(batch=512, micro_batch=1, seq_len=4096, dp=64, zero=1,
                    recompute="selective", tokens=1e12, n_gpus=64, mfu=0.4,
                    price_per_gpu_hour=2.5)
    sections = _inference_sections()
    serving_sections = (sections[1], sections[2], sections[3])
    return WorkbookSpec(
        name="capacity-planner",
        title="Capacity plan for {model} on {gpu}: serving batch {batch} at tp {tp}; training "
              "batch {training_batch} on {training_n_gpus} GPUs",
        description="Pick any model and accelerator. Serving (top) and training (below) "
        "have their own inputs; everything is recomputed live from the formulas.",
        inputs=inputs, sections=(sections[0],) + serving_sections,
        fits=(Fit("infer_fits", "Serving fits on one GPU?", "fits", "does NOT fit"),),
        capacity_node="gpu_memory_bytes", chart_title="Serving memory per GPU (GB)",
        bind={"seq_len": "total_len", "context_len": "decode_first_context"},
        sides=(Side("training", "Training", training, _training_sections()[1:],
                    (Fit("train_fits", "Training fits on one GPU?", "fits",
                         "does NOT fit"),)),))


def _serving_sizing():
    from .sizing import serving_sizing
    return serving_sizing()


TEMPLATES = {
    "llama-70b-inference": _llama_70b_inference,
    "llama-7b-training": _llama_7b_training,
    "capacity-planner": _capacity_planner,
    "serving-sizing": _serving_sizing,
}


def template(name: str) -> WorkbookSpec:
    """The spec of template ``name`` (see :data:`TEMPLATES`)."""
    if name not in TEMPLATES:
        raise unknown_choice("workbook", name, TEMPLATES)
    return TEMPLATES[name]()


def write_template(name: str, path, inputs: dict | None = None):
    """Write template ``name`` to ``path``; ``inputs`` replace its input values (the
    glossary names on its Inputs sheet).  Returns the built workbook."""
    from .generator import write
    return write(template(name), path, inputs)


def template_bytes(name: str, inputs: dict | None = None) -> bytes:
    """Template ``name`` with ``inputs`` as an .xlsx file in memory (a browser download)."""
    from .generator import to_bytes
    return to_bytes(template(name), inputs)


def regenerate(directory=None) -> list:
    """Write every template into ``directory`` (default: the committed ``templates/`` of a
    checkout; an installed xlcalc has none, so there a folder must be given)."""
    if directory is None:
        if not (TEMPLATE_DIR.parent / "pyproject.toml").exists():
            from xlcalc.errors import XlcalcError
            raise XlcalcError("outside a checkout of xlcalc, --all needs a folder: "
                              "xlcalc workbook --all -o FOLDER", "output")
        directory = TEMPLATE_DIR
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name in TEMPLATES:
        path = directory / f"{name}.xlsx"
        write_template(name, path)
        out.append(path)
    return out


if __name__ == "__main__":   # python -m xlcalc.workbooks.templates
    for p in regenerate():
        print(p)
