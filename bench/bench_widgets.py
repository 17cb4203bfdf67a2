"""Interaction latency of the Jupyter forms: control change -> updated output, in process.

For each control of :class:`widgets.InferenceForm` and :class:`widgets.TrainingForm` the
benchmark sets the widget's value (as the browser's comm message does in a kernel) and
times until the render has finished: the core's plan, the headline cards, the styled
breakdown table, the memory chart (matplotlib Agg PNG) and the Excel formula all updated.
Values alternate between two settings, so every change is a real re-render (the form
skips identical values).  Also timed: the first render of a new form and the Sweep tab
(an axis change: one vectorised core call, its table and plot; a control change while the
sweep is showing redraws both).  A model change includes updating the ``tp`` options.
Target: ≤ 50 ms median per control change.

    python bench/bench_widgets.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

#: control -> two values to alternate between (a real change each time)
INFERENCE_CHANGES = {
    "model": ("llama-3-70b", "llama-2-70b"), "gpu": ("h200", "h100-sxm"),
    "batch": (16, 8), "prompt_len": (1024, 512), "output_len": (512, 256),
    "tp": (4, 8), "pp": (2, 1), "dtype": ("fp8", "bf16"), "kv_dtype": ("fp8", "bf16"),
    "mfu": (0.4, 0.5), "bw_eff": (0.8, 1.0), "gpu_memory_utilization": (0.8, 0.9),
}
TRAINING_CHANGES = {
    "model": ("llama-2-7b", "llama-7b"), "gpu": ("h200", "h100-sxm"), "batch": (64, 32),
    "seq_len": (4096, 2048), "tokens": (1e12, 140e9), "precision": ("fp32", "bf16-mixed"),
    "optimizer": ("sgd", "adamw"), "zero": (3, 0), "recompute": ("none", "full"),
    "activation_rule": ("seed-000", "korthikanti"), "dp": (8, 1), "tp": (2, 1),
    "pp": (2, 1), "mfu": (0.5, 0.4), "price_per_gpu_hour": (4.0, 2.5),
}


def _quiet():
    """Without a kernel, interactive_output's clear_output prints a terminal escape on
    every render; keep it out of the report."""
    return contextlib.redirect_stdout(io.StringIO())


def time_changes(form, changes: dict, repeat: int) -> dict:
    out = {}
    for name, (a, b) in changes.items():
        widget = form.controls[name]
        times = []
        for i in range(repeat):
            value = a if i % 2 == 0 else b
            renders = form.renders
            with _quiet():
                start = time.perf_counter()
                widget.value = value
                elapsed = time.perf_counter() - start
            assert form.renders > renders and not form.error, (name, form.error)
            times.append(elapsed)
        if widget.value != b:          # leave the form as it was
            with _quiet():
                widget.value = b
        out[name] = times
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    with _quiet():
        start = time.perf_counter()
        from xlcalc.widgets import InferenceForm, TrainingForm
        import_s = time.perf_counter() - start
        forms = {}
        first = {}
        for cls in (InferenceForm, TrainingForm):
            start = time.perf_counter()
            forms[cls.__name__] = cls()
            first[cls.__name__] = time.perf_counter() - start

    print(f"import xlcalc.widgets (xlcalc, ipywidgets, matplotlib): {import_s * 1e3:.0f} ms")
    all_medians = []
    for label, changes in (("InferenceForm", INFERENCE_CHANGES),
                           ("TrainingForm", TRAINING_CHANGES)):
        form = forms[label]
        print(f"\n{label}: first form (controls + first render, cold): "
              f"{first[label] * 1e3:.0f} ms")
        results = time_changes(form, changes, args.repeat)
        print(f"  control change -> updated output, median / p90 of {args.repeat} (ms)")
        medians = []
        for name, times in results.items():
            times = sorted(times)
            med = statistics.median(times)
            p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
            medians.append(med)
            print(f"    {name:24s} {med * 1e3:7.1f} {p90 * 1e3:7.1f}")
        every = [t for ts in results.values() for t in ts]
        print(f"  all changes: median {statistics.median(every) * 1e3:.1f} ms, "
              f"worst control median {max(medians) * 1e3:.1f} ms")
        all_medians.extend(every)

        # the Sweep tab: one vectorised call + table + plot
        with _quiet():
            form.tabs.selected_index = 1
            times = []
            for i in range(max(3, args.repeat // 3)):
                start = time.perf_counter()
                form.sweep_axis.value = list(form.sweep_axes)[i % len(form.sweep_axes)]
                times.append(time.perf_counter() - start)
            first_control = list(changes)[2]          # batch: a change while it shows
            open_times = time_changes(form, {first_control: changes[first_control]},
                                      args.repeat)[first_control]
            form.tabs.selected_index = 0
        print(f"  sweep tab (axis change, {len(times)} runs): median "
              f"{statistics.median(times) * 1e3:.1f} ms; {first_control} change with the "
              f"sweep showing (plan + sweep): median {statistics.median(open_times) * 1e3:.1f} ms")
    print(f"\nall controls, both forms: median {statistics.median(all_medians) * 1e3:.1f} ms "
          f"(target <= 50 ms)")


if __name__ == "__main__":
    main()
