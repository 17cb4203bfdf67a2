"""Accelerator quantities in SI units: the memory a plan may use and the dense peak its
matrix multiplications run at."""

from ..expr import where
from ..graph import formula


@formula("bytes", "cudaMemGetInfo / hipMemGetInfo total (what vLLM budgets from)")
def gpu_memory_bytes(memory_bytes_reported, memory_gb):
    """Memory of one accelerator in bytes: the total the driver reports (an H100 "80 GB"
    reports 79.2 GiB = 85.1e9 bytes), or the marketed GB × 1e9 for a part without a
    reported figure (a custom card, or a preset whose ``memory_gb`` was overridden)."""
    return where(memory_bytes_reported > 0, memory_bytes_reported, memory_gb * 1000000000)


@formula("bytes", "the marketed size: memory_gb × 1e9")
def gpu_memory_bytes_marketed(memory_gb):
    """The marketed memory in bytes (``memory_gb`` GB; the HBM behind "80 GB" is 80 GiB,
    of which the driver reports a little less)."""
    return memory_gb * 1000000000


@formula("TFLOP/s", "compute dtype: explicit, or the weights' native compute where the GPU "
         "has it, else its best 16-bit peak (vLLM Marlin: W4A16/W8A16)")
def peak_tflops(compute_is_auto, weights_compute_peak, compute_dtype_peak):
    """Dense peak the plan's matrix multiplications run at.  With ``compute_dtype`` auto:
    the weights' native compute peak (fp8 weights at the fp8 peak) where the accelerator
    has one, else its best 16-bit peak (fp8 or int4 weights on an A100 are dequantised
    and multiplied in bf16; bf16 weights on a V100 in fp16).  An explicit compute dtype
    uses its own peak (empty where the part lacks it: an input error)."""
    native = where(weights_compute_peak > 0, weights_compute_peak, compute_dtype_peak)
    return where(compute_is_auto > 0, native, compute_dtype_peak)


@formula("", "the compute dtype peak_tflops uses")
def compute_dtype_used(compute_dtype, compute_is_auto, weights_compute, weights_compute_peak,
                       peak_tflops_bf16, peak_tflops_fp16):
    """Name of the compute dtype the plan runs in (what ``auto`` resolved to)."""
    sixteen = where(peak_tflops_bf16 >= peak_tflops_fp16, "bf16", "fp16")
    native = where(weights_compute_peak > 0, weights_compute, sixteen)
    return where(compute_is_auto > 0, native, compute_dtype)
