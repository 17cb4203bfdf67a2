"""Bad input to the serving API and the serving command line."""

import json

import numpy as np
import pytest

import xlcalc
from xlcalc.cli import main
from xlcalc.errors import XlcalcError


def test_context_beyond_the_model_maximum_is_a_warning_not_an_error():
    s = xlcalc.inference_memory("llama-2-70b", 1, 131072, tp=8)
    assert "max_position_embeddings" in s["warning"] and s["total"] > 0
    lat = xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 4000, 500)
    assert "max_position_embeddings" in lat["warning"] and lat["e2e_s"] > 0
    assert xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 3000, 500)["warning"] == ""
    cap = xlcalc.serving_capacity("llama-2-7b", "h100-sxm", 8192)
    assert cap["warning"] and cap["max_sequences"] > 0
    frame = xlcalc.inference_plan_sweep(model="llama-2-7b", gpu="h100-sxm", batch=1,
                                        prompt_len=[1000, 5000], output_len=10,
                                        targets=("e2e_s", "generation_warning"))
    assert list(frame.generation_warning != "") == [False, True]


@pytest.mark.parametrize("call,argument", [
    (lambda: xlcalc.inference_latency("llama-13b", "h100-sxm", 1, 10, 10, tp=3), "tp"),
    (lambda: xlcalc.inference_memory("falcon-7b", 1, 10, tp=2), "tp"),
    (lambda: xlcalc.serving_capacity("llama-2-70b", "h100-sxm", 10, tp=6), "tp"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, mfu=-0.1), "mfu"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, mfu=1.2), "mfu"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, bw_eff=-0.5),
     "bw_eff"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, link_eff=2.5),
     "link_eff"),
    (lambda: xlcalc.inference_memory("llama-2-7b", 1, 10, gpu="h100-sxm",
                                     gpu_memory_utilization=1.5), "gpu_memory_utilization"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, comm_overlap=1.5),
     "comm_overlap"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 0, 10), "prompt_len"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, -5), "output_len"),
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", 0, 10, 10), "batch"),
    (lambda: xlcalc.inference_memory("llama-2-7b", 1, 0), "seq_len"),
    (lambda: xlcalc.inference_memory("llama-2-7b", 1.5, 10), "batch"),
    (lambda: xlcalc.serving_capacity("llama-2-7b", "h100-sxm", -1), "seq_len"),
    (lambda: xlcalc.decode_step("llama-2-7b", "h100-sxm", 1, 0), "context_len"),
    (lambda: xlcalc.inference_memory("llama-2-7b", 1, 10, pp=40), "pp"),
    (lambda: xlcalc.speculative_decoding(1.5, 4), "acceptance_rate"),
    (lambda: xlcalc.kv_transfer("opt-66b", 512, -1), "request_rate"),   # 0: no load
    (lambda: xlcalc.inference_latency("llama-2-7b", "h100-sxm", np.array([1, -1]), 10, 10),
     "batch"),
])
def test_bad_numbers_name_the_argument(call, argument):
    with pytest.raises(XlcalcError) as e:
        call()
    assert e.value.argument == argument
    assert str(e.value).startswith(argument + " must be")


def test_tp_message_says_what_is_allowed():
    with pytest.raises(XlcalcError, match="tp must be a divisor of num_heads=40, got 3"):
        xlcalc.inference_latency("llama-13b", "h100-sxm", 1, 10, 10, tp=3)


def test_unknown_gpu_and_model_suggest_close_names():
    with pytest.raises(XlcalcError, match="unknown gpu 'h100-sx'; did you mean .*'h100-sxm'"):
        xlcalc.inference_latency("llama-2-7b", "h100-sx", 1, 10, 10)
    with pytest.raises(XlcalcError, match="did you mean .*'a100-80gb'"):
        xlcalc.serving_capacity("llama-2-7b", "a100-80", 1000)
    with pytest.raises(XlcalcError, match="unknown model 'llama2-7b'; did you mean"):
        xlcalc.inference_memory("llama2-7b", 1, 10)
    with pytest.raises(XlcalcError, match="unknown dtype 'bf61'"):
        xlcalc.inference_memory("llama-2-7b", 1, 10, dtype="bf61")


def test_unsupported_compute_dtype_is_an_error_and_defaults_never_are():
    # the default compute dtype is the best the GPU supports: bf16 weights on a V100 or T4
    # run in fp16, fp8 weights on an A100 in bf16 (vLLM's Marlin), and produce numbers
    for gpu, dtype in (("v100-32gb", "bf16"), ("t4", "bf16"), ("a100-80gb", "fp8"),
                       ("tpu-v5e", "fp16"), ("gaudi3", "int4")):
        lat = xlcalc.inference_latency("llama-2-7b", gpu, 1, 10, 10, dtype=dtype)
        assert lat["e2e_s"] > 0 and np.isfinite(lat["e2e_s"]), (gpu, dtype)
    # an explicit compute dtype the part lacks is the error, listing what it supports
    with pytest.raises(XlcalcError, match="compute_dtype must be a compute dtype v100-32gb "
                                          r"supports \(auto, fp32, fp16\), got 'bf16'") as e:
        xlcalc.inference_latency("llama-2-7b", "v100-32gb", 1, 10, 10, compute_dtype="bf16")
    assert e.value.argument == "compute_dtype"
    with pytest.raises(XlcalcError, match="t4 supports"):
        xlcalc.decode_step("llama-2-7b", "t4", 1, 100, compute_dtype="bf16")
    with pytest.raises(XlcalcError, match="got 'fp8'"):
        xlcalc.prefill_time("llama-2-7b", "a100-80gb", 1, 10, dtype="fp8", compute_dtype="fp8")
    with pytest.raises(XlcalcError, match="got 'fp8'"):
        xlcalc.quantization_effect("llama-2-7b", "a100-80gb", 1, 10, 10, dtypes=["bf16", "fp8"],
                                   compute_dtype="fp8")
    with pytest.raises(XlcalcError, match="unknown compute_dtype 'fp9'"):
        xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, compute_dtype="fp9")
    # memory does not need the compute peak: storing bf16 on a V100 is a plan, not an error
    assert xlcalc.inference_memory("llama-2-7b", 1, 10, gpu="v100-32gb")["total"] > 0


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_infer(capsys):
    code, out, _ = _run(capsys, "infer", "llama-2-70b", "--gpu", "h100-sxm", "--tp", "8",
                        "--batch", "8", "--prompt-len", "512", "--output-len", "256")
    assert code == 0 and "ttft_ms" in out and "tokens_per_s" in out and "weights_GB" in out
    code, out, _ = _run(capsys, "infer", "llama-2-70b", "--gpu", "h100-sxm", "--tp", "8",
                        "--batch", "8", "--prompt-len", "512", "--output-len", "256", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["weights_GB"] == pytest.approx(17.244162048)
    assert data["e2e_s"] == pytest.approx(xlcalc.inference_latency(
        "llama-2-70b", "h100-sxm", 8, 512, 256, tp=8)["e2e_s"])
    assert data["kv_cache_GB"] == pytest.approx(
        xlcalc.kv_cache_bytes("llama-2-70b", 8, 768, tp=8) / 1e9)
    assert data["fits"] is True and data["prefill_bound"] == "compute"


def test_cli_capacity_gpus_needed_and_comm(capsys):
    code, out, _ = _run(capsys, "capacity", "llama-13b", "--gpu", "v100-32gb", "--seq-len",
                        "2048", "--tp", "8", "--dtype", "fp16", "--kv-dtype", "fp16",
                        "--n-gpus", "8", "--users", "10000", "--json")
    data = json.loads(out)
    # by hand (vLLM preset; a V100 is under 70 GiB: max_num_seqs 256): budget 0.9 × 31.75 GiB
    # (the V100's reported total) − weights 13.016e9 × 2 / 8 − the sampler's 256 × 32000 ×
    # 38.4 B − non-torch 0.13 GiB − tp > 1 buffers 0.42 GiB; one 2048-token sequence:
    # 2048 × 40 layers × 2 × 5 heads × 128 × 2 B = 209.7e6; 10000 users over that many
    budget = 0.9 * 31.75 * 2 ** 30 - 13_015_864_320 * 2 / 8 - 256 * 32000 * 38.4 - \
        139_586_437 - 450_971_566
    sequences = int(budget // (2048 * 40 * 2 * 5 * 128 * 2))
    assert sequences == 126
    assert code == 0 and data["max_sequences"] == sequences and \
        data["nodes_needed"] == -(-10_000 // sequences) == 80 and data["engine"] == "vllm"
    code, out, _ = _run(capsys, "gpus-needed", "llama-2-70b", "--gpu", "h100-sxm", "--batch",
                        "8", "--seq-len", "4096", "--json")
    data = json.loads(out)
    # by hand at tp 2: weights 137.95e9 / 2 + KV 8 × 4096 × 80 × 2 × 4 × 128 × 2 B (5.37e9)
    # + activations max(8192 × 2 × 28672 × 2 / 2, sampler 1024 × 32000 × 38.4 = 1.26e9)
    # + non-torch 0.59e9 = 76.2e9 ≤ 0.9 × 79.22 GiB (76.6e9): two H100s at the reported
    # total (with the marketed 80e9 it took three)
    assert code == 0 and (data["gpus_needed"], data["tp"], data["pp"]) == (2, 2, 1)
    code, out, _ = _run(capsys, "comm", "llama-2-70b", "--batch", "1", "--seq-len", "2048",
                        "--tp", "4", "--pp", "2", "--json")
    assert code == 0 and json.loads(out)["tp_allreduce_bytes"] == 50_331_648


def test_cli_errors_exit_2_with_the_message(capsys):
    code, _, err = _run(capsys, "infer", "llama-2-7b", "--gpu", "v100-32gb", "--batch", "1",
                        "--prompt-len", "10", "--output-len", "5", "--compute-dtype", "bf16")
    assert code == 2 and "compute_dtype must be a compute dtype v100-32gb supports" in err
    code, _, err = _run(capsys, "infer", "llama-2-7b", "--gpu", "h100-sx", "--batch", "1",
                        "--prompt-len", "10", "--output-len", "5")
    assert code == 2 and "did you mean" in err
    code, _, err = _run(capsys, "capacity", "llama-2-7b", "--gpu", "h100-sxm", "--seq-len",
                        "0")
    assert code == 2 and "seq_len must be a positive integer, got 0" in err


def test_misspelt_override_is_an_error_with_a_suggestion():
    with pytest.raises(XlcalcError, match="unknown argument 'link_latency'; did you mean "
                                          ".*'link_latency_us'"):
        xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 10, 10, link_latency=3)
    # a graph name is a valid override (the seed's nominal size)
    assert xlcalc.inference_memory("llama-2-70b", 1, 100, params_total=70e9)["weights"] == \
        pytest.approx(70e9 * 2)
