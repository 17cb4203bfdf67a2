"""Bad training input: one clear XlcalcError per mistake, naming the argument; a plan that
does not fit is a result."""

import numpy as np
import pytest

import xlcalc
from xlcalc import XlcalcError


def mem(**kw):
    ctx = dict(model="llama-7b", batch=32, seq_len=2048)
    ctx.update(kw)
    return xlcalc.train_memory(**ctx)


def _raises(argument, match, **kw):
    with pytest.raises(XlcalcError, match=match) as info:
        mem(**kw)
    assert info.value.argument == argument
    return str(info.value)


@pytest.mark.parametrize("argument, value, valid", [
    ("precision", "zzz", "bf16-mixed, fp16-mixed, fp32, fp8-block, fp8-current, fp8-delayed, "
                         "megatron-distopt, mxfp8, seed-001"),
    ("optimizer", "zzz", "adafactor, adam, adam-8bit, adamw, adamw-bf16, lion, sgd, "
                         "sgd-momentum"),
    ("recompute", "zzz", "full, none, selective"),
    ("activation_rule", "zzz", "korthikanti, seed-000, seed-000-recompute, seed-001"),
])
def test_unknown_choice_lists_the_valid_ones(argument, value, valid):
    message = _raises(argument, f"unknown {argument} 'zzz'", **{argument: value})
    assert f"valid: {valid}" in message


@pytest.mark.parametrize("argument, value, suggestion", [
    ("precision", "bf16", "'bf16-mixed'"), ("optimizer", "adamx", "'adam'"),
    ("recompute", "Selektive", "'selective'"),
])
def test_close_names_get_a_suggestion(argument, value, suggestion):
    message = _raises(argument, "did you mean", **{argument: value})
    assert suggestion in message


def test_choices_are_case_insensitive():
    assert mem(precision="BF16-Mixed", optimizer="AdamW", recompute="FULL")["total"] > 0


@pytest.mark.parametrize("zero", [4, -1, 1.5, "2"])
def test_zero_stage_outside_0_to_3(zero):
    _raises("zero", "zero must be an integer >= 0 and <= 3", zero=zero)


def test_dp_must_divide_the_batch():
    _raises("dp", r"dp must be a divisor of batch=32 .* got 3", dp=3)
    with pytest.raises(XlcalcError, match="dp must be a divisor of batch=32") as info:
        xlcalc.train_memory("llama-7b", 32, 2048, dp=np.array([1, 2, 3]))
    assert info.value.argument == "dp"


def test_tp_must_divide_the_heads():
    _raises("tp", "tp must be a divisor of num_heads=32, got 3", tp=3)


def test_pp_at_most_the_layers_and_uneven_stages_are_allowed():
    _raises("pp", "pp must be at most num_layers=32, got 33", pp=33, batch=33)
    # 32 layers over 3 stages: the first holds ceil(32/3) = 11 (uneven partitions, as
    # Megatron's --decoder-first-pipeline-num-layers and DeepSpeed allow): a result
    s = mem(pp=3)
    assert s["total"] > 0


def test_micro_batch_larger_than_the_batch():
    _raises("micro_batch", r"micro_batch must be a divisor of the per-replica batch "
            r"batch/dp=32 .* got 64", micro_batch=64)
    # with dp = 4 each replica has 8 sequences: 16 is too many, 3 does not divide 8
    _raises("micro_batch", "batch/dp=8 .* got 16", dp=4, micro_batch=16)
    _raises("micro_batch", "batch/dp=8 .* got 3", dp=4, micro_batch=3)
    assert mem(dp=4, micro_batch=2)["total"] > 0


@pytest.mark.parametrize("argument, value", [
    ("trainable_fraction", 0), ("trainable_fraction", 1.5), ("train_reserve_bytes", -1),
    ("vp", 0), ("sequence_parallel", 2), ("batch", 0), ("seq_len", -5),
])
def test_out_of_range_numbers(argument, value):
    _raises(argument, f"{argument} must be", **{argument: value})


def test_time_inputs():
    with pytest.raises(XlcalcError, match="mfu must be a number >= 0 and <= 1") as info:
        xlcalc.training_time("llama-7b", 1e12, "h100-sxm", 8, mfu=1.5)
    assert info.value.argument == "mfu"
    with pytest.raises(XlcalcError, match="n_gpus must be a positive integer"):
        xlcalc.training_time("llama-7b", 1e12, "h100-sxm", 0)
    with pytest.raises(XlcalcError, match="iteration_time_s must be a positive number"):
        xlcalc.mfu_from_iteration("llama-7b", 8, 2048, 0, "a100-80gb", 8)


def test_a_plan_that_does_not_fit_is_a_result():
    s = mem(gpu="t4")
    assert s["fits"] is False and s["headroom"] < 0


def test_a_recipe_the_gpu_cannot_compute_in():
    # a V100 has no bf16 peak: an error naming the recipe and those it supports, not NaN days
    with pytest.raises(XlcalcError, match=r"precision must be a recipe v100-32gb computes in "
                       r"\(fp32, fp16-mixed, seed-001\), got 'bf16-mixed'") as info:
        xlcalc.training_time("llama-7b", 1e12, "v100-32gb", 8)
    assert info.value.argument == "precision"
    assert xlcalc.training_time("llama-7b", 1e12, "v100-32gb", 8,
                                precision="fp16-mixed")["days"] > 0


# ------------------------------------------------------------ unknown keywords (item 7)

@pytest.mark.parametrize("call, keyword, close", [
    (lambda **kw: xlcalc.train_memory("llama-7b", 8, 2048, **kw), "ep2", "ep"),
    (lambda **kw: xlcalc.train_memory("llama-7b", 8, 2048, **kw), "recomptue", "recompute"),
    (lambda **kw: xlcalc.training_step("llama-7b", "h100-sxm", 8, 2048, **kw), "micro_bach",
     "micro_batch"),
    (lambda **kw: xlcalc.train_fit_search("llama-7b", 8, 2048, "h100-sxm", **kw), "n_gpu",
     "n_gpus"),
    (lambda **kw: xlcalc.training_time("llama-7b", 1e9, "h100-sxm", 8, **kw), "goodputt",
     "goodput"),
    (lambda **kw: xlcalc.training_comm("llama-7b", 8, 2048, "h100-sxm", **kw), "zeroo", "zero"),
    (lambda **kw: xlcalc.params("llama-7b", **kw), "prt", None),
    (lambda **kw: xlcalc.kv_cache_bytes("llama-7b", 1, 128, **kw), "kv_dtyp", "kv_dtype"),
    (lambda **kw: xlcalc.megatron_flops("llama-7b", 1, 128, **kw), "recompte", "recompute"),
    (lambda **kw: xlcalc.load_model("llama-7b", **kw), "presett", None),
    (lambda **kw: xlcalc.to_unit(1e9, **kw), "unti", "unit"),
    (lambda **kw: xlcalc.compute(["params_total"], model="llama-7b", **kw), "batchh", "batch"),
])
def test_unknown_keywords_are_errors_that_suggest_the_close_name(call, keyword, close):
    with pytest.raises(xlcalc.XlcalcError) as info:
        call(**{keyword: 1})
    message = str(info.value)
    assert message.startswith(f"unknown argument '{keyword}'")
    if close:
        assert f"did you mean '{close}'" in message or f"'{close}'" in message


def test_every_public_function_refuses_an_unknown_keyword():
    """Item 7 across the whole API: each function of ``xlcalc.__all__`` checks its keywords
    before it runs (so no other argument is needed to see the error), naming the keyword
    and suggesting the close name."""
    import inspect
    checked = 0
    for name in xlcalc.__all__:
        fn = getattr(xlcalc, name)
        if not inspect.isfunction(fn):
            continue
        params = [p for p, v in inspect.signature(fn).parameters.items()
                  if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
        typo = (params[0] + "x") if params else "colour"
        with pytest.raises(xlcalc.XlcalcError) as info:
            fn(**{typo: 1})
        assert str(info.value).startswith(f"unknown argument '{typo}'"), name
        if params:
            assert f"'{params[0]}'" in str(info.value), name
        checked += 1
    assert checked >= 50
