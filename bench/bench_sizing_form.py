"""Interaction latency of the SizingForm: control change -> verdict, cards, Pareto chart and
best-plans table updated, in process (as a kernel applies a browser's change).

Each control alternates between two values (every change is a real re-render: a new
plan_serving over the form's grid, widgets.sizing.SIZING_GRID).  The form is made and
rendered once before timing.  Target: < 100 ms per control change (median).  The machine
is shared: the load average is printed before and after.

    python bench/bench_sizing_form.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

CHANGES = {
    "model": ("llama-3.1-8b", "llama-3.1-70b"), "prompt_len": (1024, 2048),
    "output_len": (256, 500), "request_rate": (100.0, 200.0), "ttft_ms_max": (500.0, 1000.0),
    "tpot_ms_max": (20.0, 33.0), "gpus": (("h100-sxm", "h200"), ("h100-sxm", "h200", "b200")),
    "dtypes": (("bf16",), ("bf16", "fp8")), "disaggregated": (False, True),
    "price:h200": (3.0, 4.0),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with contextlib.redirect_stdout(io.StringIO()):
        from xlcalc.widgets import SizingForm
        start = time.perf_counter()
        form = SizingForm()
        first = time.perf_counter() - start
    print(f"first form (controls + first render): {first * 1e3:.0f} ms, "
          f"{len(form.result):,} candidates")
    every, medians = [], {}
    for name, (a, b) in CHANGES.items():
        times = []
        for i in range(args.repeat):
            with contextlib.redirect_stdout(io.StringIO()):
                t0 = time.perf_counter()
                form.controls[name].value = a if i % 2 == 0 else b
                times.append(time.perf_counter() - t0)
            assert not form.error, (name, form.error)
        with contextlib.redirect_stdout(io.StringIO()):
            form.controls[name].value = b
        medians[name] = statistics.median(times)
        every += times
        print(f"  {name:16s} median {medians[name] * 1e3:6.1f} ms")
    print(f"all changes: median {statistics.median(every) * 1e3:.1f} ms, worst control median "
          f"{max(medians.values()) * 1e3:.1f} ms (target < 100 ms)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
