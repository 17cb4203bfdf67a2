"""Design rules that code review alone would not keep: the core imports no face, and
importing xlcalc loads nothing heavy (DESIGN.md principles 2 and 4)."""

import subprocess
import sys


def _modules_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_imports_no_face():
    loaded = _modules_after(
        "import xlcalc\n"
        "xlcalc.params('llama-2-70b'); xlcalc.train_memory('llama-7b', 8, 2048)\n"
        "xlcalc.inference_latency('llama-2-70b', 'h100-sxm', 8, 512, 256, 8)\n"
        "xlcalc.sweep(['kv_cache_bytes'], model=['llama-2-7b'], batch=[1, 2], seq_len=128, "
        "kv_dtype='bf16', tp=1, block_size=1)")
    for face in ("xlwings", "openpyxl", "ipywidgets", "IPython", "formulas", "matplotlib"):
        assert face not in loaded, f"the core imported {face}"


def test_import_is_cheap():
    loaded = _modules_after("import xlcalc")
    assert "pandas" not in loaded and "xlcalc.models" not in loaded
