"""Data tables and the lookups that read them (models, accelerators, dtypes).

A lookup node reads one column of a table at the row an input names: in Python
from the preset (or from a loaded :class:`~xlcalc.models.Model` /
:class:`~xlcalc.hardware.Accelerator` given in place of the name), in a workbook as
``INDEX/MATCH`` over the ``Models``/``GPUs``/``Dtypes`` sheets, so that choosing
another model from a dropdown re-prices everything.
"""

from ..graph import lookup_node, register_table
from ..hardware import GPU_FIELDS, dtypes_table, gpus_table
from ..models import MODEL_FIELDS, models_table
from ..glossary import TERMS

register_table("models", models_table, "model", "model presets (normalised config.json fields)")
register_table("gpus", gpus_table, "gpu", "accelerator presets (spec-sheet figures)")
register_table("dtypes", dtypes_table, "dtype", "storage/compute types")

for _field in MODEL_FIELDS:
    lookup_node(_field, "models", "model", column=_field, unit=TERMS[_field].unit,
                doc=TERMS[_field].description, source="model config.json")

lookup_node("nominal_params", "models", "model", column="nominal_params", unit="parameters",
            doc="the size in the model's name (70e9 for llama-2-70b)", source="model preset")

_GPU_UNITS = {"memory_gb": "GB", "memory_bandwidth_gb_per_s": "GB/s",
              "intra_node_gb_per_s": "GB/s", "inter_node_gb_per_s": "GB/s",
              "peak_tops_int8": "TOP/s"}
for _field in GPU_FIELDS:
    lookup_node(_field, "gpus", "gpu", column=_field, unit=_GPU_UNITS.get(_field, "TFLOP/s"),
                doc=f"accelerator {_field.replace('_', ' ')}", source="GPU spec sheet")

lookup_node("dtype_bytes", "dtypes", "dtype", column="bytes", unit="bytes",
            doc="bytes per element of the weights' dtype", source="dtypes table")
lookup_node("kv_dtype_bytes", "dtypes", "kv_dtype", column="bytes", unit="bytes",
            doc="bytes per element of the KV cache's dtype", source="dtypes table")
lookup_node("dtype_peak_field", "dtypes", "dtype", column="peak_field", unit="",
            doc="which accelerator peak applies to compute in this dtype", source="dtypes table")
lookup_node("peak_tflops", "gpus", "gpu", column_key="dtype_peak_field", unit="TFLOP/s",
            doc="dense peak of the accelerator for the dtype's compute", source="GPU spec sheet",
            required=("dtype", "a dtype {key} computes in ({supported})"))
