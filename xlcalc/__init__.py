"""xlcalc: LLM capacity planning — parameters, memory, FLOPs, latency, training time.

One core (``xlcalc.formulas`` over ``xlcalc.graph``) and three faces: Excel
functions (``xlcalc.udfs``), planning workbooks (``xlcalc.workbooks``) and Jupyter forms
(``xlcalc.widgets``).  Public names are imported lazily so ``import xlcalc`` is cheap.
"""

from __future__ import annotations

import importlib
import os

# The design card keeps the faces' folders ``workbooks/`` and ``widgets/`` at the top of the
# repository; a wheel installs them inside this package (pyproject ``package-dir``) so that
# no top-level ``widgets``/``workbooks`` lands in site-packages.  In a checkout they sit
# beside this folder: let ``xlcalc.widgets`` / ``xlcalc.workbooks`` resolve there too.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if not os.path.isdir(os.path.join(_HERE, "workbooks")) and \
        os.path.isfile(os.path.join(_ROOT, "workbooks", "__init__.py")):
    __path__.append(_ROOT)     # noqa: F821 (a package's own search path)

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "XlcalcError": "xlcalc.errors",
    "load_model": "xlcalc.models",
    "Model": "xlcalc.models",
    "preset_names": "xlcalc.models",
    "load_gpu": "xlcalc.hardware",
    "Accelerator": "xlcalc.hardware",
    "gpu_names": "xlcalc.hardware",
    "dtype_bytes": "xlcalc.formats",
    "compute": "xlcalc.estimate",   # xlcalc.estimate is the module; compute = estimate
    "breakdown": "xlcalc.estimate",
    "sweep": "xlcalc.estimate",
    "params": "xlcalc.basics",
    "params_shortcuts": "xlcalc.basics",
    "kv_cache_bytes": "xlcalc.basics",
    "kv_cache_bytes_per_token": "xlcalc.basics",
    "forward_flops_per_token": "xlcalc.basics",
    "prefill_flops": "xlcalc.basics",
    "decode_flops": "xlcalc.basics",
    "training_flops": "xlcalc.basics",
    "megatron_flops": "xlcalc.basics",
    "to_unit": "xlcalc.units",
    "train_memory": "xlcalc.training",
    "train_fit_search": "xlcalc.training",
    "training_time": "xlcalc.training",
    "training_comm": "xlcalc.training",
    "train_gpus_needed": "xlcalc.training",
    "mfu_from_iteration": "xlcalc.training",
    "train_plan_sweep": "xlcalc.training",
    "inference_memory": "xlcalc.serving",
    "weights_memory": "xlcalc.serving",
    "inference_latency": "xlcalc.serving",
    "prefill_time": "xlcalc.serving",
    "decode_step": "xlcalc.serving",
    "serving_capacity": "xlcalc.serving",
    "max_batch": "xlcalc.serving",
    "gpus_needed": "xlcalc.serving",
    "comm": "xlcalc.serving",
    "allreduce_bytes": "xlcalc.serving",
    "transfer_time": "xlcalc.serving",
    "tp_comm_bytes": "xlcalc.serving",
    "kv_transfer": "xlcalc.serving",
    "speculative_decoding": "xlcalc.serving",
    "quantization_effect": "xlcalc.serving",
    "inference_plan_sweep": "xlcalc.serving",
    "serve": "xlcalc.sizing",
    "plan_serving": "xlcalc.sizing",
    "gpu_prices": "xlcalc.sizing",
    "gemm_roofline": "xlcalc.analysis",
    "critical_batch": "xlcalc.analysis",
    "layer_flops": "xlcalc.analysis",
    "kv_cache_savings": "xlcalc.analysis",
    "mla_decode_flops": "xlcalc.analysis",
    "prefix_caching": "xlcalc.analysis",
    "checkpointing": "xlcalc.analysis",
    "allreduce_algorithms": "xlcalc.analysis",
    "attention_traffic": "xlcalc.analysis",
    "operator_traffic": "xlcalc.analysis",
    "compute_comm_ratio": "xlcalc.analysis",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


_ALIASES = {"compute": "estimate"}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xlcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return __all__


def load_ipython_extension(ipython):  # %load_ext xlcalc (the notebook face)
    importlib.import_module("xlcalc.magics").load_ipython_extension(ipython)
