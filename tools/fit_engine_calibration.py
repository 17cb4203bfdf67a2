"""Fit the serving engines' end-to-end constants on the CALIBRATION half of the validation
rows (never the held-out half), and print them for xlcalc/presets/engines/*.json.

Run from the repository root: ``python tools/fit_engine_calibration.py`` (minutes);
``--training`` fits the training step's share instead (seconds).

What is fitted, and why only these: every kernel rate the serving model uses is measured
data (presets/efficiency: GEMM plateau and fixed time, fused attention, STREAM bandwidth,
NCCL/RCCL collectives; the engines' custom all-reduce latency).  What no kernel benchmark
shows is how much of those rates an engine reaches end to end (norms, RoPE, activation
quantisation, sampling, scheduling gaps) and what a request costs outside the GPU (API
server, tokenisation, streaming the first token).  Three numbers stand for that:

* ``kernel_eff`` — the share of the calibrated kernel rates (compute and HBM) reached;
* ``step_overhead_s`` — time each engine step adds;
* ``request_overhead_s`` — time each request adds to its first token.

They are fitted together on every calibration serving row (throughput at maximum load,
TTFT and inter-token latency at a request rate), pooled over the engines: the calibration
half holds one vLLM serving row and none of SGLang, too few to fit an engine alone, so
vLLM, SGLang and TensorRT-LLM share the pooled values.  Loss: the sum of |log(estimate /
measured)| (robust to one outlying row); a coarse grid, then coordinate refinement.  The
``seed`` engine keeps 1 and 0 (the tutorials' plain roofline).

Training (``--training``), two shares of the GPU family's GEMM plateau, each fitted the
same way for the model it prices:

* ``training_share`` — what a training step reaches end to end (attention, element-wise
  kernels, communication, pipeline bubbles and the optimizer are in no GEMM benchmark): the
  plan-less training API prices 6ND at that rate.  Fitted on the calibration half's
  training throughput rows (through 6ND) and MFU rows; ``presets/training/step_share.json``.
* ``step_compute_share`` — what the step model's compute phases reach
  (:func:`xlcalc.training_step`'s ``compute_eff``; its bubble, element-wise kernels and
  exposed communication are modelled on top).  Fitted on the calibration half's training
  throughput rows through the step model; ``presets/training/step_compute_share.json``.
"""

from __future__ import annotations

import itertools
import math

from xlcalc import validation as V

KINDS = ("serving_throughput", "serving_latency")
NAMES = ("engine_kernel_eff", "engine_step_overhead_s", "engine_request_overhead_s")


def calibration_rows():
    return [r for r in V.load_measurements()["rows"]
            if r["kind"] in KINDS and not r["held_out"]]


def _log_loss(rows, context_name: str, constants: dict) -> float:
    """Σ |log(estimate / measured)| over ``rows`` with ``constants`` added to the graph
    inputs that ``validation.<context_name>`` builds for each row."""
    original = getattr(V, context_name)
    setattr(V, context_name, lambda row: dict(original(row), **constants))
    try:
        total = 0.0
        for row in rows:
            value, why = V.estimate_row(row)
            if value is None:
                raise RuntimeError(f"{row['id']}: {why}")
            total += abs(math.log(value / row["value"]))
        return total
    finally:
        setattr(V, context_name, original)


def loss(params, rows) -> float:
    """Σ |log(estimate / measured)| over ``rows`` with the engine constants ``params``."""
    return _log_loss(rows, "_serving_context", dict(zip(NAMES, params)))


def fit(rows):
    grid = (tuple(0.40 + 0.025 * i for i in range(21)), tuple(1e-3 * i for i in range(5)),
            tuple(2e-3 * i for i in range(9)))
    best = min((loss(p, rows), p) for p in itertools.product(*grid))
    steps = (0.0125, 0.25e-3, 1e-3)
    improved = True
    while improved:
        improved = False
        for i, step in enumerate(steps):
            for sign in (-1, 1):
                p = list(best[1])
                p[i] = max(0.0, p[i] + sign * step)
                trial = (loss(tuple(p), rows), tuple(p))
                if trial[0] < best[0] - 1e-9:
                    best, improved = trial, True
    return best


TRAINING_KINDS = ("training_throughput", "training_mfu")


def training_loss(share, rows) -> float:
    """Σ |log(estimate / measured)| over ``rows`` with the training share ``share``, the
    throughput rows through 6ND (the model ``training_share`` prices)."""
    original = V._ESTIMATORS["training_throughput"]
    V._ESTIMATORS["training_throughput"] = V.training_throughput_6nd
    try:
        return _log_loss(rows, "_training_context", {"training_share": share})
    finally:
        V._ESTIMATORS["training_throughput"] = original


def step_loss(share, rows) -> float:
    """Σ |log(estimate / measured)| over the throughput ``rows`` through the step model
    with ``step_compute_share`` = ``share``."""
    return _log_loss(rows, "_training_context", {"step_compute_share": share})


def fit_training(rows, loss=training_loss):
    grid = tuple(0.30 + 0.0125 * i for i in range(73))
    return min((loss(s, rows), s) for s in grid)


if __name__ == "__main__":
    import sys
    if "--training" in sys.argv:
        rows = [r for r in V.load_measurements()["rows"]
                if r["kind"] in TRAINING_KINDS and not r["held_out"]]
        value, share = fit_training(rows)
        print(f"{len(rows)} calibration rows; sum |log error| = {value:.4f}")
        print(f"training_share = {share:.6g}")
        rows = [r for r in rows if r["kind"] == "training_throughput"]
        value, share = fit_training(rows, step_loss)
        print(f"{len(rows)} calibration throughput rows, step model; "
              f"sum |log error| = {value:.4f}")
        print(f"step_compute_share = {share:.6g}")
        sys.exit()
    rows = calibration_rows()
    value, params = fit(rows)
    print(f"{len(rows)} calibration rows; sum |log error| = {value:.4f}")
    for name, p in zip(NAMES, params):
        print(f"{name} = {p:.6g}")
