"""Calibrated efficiencies: what a GPU family achieves against its datasheet, as defaults.

The ``efficiency`` table (:func:`xlcalc.efficiency.calibration_table`, one row per GPU
family, each column with the measurements behind it) is read at the accelerator's
``family``.  Every compute and memory time of the serving and latency models goes
through the nodes here:

* **GEMMs by size** — a Calculon-style saturating curve: one GEMM of ``F`` FLOPs takes
  ``F / (plateau × peak) + fixed`` seconds, i.e. runs at ``plateau × F / (F + plateau ×
  peak × fixed)`` of the peak; for ``m`` tokens through a ``k × n`` weight that is
  ``plateau × m / (m + m½)`` with ``m½ = plateau × peak × fixed / (2kn)``: small decode
  batches sit far below the plateau, large prefill chunks at it.  The plateau is the
  family's 8-bit figure when the plan computes on 8-bit (or 4-bit) tensor cores, else its
  16-bit figure.  A step runs :func:`gemms_per_layer` GEMMs per layer plus the LM head.
* **attention** — the family's best fused kernel (FlashAttention-3 on Hopper) for the
  score and value products of a prefill; decode attention reads the KV cache and is
  memory-bound.
* **HBM** — ``bw_eff`` defaults to the family's sustained (STREAM triad) share of the
  datasheet bandwidth.
* **collectives** — ``link_eff`` defaults to the family's all-reduce bus-bandwidth share
  of the scale-up link, ``link_latency_us`` to its smallest-message time (NCCL/RCCL).

Explicit values win: ``mfu`` > 0 runs every FLOP at that share of the peak with no fixed
GEMM time (the plain roofline of the seeds); ``bw_eff`` > 0 replaces the calibrated HBM
share; a given ``link_eff`` or ``link_latency_us`` replaces the calibrated one.  ``mfu``
and ``bw_eff`` are 0 by default, meaning "calibrated" (an empty cell in a workbook or an
Excel function reads 0): ``mfu``'s default is a curve rather than a number, and both
depend on the engine as well as the GPU family.
"""

from ..efficiency import CALIBRATION_COLUMNS, calibration_table
from ..expr import where
from ..graph import formula, lookup_node, register_table

_T = "efficiency table (xlcalc/presets/efficiency/*.json, rules in xlcalc.efficiency)"

register_table("efficiency", calibration_table, "family",
               "calibrated efficiencies per GPU family (presets/efficiency/*.json)")

lookup_node("gpu_family", "gpus", "gpu", column="family", unit="",
            doc="the accelerator's architecture family (keys the calibrated efficiencies)",
            source="GPU preset")

_UNITS = {"gemm_fixed_us": "us", "collective_latency_us": "us"}
_DOCS = {
    "gemm_eff_16bit": "share of the 16-bit peak large GEMMs reach on this GPU family",
    "gemm_eff_8bit": "share of the 8-bit peak large GEMMs reach on this GPU family",
    "gemm_fixed_us": "fixed time of one GEMM (launch, prologue/epilogue, wave tail)",
    "attention_eff": "share of the 16-bit peak the family's best fused attention kernel reaches",
    "hbm_eff": "sustained (STREAM triad) share of the datasheet HBM bandwidth",
    "link_eff": "all-reduce bus bandwidth over the scale-up link at large messages",
    "collective_latency_us": "time of the smallest all-reduce: one collective's start-up",
    "scale_out_eff": "bus bandwidth over the scale-out network (a fitted network model: no "
                     "measurement across servers is collected)",
}
# the table's link_eff and hbm_eff become the defaults of the inputs bw_eff and link_eff
_RENAMED = {"link_eff": "link_eff_calibrated", "hbm_eff": "hbm_eff_calibrated",
            "collective_latency_us": "link_latency_us_calibrated",
            "scale_out_eff": "scale_out_eff_calibrated"}
for _column in CALIBRATION_COLUMNS:
    lookup_node(_RENAMED.get(_column, _column), "efficiency", "gpu_family", _column,
                unit=_UNITS.get(_column, ""), source=_T, doc=_DOCS[_column])
lookup_node("step_compute_share", "efficiency", "gpu_family", "step_compute_share", unit="",
            source="presets/training/step_compute_share.json (fitted on the calibration half)",
            doc="share of the GEMM plateau the training step model's compute reaches")
lookup_node("training_share", "efficiency", "gpu_family", "training_share", unit="",
            source="presets/training/step_share.json (fitted on the calibration half)",
            doc="share of the GEMM plateau a training step reaches end to end")


# ------------------------------------------------------------------------ GEMMs

@formula("GEMMs", "vLLM/TRT-LLM/SGLang Llama layer: fused QKV, output, fused gate-up, down")
def gemms_per_layer(num_experts):
    """GEMM launches one layer runs per forward step: the fused QKV projection, the output
    projection, the fused gate/up projection and the down projection (4); an MoE layer
    adds its router (5: the routed experts run as one grouped GEMM per projection)."""
    return where(num_experts > 0, 5, 4)


@formula("", "the plateau of the 8-bit or the 16-bit tensor cores, as the plan computes")
def gemm_eff_max(peak_tflops, peak_tflops_16bit, gemm_eff_8bit, gemm_eff_16bit):
    """Share of the peak large GEMMs reach: the family's 8-bit plateau when the plan's
    peak is an 8-bit (or 4-bit) one (well above the 16-bit peak), else its 16-bit plateau."""
    return where(peak_tflops > 1.5 * peak_tflops_16bit, gemm_eff_8bit, gemm_eff_16bit)


@formula("", "mfu when given, else the calibrated plateau as the engine reaches it")
def gemm_eff(mfu, gemm_eff_max, engine_kernel_eff):
    """Share of the peak the GEMMs' FLOPs run at beyond their fixed time: ``mfu`` when it
    is given (> 0), else the family's calibrated plateau times the share of the kernels'
    rates the engine reaches end to end (``engine_kernel_eff``)."""
    return where(mfu > 0, mfu, gemm_eff_max * engine_kernel_eff)


@formula("s", "Calculon-style curve: the fixed time of one GEMM (0 with an explicit mfu)")
def gemm_fixed_s(mfu, gemm_fixed_us):
    """Seconds each GEMM launch adds to its FLOPs at the plateau rate (0 when ``mfu`` is
    given: the plain roofline)."""
    return where(mfu > 0, 0, gemm_fixed_us * 1e-6)


@formula("", "mfu when given, else the family's best fused attention kernel")
def attention_compute_eff(mfu, attention_eff, engine_kernel_eff):
    """Share of the peak attention's score and value products run at: ``mfu`` when given,
    else the family's measured fused-kernel efficiency (prefill; decode attention is
    memory-bound) times ``engine_kernel_eff``."""
    return where(mfu > 0, mfu, attention_eff * engine_kernel_eff)


def gemm_seconds(flops, launches, rate, fixed_s):
    """Seconds of ``launches`` GEMMs that together compute ``flops`` at ``rate`` FLOP/s
    beyond their fixed time each (the saturating curve summed over the GEMMs)."""
    return flops / rate + launches * fixed_s


@formula("", "the curve at one GEMM: eff = F / (peak × time)")
def gemm_curve_eff(gemm_eff, gemm_fixed_s, peak_tflops, gemm_flops):
    """Share of the peak a GEMM of ``gemm_flops`` FLOPs (``2·M·N·K``) reaches on the
    curve: the plateau times ``F / (F + plateau × peak × fixed)``."""
    rate = peak_tflops * 1e12 * gemm_eff
    return gemm_flops / (peak_tflops * 1e12 * gemm_seconds(gemm_flops, 1, rate, gemm_fixed_s))


# ---------------------------------------------------------------- HBM and links

@formula("", "STREAM triad share of the datasheet bandwidth × the engine's share")
def bw_eff_calibrated(hbm_eff_calibrated, engine_kernel_eff):
    """The calibrated share of the datasheet HBM bandwidth memory-bound phases reach: the
    family's sustained (triad) share times the share of the kernels' rates the engine
    reaches end to end."""
    return hbm_eff_calibrated * engine_kernel_eff


@formula("", "bw_eff when given, else the calibrated share")
def bw_eff_used(bw_eff, bw_eff_calibrated):
    """Share of the datasheet HBM bandwidth the plan's memory traffic moves at: ``bw_eff``
    when given (> 0), else :func:`bw_eff_calibrated`."""
    return where(bw_eff > 0, bw_eff, bw_eff_calibrated)


@formula("", "nccl-tests/rccl-tests all-reduce busBW over the link", input_default=True)
def link_eff(link_eff_calibrated):
    """Share of the link bandwidth a collective's bytes move at (bus bandwidth): the
    family's measured all-reduce figure unless ``link_eff`` is given (NVLink SHARP
    reduces in the switch, so Hopper's exceeds 1)."""
    return link_eff_calibrated


@formula("", "Calculon's fitted InfiniBand model (efficiency table)", input_default=True)
def scale_out_eff(scale_out_eff_calibrated):
    """Share of the network bandwidth a collective's bytes move at across servers: the
    efficiency table's figure unless ``scale_out_eff`` is given."""
    return scale_out_eff_calibrated


@formula("us", "nccl-tests/rccl-tests: time of the smallest all-reduce", input_default=True)
def link_latency_us(link_latency_us_calibrated):
    """Start-up time of one collective or transfer: the family's smallest-message
    all-reduce time unless ``link_latency_us`` is given (the seeds use 8 µs)."""
    return link_latency_us_calibrated




# --------------------------------------------------------------------- training

@formula("", "the GEMM plateau at the recipe's peak × the training step's end-to-end share")
def train_mfu(mfu, train_peak_tflops, peak_tflops_16bit, gemm_eff_8bit, gemm_eff_16bit,
              training_share):
    """Share of the dense peak a training step's executed FLOPs run at: ``mfu`` when given
    (> 0), else the family's GEMM plateau for the recipe's peak (8-bit or 16-bit tensor
    cores) times ``training_share`` (fitted on the calibration half of the validation
    rows: attention, element-wise kernels, communication, bubbles and the optimizer)."""
    plateau = where(train_peak_tflops > 1.5 * peak_tflops_16bit, gemm_eff_8bit, gemm_eff_16bit)
    return where(mfu > 0, mfu, plateau * training_share)


@formula("", "the GEMM plateau at the recipe's peak × the step model's fitted share",
         input_default=True)
def compute_eff(train_peak_tflops, peak_tflops_16bit, gemm_eff_8bit, gemm_eff_16bit,
                step_compute_share):
    """Share of the peak the training step's kernels reach while computing, unless
    ``compute_eff`` is given: the family's GEMM plateau for the recipe's peak (8-bit or
    16-bit tensor cores) times ``step_compute_share`` (fitted on the calibration half of
    the validation rows through the step model)."""
    plateau = where(train_peak_tflops > 1.5 * peak_tflops_16bit, gemm_eff_8bit, gemm_eff_16bit)
    return plateau * step_compute_share
