"""``xlcalc validate`` (xlcalc against published measurements) and ``xlcalc engines``."""

from __future__ import annotations

from .cli import command


def _setup_validate(p):
    p.add_argument("--kind", action="append",
                   help="only this kind (serving_throughput, serving_latency, kv_capacity, "
                        "training_throughput, training_mfu, training_memory); repeatable")
    p.add_argument("--summary", action="store_true",
                   help="print the median and worst error per kind and half only")
    p.add_argument("--markdown", action="store_true",
                   help="print docs/validation.md (summary and every row)")


@command("validate", "xlcalc's estimates against published measurements (median and worst "
         "error per kind, calibration and held-out halves)", _setup_validate)
def cmd_validate(args):
    from .validation import headline, markdown, summarize, validate
    table = validate(args.kind)
    if args.markdown:
        return markdown(table).rstrip("\n")   # print() adds the final newline back
    if args.summary:
        return summarize(table)
    rows = table[["id", "half", "metric", "measured", "estimate", "error"]].copy()
    # the answer first (the CLI's verdict line): the headline and, per kind, both halves
    rows.attrs["verdict"] = headline(table) + "\n\n" + _summary_text(summarize(table)) + "\n"
    return rows


def _summary_text(summary) -> str:
    """Median and worst absolute error per kind, calibration and held-out halves, in %."""
    shown = summary.copy()
    for col in ("median_abs_error", "worst_abs_error"):
        shown[col] = [("—" if v is None or v != v else f"{100 * v:.1f} %") for v in shown[col]]
    return shown.to_string(index=False)


@command("engines", "list the serving-engine presets (memory rules and defaults)")
def cmd_engines(args):
    from .engines import engines_table
    cols = ["full_name", "memory_fraction", "kv_free_fraction", "block_size",
            "tier5_max_num_batched_tokens", "tier5_max_num_seqs"]
    return engines_table()[cols].rename(columns={
        "tier5_max_num_batched_tokens": "max_num_batched_tokens (largest GPUs)",
        "tier5_max_num_seqs": "max_num_seqs (largest GPUs)"})
