"""Jupyter forms (ipywidgets) over the xlcalc core: the notebook face.

``InferenceForm()``, ``TrainingForm()``, ``PlannerForm()`` (both, in tabs) and
``SizingForm()`` (a load and targets → the cheapest fleet) are
ipywidgets containers: display one with one line in a notebook or a Voilà dashboard.
Controls are named by the glossary (``form.controls``); ``form.result`` is the latest
breakdown DataFrame and ``form.figures`` the headline figures, all computed by the core.
``ScenarioGrid()`` is an editable grid of plans (one row each), recomputed in one core call.
ipywidgets is imported only here (DESIGN.md principle 2).
"""

from xlcalc.extras import require

require("ipywidgets", "matplotlib", "jinja2", "IPython", face="the Jupyter forms (xlcalc.widgets)")

from .base import PASTED, Plan, PlanForm  # noqa: E402
from .grid import ScenarioGrid
from .inference import InferenceForm
from .planner import PlannerForm
from .sizing import SizingForm
from .training import TrainingForm

__all__ = ["InferenceForm", "TrainingForm", "PlannerForm", "SizingForm", "PlanForm", "Plan",
           "PASTED", "ScenarioGrid"]
