"""Both planners in one tabbed container."""

from __future__ import annotations

import ipywidgets as w

from .inference import InferenceForm
from .training import TrainingForm

__all__ = ["PlannerForm"]


class PlannerForm(w.Tab):
    """An :class:`InferenceForm` and a :class:`TrainingForm` in two tabs.

    ``planner.inference`` and ``planner.training`` are the forms; ``planner.form`` is the
    one showing, and ``controls``, ``result`` and ``figures`` are that form's.  Keyword
    arguments open the forms on those values: ``inference={...}``, ``training={...}``."""

    def __init__(self, inference: dict | None = None, training: dict | None = None):
        self.inference = InferenceForm(**(inference or {}))
        self.training = TrainingForm(**(training or {}))
        super().__init__(children=[self.inference, self.training],
                         titles=("Inference", "Training"))

    @property
    def form(self):
        return self.children[self.selected_index or 0]

    @property
    def controls(self) -> dict:
        return self.form.controls

    @property
    def result(self):
        return self.form.result

    @property
    def figures(self) -> dict:
        return self.form.figures
