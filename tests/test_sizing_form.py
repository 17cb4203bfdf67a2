"""The SizingForm without a browser: set controls in Python, read what it shows, check it
against plan_serving() called directly."""

from __future__ import annotations

import contextlib
import io
import math

import pytest

pytest.importorskip("ipywidgets")

import xlcalc  # noqa: E402
from xlcalc.widgets import SizingForm  # noqa: E402
from xlcalc.widgets.sizing import SIZING_DEFAULTS, SIZING_GRID  # noqa: E402


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def core(**kw):
    v = dict(SIZING_DEFAULTS, **kw)
    prices = kw.pop("prices", None) or {g: xlcalc.gpu_prices().loc[g, "price_per_gpu_hour"]
                                        for g in v["gpus"]}
    return xlcalc.plan_serving(v["model"], v["prompt_len"], v["output_len"],
                               request_rate=v["request_rate"], ttft_ms_max=v["ttft_ms_max"],
                               tpot_ms_max=v["tpot_ms_max"], gpus=list(v["gpus"]),
                               dtypes=list(v["dtypes"]), price_per_gpu_hour=prices,
                               disaggregated=(False, True) if v["disaggregated"] else (False,),
                               **SIZING_GRID)


@pytest.fixture(scope="module")
def form():
    with quiet():
        return SizingForm()


def test_opens_on_the_issue_question(form):
    expected = core()
    assert form.verdict == expected.attrs["verdict"]
    assert form.figures["gpus"] == expected.iloc[0]["gpus"]
    assert math.isclose(form.figures["cost_per_m_output_tokens"],
                        expected.iloc[0]["cost_per_m_output_tokens"], rel_tol=1e-12)
    assert 'data-name="verdict"' in form.verdict_box.value
    assert f'data-points="' in form.chart.value and 'data-name="pareto_best"' in form.chart.value
    assert form.table.value.count("<tr>") == 1 + 10


def test_controls_change_the_answer(form):
    with quiet():
        form.set(request_rate=20.0, ttft_ms_max=500.0, model="llama-3.1-8b")
    expected = core(request_rate=20.0, ttft_ms_max=500.0, model="llama-3.1-8b")
    assert form.verdict == expected.attrs["verdict"]
    assert len(form.result) == len(expected)
    with quiet():
        form.controls["tpot_ms_max"].value = 10.0
    assert form.verdict == core(request_rate=20.0, ttft_ms_max=500.0, model="llama-3.1-8b",
                                tpot_ms_max=10.0).attrs["verdict"]
    with quiet():
        form.set(**{k: SIZING_DEFAULTS[k] for k in ("request_rate", "ttft_ms_max", "model",
                                                    "tpot_ms_max")})


def test_prices_and_choices(form):
    with quiet():
        form.set(gpus=("h100-sxm",), dtypes=("bf16",), **{"price:h100-sxm": 1.0},
                 disaggregated=False)
    expected = core(gpus=("h100-sxm",), dtypes=("bf16",), disaggregated=False,
                    prices={"h100-sxm": 1.0})
    assert form.verdict == expected.attrs["verdict"]
    assert set(form.result["price_per_gpu_hour"]) == {1.0}
    assert not form.result["disaggregated"].any()
    with quiet():
        form.set(gpus=("h100-sxm", "h200", "b200"), dtypes=("bf16", "fp8"),
                 disaggregated=True, **{"price:h100-sxm": 2.95})


def test_invalid_choices_show_a_message_and_the_form_keeps_working(form):
    with quiet():
        form.set(gpus=())
    assert form.error.startswith("gpus") and 'data-name="error"' in form.message.value
    with quiet():
        form.set(gpus=("l4",))
    assert "give a price for l4" in form.error
    with quiet():
        form.set(**{"price:l4": 0.8})
    assert form.error == "" and set(form.result["gpu"]) == {"l4"}
    with quiet():
        form.set(gpus=("h100-sxm", "h200", "b200"))
    assert form.verdict == core().attrs["verdict"]
    with pytest.raises(xlcalc.XlcalcError):
        form.set(bogus=1)
