"""Two versions of xlcalc, one scalar call each, in alternating processes.

A before/after comparison on a shared machine: each round starts one process per source
tree (``PYTHONPATH`` set to it), and each process times the same calls -- the KV_CACHE and
WEIGHTS_MEM Excel functions and the core calls they wrap -- after warming them up.  The
rounds alternate the trees, so both see the same load.  Each process times 15 blocks of
2,000 calls (µs per call, wall clock and CPU time of the calling thread); the figures are
the median over the rounds of each process's median block, and the fastest block of all.

    python bench/bench_versions.py OLD_TREE [NEW_TREE] [--rounds 7]

(``NEW_TREE`` defaults to this checkout; a tree is a directory holding the ``xlcalc``
package, e.g. a ``git worktree`` of another commit.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, statistics, time
import xlcalc, xlcalc.udfs as udfs
from xlcalc import basics, serving
calls = {
    "KV_CACHE": lambda: udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0),
    "kv_cache_bytes": lambda: basics.kv_cache_bytes("llama-2-70b", 8.0, 4096.0),
    "WEIGHTS_MEM": lambda: udfs.WEIGHTS_MEM("llama-2-70b", "bf16", 8.0),
    "weights_memory": lambda: serving.weights_memory("llama-2-70b", "bf16", 8.0),
}
out = {}
for name, fn in calls.items():
    for _ in range(500):
        fn()
    wall, cpu = [], []
    for _ in range(15):
        w0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(2000):
            fn()
        wall.append((time.perf_counter() - w0) / 2000 * 1e6)
        cpu.append((time.thread_time() - c0) / 2000 * 1e6)
    out[name] = (statistics.median(wall), statistics.median(cpu), min(wall), min(cpu))
print(json.dumps(out))
"""


def run(tree: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path, nargs="?", default=Path(__file__).resolve().parents[1])
    p.add_argument("--rounds", type=int, default=7)
    a = p.parse_args(argv)
    got = {"old": [], "new": []}
    for _ in range(a.rounds):
        got["old"].append(run(a.old))
        got["new"].append(run(a.new))
    print(f"old: {a.old}\nnew: {a.new}\n{os.getloadavg()[0]:.2f} load (1 min) at the end")
    print(f"{'call':<16}{'':>6}{'old µs':>10}{'new µs':>10}{'new/old':>9}"
          f"   (median of {a.rounds} processes' median blocks; fastest block in brackets)")
    for name in got["old"][0]:
        for i, clock in enumerate(("wall", "cpu")):
            old = [r[name][i] for r in got["old"]]
            new = [r[name][i] for r in got["new"]]
            fastest = (min(r[name][2 + i] for r in got["old"]),
                       min(r[name][2 + i] for r in got["new"]))
            print(f"{name:<16}{clock:>6}{statistics.median(old):>10.2f}"
                  f"{statistics.median(new):>10.2f}"
                  f"{statistics.median(new) / statistics.median(old):>9.2f}"
                  f"   ({fastest[0]:.2f} → {fastest[1]:.2f})")


if __name__ == "__main__":
    main()
