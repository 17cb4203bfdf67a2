import sys
from pathlib import Path

# tests/ helpers (formula_samples) and the repository root (workbooks, widgets)
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
