"""Data tables and the lookups that read them (models, accelerators, number formats).

A lookup node reads one column of a table at the row an input names: in Python
from the preset (or from a loaded :class:`~xlcalc.models.Model` /
:class:`~xlcalc.hardware.Accelerator` given in place of the name), in a workbook as
``INDEX/MATCH`` over the ``Models``/``GPUs``/``Dtypes`` sheets, so that choosing
another model from a dropdown re-prices everything.

Three format tables describe a plan's precision (:mod:`xlcalc.formats`): ``dtypes`` (the
weights' storage, at ``dtype``), ``kv_dtypes`` (the KV cache, at ``kv_dtype``) and
``compute_dtypes`` (the kernels' dtype, at ``compute_dtype``).  The compute dtype picks
the accelerator's peak through two lookups in a row: the dtype's ``peak_field`` names the
column of the GPU table to read.
"""

from ..formats import compute_dtypes_table, dtypes_table, kv_dtypes_table
from ..glossary import TERMS
from ..graph import lookup_node, register_table
from ..hardware import DERIVED_GPU_FIELDS, GPU_FIELDS, GPU_UNITS, canonical_gpu_name, gpus_table
from ..models import MODEL_FIELDS, models_table

register_table("models", models_table, "model", "model presets (normalised config.json fields)")
register_table("gpus", gpus_table, "gpu", "accelerator presets (spec-sheet figures)",
               normalize=canonical_gpu_name)
register_table("dtypes", dtypes_table, "dtype", "weight storage formats")
register_table("kv_dtypes", kv_dtypes_table, "kv_dtype", "KV-cache formats")
register_table("compute_dtypes", compute_dtypes_table, "compute_dtype",
               "compute dtypes and the accelerator peak each uses")

for _field in MODEL_FIELDS:
    lookup_node(_field, "models", "model", column=_field, unit=TERMS[_field].unit,
                doc=TERMS[_field].description, source="model config.json")

lookup_node("nominal_params", "models", "model", column="nominal_params", unit="parameters",
            doc="the size in the model's name (70e9 for llama-2-70b)", source="model preset")

# A figure the part does not have (a peak) reads 0, as an empty cell does in Excel.
for _field in GPU_FIELDS + DERIVED_GPU_FIELDS:
    lookup_node(_field, "gpus", "gpu", column=_field, unit=GPU_UNITS.get(_field, "TFLOP/s"),
                doc=f"accelerator {_field.replace('_', ' ')} (0: the part has none)",
                source="GPU spec sheet", empty=0.0)

# ------------------------------------------------------------------ weight storage
lookup_node("dtype_bytes", "dtypes", "dtype", column="bytes", unit="bytes",
            doc="bytes of one weight value of the storage format, scales not counted",
            source="formats table (weights)")
_WEIGHT_COLUMNS = {
    "weight_bits": ("bits", "bits", "value bits of one weight"),
    "weight_scale_bits": ("scale_bits", "bits", "bits of the scales and zero points of one "
                          "block of weights"),
    "weight_block": ("block", "weights", "weights sharing one set of scales (0: "
                     "quant_group_size)"),
    "weight_mix_bits": ("mix_bits", "bits", "bits per weight of the tensors a GGUF _M mix "
                        "keeps at more bits (0: no mix)"),
    "weight_mix_fraction": ("mix_fraction", "", "share of the layers whose attn_v and "
                            "ffn_down a GGUF _M mix upgrades"),
    "embed_bits": ("embed_bits", "bits", "bits per weight of the token embedding"),
    "lm_head_bits": ("lm_head_bits", "bits", "bits per weight of the LM head (and of a tied "
                     "embedding in GGUF)"),
}
for _name, (_column, _unit, _doc) in _WEIGHT_COLUMNS.items():
    lookup_node(_name, "dtypes", "dtype", column=_column, unit=_unit, doc=_doc,
                source="formats table (weights)")
lookup_node("weights_compute", "dtypes", "dtype", column="compute", unit="",
            doc="the compute dtype the weights' format runs in natively",
            source="formats table (weights)")

# ---------------------------------------------------------------------- KV cache
for _name, (_column, _unit, _doc) in {
    "kv_bits": ("bits", "bits", "value bits of one KV-cache element"),
    "kv_scale_bytes": ("scale_bytes", "bytes", "scale bytes per group of KV elements"),
    "kv_scale_group": ("scale_group", "elements", "KV elements sharing one scale (0: one "
                       "per head vector)"),
    "kv_rope_bits": ("rope_bits", "bits", "bits of MLA's rope part (0: as the latent)"),
}.items():
    lookup_node(_name, "kv_dtypes", "kv_dtype", column=_column, unit=_unit, doc=_doc,
                source="formats table (KV cache)")

# ------------------------------------------------------------------ compute dtype
lookup_node("compute_is_auto", "compute_dtypes", "compute_dtype", column="auto", unit="",
            doc="1 when the compute dtype follows the weights' format (auto)",
            source="formats table (compute)")
lookup_node("compute_dtype_peak_field", "compute_dtypes", "compute_dtype", column="peak_field",
            unit="", doc="which accelerator peak the compute dtype uses",
            source="formats table (compute)")
lookup_node("compute_dtype_peak", "gpus", "gpu", column_key="compute_dtype_peak_field",
            unit="TFLOP/s", doc="dense peak of the accelerator in the compute dtype (auto: its "
            "best 16-bit peak)", source="GPU spec sheet",
            required=("compute_dtype", "a compute dtype {key} supports ({supported})"))
lookup_node("weights_compute_peak_field", "compute_dtypes", "weights_compute",
            column="peak_field", unit="", doc="which accelerator peak the weights' native "
            "compute uses", source="formats table (compute)")
lookup_node("weights_compute_peak", "gpus", "gpu", column_key="weights_compute_peak_field",
            unit="TFLOP/s", doc="dense peak of the accelerator in the weights' native compute "
            "dtype (0: the part has none)", source="GPU spec sheet", empty=0.0)
