"""One-off transcription of published measurements into xlcalc/presets/validation/measurements.json.

Run from the repository root: python tools/transcribe_measurements.py. It rewrites the data file
and applies the held-out rule stated there; each figure is typed as published (see its source)."""
import json
from collections import defaultdict

TRT017 = {"repo": "NVIDIA/TensorRT-LLM", "path": "docs/source/performance/perf-overview.md",
          "commit": "258c7540c03517def55d9a5aadfa9288af474e1b",
          "url": "https://nvidia.github.io/TensorRT-LLM/performance/perf-overview.html"}
LLMD = {"repo": "llm-d/llm-d-benchmark", "path": "config_explorer/empirical-vllm-memory-results.md",
        "commit": "259334868c5075da530cc6c90b43fceb11b6e6a7"}
IBM = {"url": "https://pytorch.org/blog/maximizing-training/", "table": "Table 1: Model and Hardware FLOPS utilization of various model sizes on A100 and H100 GPUs"}
TT = {"repo": "pytorch/torchtitan", "path": "benchmarks/llama3_h100_202412_torchtitan.md",
      "commit": "31a17bfdb70bab6f62a13d21816a5339b911d6e3"}
NARAYANAN = {"url": "https://arxiv.org/abs/2104.04473", "table": "Table 1 (weak scaling, Selene)"}
KORTH = {"url": "https://arxiv.org/abs/2205.05198",
         "also": {"repo": "calculon-ai/calculon", "path": "calculon/megatron/validation.py",
                  "commit": "b63e4f0d800c93b98dbb58e88508ddcdd1a83b1b",
                  "what": "the paper's Figure 1 and Table 5 values transcribed with their configurations (validation/seqsel/*.json)"}}

QWEN3_06B = {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
             "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
             "max_position_embeddings": 40960, "tie_word_embeddings": True, "attention_bias": False,
             "xlcalc_source": "https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json"}
QWEN3_32B = {"model_type": "qwen3", "hidden_size": 5120, "intermediate_size": 25600, "num_hidden_layers": 64,
             "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
             "max_position_embeddings": 40960, "tie_word_embeddings": False, "attention_bias": False,
             "xlcalc_source": "https://huggingface.co/Qwen/Qwen3-32B/blob/main/config.json"}
QWEN3_235B = {"model_type": "qwen3_moe", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 94,
              "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
              "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 1536,
              "max_position_embeddings": 40960, "tie_word_embeddings": False,
              "xlcalc_source": "https://huggingface.co/Qwen/Qwen3-235B-A22B-FP8/blob/main/config.json"}
LLAMA2_34B = {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 22016, "num_hidden_layers": 48,
              "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 32000,
              "max_position_embeddings": 16384,
              "xlcalc_source": "https://huggingface.co/codellama/CodeLlama-34b-hf/blob/main/config.json (the Llama-2 34B architecture; IBM's FMS 34B config)"}


def gpt(h, layers, heads, name):
    """Megatron GPT of Narayanan et al. / Korthikanti et al.: V = 51,200, s = 2048, learned
    positions, LayerNorm and biases, 4h MLP, tied output embedding = GPT-2's architecture."""
    return {"model_type": "gpt2", "n_embd": h, "n_layer": layers, "n_head": heads, "vocab_size": 51200,
            "n_positions": 2048, "xlcalc_source": name}


rows = []


def add(**r):
    rows.append(r)


# ---------------------------------------------------------------- serving throughput, max load
trt_thr = [
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "h100-sxm", "H100 80GB HBM3", 1, "fp8", 128, 128, 28836.77),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "h100-sxm", "H100 80GB HBM3", 1, "fp8", 128, 2048, 21109.38),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "h100-sxm", "H100 80GB HBM3", 1, "fp8", 2048, 128, 3556.73),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "h100-sxm", "H100 80GB HBM3", 1, "fp8", 1000, 1000, 15244.78),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "h100-sxm", "H100 80GB HBM3", 1, "fp8", 5000, 500, 3559.36),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "h200", "H200 141GB HBM3e", 1, "fp8", 500, 2000, 21020.81),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "a100-80gb", "A100-SXM4-80GB", 1, "fp16", 128, 2048, 5255.99),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "a100-80gb", "A100-SXM4-80GB", 1, "fp16", 2048, 2048, 2424.16),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B", "l40s", "L40S", 1, "fp8", 128, 128, 9104.61),
    ("llama-3.1-70b", "meta-llama/Llama-3.1-70B", "h100-sxm", "H100 80GB HBM3", 2, "fp8", 128, 2048, 6169.58),
    ("llama-3.1-70b", "meta-llama/Llama-3.1-70B", "h100-sxm", "H100 80GB HBM3", 4, "fp8", 1000, 1000, 7430.99),
    ("llama-3.1-70b", "meta-llama/Llama-3.1-70B", "h200", "H200 141GB HBM3e", 8, "fp8", 2048, 2048, 11142.47),
    ("llama-3.1-70b", "meta-llama/Llama-3.1-70B", "a100-80gb", "A100-SXM4-80GB", 4, "fp16", 500, 2000, 2275.79),
    ("llama-3.1-405b", "meta-llama/Llama-3.1-405B", "h200", "H200 141GB HBM3e", 8, "fp8", 1000, 1000, 3399.69),
    ("mistral-7b", "mistralai/Mistral-7B", "h100-sxm", "H100 80GB HBM3", 1, "fp8", 128, 2048, 23496.42),
    ("mixtral-8x7b", "mistralai/Mixtral-8x7B", "h100-sxm", "H100 80GB HBM3", 2, "fp8", 128, 2048, 22830.08),
]
for model, mname, gpu, hw, tp, prec, isl, osl, value in trt_thr:
    add(id=f"trtllm-0.17-{model}-{gpu}-{prec}-tp{tp}-{isl}-{osl}", kind="serving_throughput",
        model=model, model_name=mname, hardware=hw, gpu=gpu, n_gpus=tp,
        engine="trt-llm", engine_version="0.17.0",
        parallelism={"tp": tp, "pp": 1, "dp": 1, "ep": 1},
        precision={"weights": prec, "kv_cache": prec, "compute": prec},
        isl=isl, osl=osl, concurrency=None, request_rate="infinite",
        metric="output_tokens_per_s", value=value, unit="tokens/s (whole TP group)",
        flags={"kv_cache_free_gpu_mem_fraction": 0.95},
        conditions="trtllm-bench throughput: every request queued at once (offline max load), synthetic "
                   "fixed ISL/OSL, TensorRT engine built by trtllm-bench build (max_batch_size and max_num_tokens "
                   "from its heuristics), kv_cache_free_gpu_mem_fraction 0.95 (0.90 on OOM), FP8 also sets "
                   "the KV cache to FP8; 'Token Throughput' = output tokens/s (request rate × OSL)",
        source={**TRT017, "table": "Throughput Measurements (v0.17)"}, date="v0.17 release, early 2025")


# Azure AI-benchmarking-guide end-to-end runs (1000 requests, FP8); "throughput(tokens/sec)"
AZ_H100 = {"repo": "samuel-bohman/AI-benchmarking-guide", "path": "Azure_Results/ND_H100_v5_results.md",
           "commit": "a6533f14ab325f14a5ff87666ee92436be22881f", "fork_of": "Azure/AI-benchmarking-guide"}
AZ_MI300X = {"repo": "samuel-bohman/AI-benchmarking-guide", "path": "Azure_Results/ND_MI300X_v5_results.md",
             "commit": "3de0c294fd1059a91a2c158712c4a078619d73e8", "fork_of": "Azure/AI-benchmarking-guide"}
AZ_GB200 = {"repo": "Azure/AI-benchmarking-guide", "path": "Azure_Results/ND_GB200_v6_results.md",
            "commit": "fa799957e3c223546ed7726dff043cdcb62327ee"}
azure = [("trt-llm", "TensorRT-LLM (trtllm-bench, 2025)", "h100-sxm", "ND H100 v5 (H100 80GB HBM3)", AZ_H100, "llama-3.1-8b", 1, 1024, 1024, 11724),
         ("trt-llm", "TensorRT-LLM (trtllm-bench, 2025)", "h100-sxm", "ND H100 v5 (H100 80GB HBM3)", AZ_H100, "llama-3.1-70b", 8, 2048, 2048, 7908),
         ("vllm", "vLLM (ROCm, 2025)", "mi300x", "ND MI300X v5 (MI300X 192GB)", AZ_MI300X, "llama-3.1-8b", 1, 128, 128, 18149),
         ("vllm", "vLLM (ROCm, 2025)", "mi300x", "ND MI300X v5 (MI300X 192GB)", AZ_MI300X, "llama-3.1-8b", 1, 1024, 1024, 10995),
         ("vllm", "vLLM (ROCm, 2025)", "mi300x", "ND MI300X v5 (MI300X 192GB)", AZ_MI300X, "llama-3.1-70b", 8, 2048, 2048, 7421),
         ("trt-llm", "TensorRT-LLM (trtllm-bench, 2025)", "b200", "ND GB200 v6 (GB200, 4 GPUs per VM)", AZ_GB200, "llama-3.1-8b", 1, 1024, 1024, 27944)]
for eng, ver, gpu, hw, src, model, tp, isl, osl, value in azure:
    add(id=f"azure-{eng}-{model}-{gpu}-fp8-tp{tp}-{isl}-{osl}", kind="serving_throughput", model=model,
        model_name=f"meta-llama/{'Llama-3.1-8B' if '8b' in model else 'Llama-3.1-70B'}", hardware=hw, gpu=gpu,
        n_gpus=tp, engine=eng, engine_version=ver, parallelism={"tp": tp, "pp": 1, "dp": 1, "ep": 1},
        precision={"weights": "fp8", "kv_cache": "fp8" if eng == "trt-llm" else "bf16", "compute": "fp8"},
        isl=isl, osl=osl, concurrency=None, request_rate="infinite", metric="output_tokens_per_s",
        value=value, unit="tokens/s (whole TP group)",
        conditions="offline throughput benchmark with 1000 requests of fixed ISL/OSL, FP8 quantization; the "
                   "table's 'throughput(tokens/sec)' is read as output tokens/s (request rate × OSL), as "
                   "trtllm-bench and vLLM's benchmark_throughput report it; a GB200 GPU is planned with the "
                   "B200 preset (same chip, higher clocks)" if gpu == "b200" else
                   "offline throughput benchmark with 1000 requests of fixed ISL/OSL, FP8 quantization; the "
                   "table's 'throughput(tokens/sec)' is read as output tokens/s (request rate × OSL), as "
                   "trtllm-bench and vLLM's benchmark_throughput report it",
        source=src, date="2025")

# ---------------------------------------------------------------- serving latency at fixed load
trt_lat = [
    ("llama-3.1-8b", "h100-sxm", "H100 80GB HBM3", 1, 467, 256, 2, "ttft_ms", 23),
    ("llama-3.1-8b", "h100-sxm", "H100 80GB HBM3", 1, 467, 256, 2, "itl_ms", 8),
    ("llama-3.1-8b", "h100-sxm", "H100 80GB HBM3", 1, 467, 256, 16, "ttft_ms", 30),
    ("llama-3.1-8b", "h100-sxm", "H100 80GB HBM3", 1, 467, 256, 16, "itl_ms", 11),
    ("llama-3.1-8b", "h100-sxm", "H100 80GB HBM3", 1, 202, 214, 32, "itl_ms", 11),
    ("llama-3.1-8b", "h200", "H200 141GB HBM3e", 1, 467, 256, 2, "itl_ms", 6),
    ("llama-3.1-70b", "h100-sxm", "H100 80GB HBM3", 4, 467, 256, 2, "ttft_ms", 62),
    ("llama-3.1-70b", "h100-sxm", "H100 80GB HBM3", 4, 467, 256, 2, "itl_ms", 21),
    ("llama-3.1-70b", "h100-sxm", "H100 80GB HBM3", 4, 202, 214, 8, "itl_ms", 25),
    ("llama-3.1-70b", "h200", "H200 141GB HBM3e", 4, 467, 256, 2, "itl_ms", 18),
]
for model, gpu, hw, tp, isl, osl, qps, metric, value in trt_lat:
    add(id=f"trtllm-0.14-{model}-{gpu}-bf16-tp{tp}-{isl}-{osl}-qps{qps}-{metric.split('_')[0]}",
        kind="serving_latency", model=model, model_name=f"meta-llama/{model.replace('llama-3.1', 'Llama-3.1').replace('b', 'B')}",
        hardware=hw, gpu=gpu, n_gpus=tp, engine="trt-llm", engine_version="0.14.0",
        parallelism={"tp": tp, "pp": 1, "dp": 1, "ep": 1},
        precision={"weights": "bf16", "kv_cache": "bf16", "compute": "bf16"},
        isl=isl, osl=osl, concurrency=None, request_rate=qps,
        metric=metric, value=value, unit="ms",
        conditions="Triton TensorRT-LLM backend, 500 requests at the given QPS (requests/s), BF16; mean TTFT / "
                   "mean inter-token latency; concurrency follows from Little's law (QPS × end-to-end time)",
        source={**TRT017, "table": "Online Serving Measurements (v0.14.0)"}, date="v0.14.0 release, late 2024")

# ---------------------------------------------------------------- KV capacity (engine log lines)
GiB = "GiB"
add(id="vllm-v1-llama-3.1-8b-h100-tp1-kv", kind="kv_capacity", model="llama-3.1-8b",
    model_name="meta-llama/Llama-3.1-8B-Instruct", hardware="H100 80GB (79.18 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="vllm", engine_version="V1 (llm-d measurements, 2025)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "bf16", "kv_cache": "bf16"},
    seq_len=16000, metric="available_kv_bytes", value=51.38, unit=GiB,
    conditions="vllm serve, gpu-memory-utilization 0.9, max-model-len 16000, prefix caching, block size 128; "
               "log: weights 14.99, peak activation 4.76, non-torch 0.13 GiB",
    source=LLMD, date="2025-08 or later (serves gpt-oss; file at commit 2593348)")
add(id="vllm-v1-qwen3-0.6b-h100-tp1-kv", kind="kv_capacity", model_config=QWEN3_06B,
    model_name="Qwen/Qwen3-0.6B", hardware="H100 80GB (79.18 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="vllm", engine_version="V1 (llm-d measurements, 2025)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "bf16", "kv_cache": "bf16"},
    seq_len=16000, metric="available_kv_bytes", value=64.45, unit=GiB,
    conditions="as above; log: weights 1.12, peak activation 5.56, non-torch 0.13 GiB",
    used_for="the vllm preset's sampler_bytes_per_logit (5.56 GiB peak activation) and non_torch_bytes",
    source=LLMD, date="2025-08 or later (serves gpt-oss; file at commit 2593348)")
add(id="vllm-v1-qwen3-32b-h100-tp1-kv", kind="kv_capacity", model_config=QWEN3_32B,
    model_name="Qwen/Qwen3-32B", hardware="H100 80GB (79.18 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="vllm", engine_version="V1 (llm-d measurements, 2025)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "bf16", "kv_cache": "bf16"},
    seq_len=16000, metric="available_kv_bytes", value=4.45, unit=GiB,
    conditions="as above; log: weights 61.03, peak activation 5.64, non-torch 0.14 GiB (small remainder: "
               "a 0.1 GiB weight error is 2 % of it)",
    source=LLMD, date="2025-08 or later (serves gpt-oss; file at commit 2593348)")
add(id="vllm-v1-llama-3.3-70b-fp8-h100-tp2-kv", kind="kv_capacity", model="llama-3.1-70b",
    model_name="RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic (Llama-3.1-70B architecture)",
    hardware="2 × H100 80GB (79.18 GiB reported)", gpu="h100-sxm", gpu_memory_reported_gib=79.18, n_gpus=2,
    engine="vllm", engine_version="V1 (llm-d measurements, 2025)", parallelism={"tp": 2, "pp": 1},
    precision={"weights": "fp8", "kv_cache": "bf16"}, seq_len=16000, metric="available_kv_bytes",
    value=32.0, unit=GiB,
    conditions="as above, TP=2; log per GPU: weights 33.88, peak activation 4.84, non-torch 0.55 GiB",
    used_for="the vllm preset's non_torch_tp_bytes (0.55 − 0.13 GiB)", source=LLMD, date="2025-08 or later (serves gpt-oss; file at commit 2593348)")
add(id="vllm-v1-gpt-oss-120b-h100-tp1-kv", kind="kv_capacity",
    model_config={"model_type": "gpt_oss", "xlcalc_source": "https://huggingface.co/openai/gpt-oss-120b/blob/main/config.json"},
    model_name="openai/gpt-oss-120b", hardware="H100 80GB (79.18 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="vllm", engine_version="V1 (llm-d measurements, 2025)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "mxfp4", "kv_cache": "bf16"}, seq_len=16000,
    metric="available_kv_bytes", value=3.33, unit=GiB,
    conditions="as above; log: weights 64.38, peak activation 7.38, non-torch 0.13 GiB; MoE weights in MXFP4",
    source=LLMD, date="2025-08 or later (serves gpt-oss; file at commit 2593348)")
add(id="vllm-v1-gpt-oss-20b-h100-tp1-kv", kind="kv_capacity",
    model_config={"model_type": "gpt_oss", "xlcalc_source": "https://huggingface.co/openai/gpt-oss-20b/blob/main/config.json"},
    model_name="openai/gpt-oss-20b", hardware="H100 80GB (79.18 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="vllm", engine_version="V1 (llm-d measurements, 2025)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "mxfp4", "kv_cache": "bf16"}, seq_len=16000,
    metric="available_kv_bytes", value=50.28, unit=GiB,
    conditions="as above; log: weights 13.47, peak activation 7.38, non-torch 0.13 GiB",
    source=LLMD, date="2025-08 or later (serves gpt-oss; file at commit 2593348)")
add(id="sglang-0.4.1-llama-3.1-8b-h100-tp1-tokens", kind="kv_capacity", model="llama-3.1-8b",
    model_name="meta-llama/Meta-Llama-3.1-8B-Instruct", hardware="H100 80GB (79.18 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="sglang", engine_version="0.4.1 (docs build 2025-01-23)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "bf16", "kv_cache": "bf16"},
    flags={"mem_fraction_static": 0.88, "chunked_prefill_size": 8192, "cuda_graph_max_bs": 160},
    metric="kv_tokens", value=444500, unit="tokens",
    conditions="python -m sglang.launch_server defaults (printed server_args: mem_fraction_static=0.88); "
               "'Load weight begin. avail mem=78.81 GB', 'Load weight end ... avail mem=63.72 GB', "
               "'KV Cache is allocated. K size: 27.13 GB, V size: 27.13 GB', 'max_total_num_tokens=444500'",
    source={"url": "https://docs.sglang.ai/start/send_request.html"}, date="2025-01-23")
add(id="sglang-0.4.4-llama-3.1-8b-h100-tp1-fa3-tokens", kind="kv_capacity", model="llama-3.1-8b",
    model_name="meta-llama/Meta-Llama-3.1-8B-Instruct", hardware="H100 80GB", gpu="h100-sxm",
    gpu_memory_reported_gib=79.18, n_gpus=1, engine="sglang", engine_version="0.4.4 (PR #4760 test log, 2025-03-25)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "bf16", "kv_cache": "bf16"},
    flags={"mem_fraction_static": 0.88, "attention_backend": "fa3"},
    metric="kv_tokens", value=442750, unit="tokens",
    conditions="'Load weight end ... avail mem=63.48 GB, mem usage=15.11 GB', 'KV Cache is allocated. "
               "#tokens: 442750, K size: 27.02 GB, V size: 27.02 GB'; mem_fraction_static 0.88 was the TP=1 "
               "default of that release",
    source={"repo": "sgl-project/sglang", "url": "https://github.com/sgl-project/sglang/pull/4760"}, date="2025-03-25")
add(id="sglang-qwen3-235b-a22b-fp8-h100-tp4-tokens", kind="kv_capacity", model_config=QWEN3_235B,
    model_name="Qwen/Qwen3-235B-A22B-FP8", hardware="4 × H100 80GB", gpu="h100-sxm", n_gpus=4,
    engine="sglang", engine_version="0.4.9 (July 2025)", parallelism={"tp": 4, "pp": 1},
    precision={"weights": "fp8", "kv_cache": "bf16"}, flags={"mem_fraction_static": 0.93},
    metric="kv_tokens", value=367404, unit="tokens",
    conditions="python3 -m sglang.launch_server --tp 4 --mem-fraction-static 0.93: 'KV Cache is allocated. "
               "#tokens: 367404, K size: 8.23 GB, V size: 8.23 GB'",
    source={"url": "https://github.com/vllm-project/vllm/issues/21348"}, date="2025-07-22")
add(id="vllm-v1-qwen3-235b-a22b-fp8-h100-tp4-tokens", kind="kv_capacity", model_config=QWEN3_235B,
    model_name="Qwen/Qwen3-235B-A22B-FP8", hardware="4 × H100 80GB", gpu="h100-sxm", n_gpus=4,
    engine="vllm", engine_version="0.9.2 (July 2025, V1)", parallelism={"tp": 4, "pp": 1},
    precision={"weights": "fp8", "kv_cache": "bf16"}, flags={"kv_transfer": "LMCacheConnectorV1"},
    metric="kv_tokens", value=178880, unit="tokens",
    conditions="vllm serve --tensor-parallel-size 4 (default gpu-memory-utilization 0.9): 'Available KV cache "
               "memory: 8.11 GiB', 'GPU KV cache size: 178,880 tokens'",
    source={"url": "https://github.com/vllm-project/vllm/issues/21348"}, date="2025-07-22")
add(id="vllm-0.2.4-llama-2-7b-a100-80gb-tp1-blocks", kind="kv_capacity", model="llama-2-7b",
    model_name="meta-llama/Llama-2-7b-hf", hardware="A100-SXM4-80GB", gpu="a100-80gb", n_gpus=1,
    engine="vllm", engine_version="0.2.4 (PR #2031, Dec 2023)", parallelism={"tp": 1, "pp": 1},
    precision={"weights": "fp16", "kv_cache": "fp16"}, flags={"max_num_seqs": 256, "max_num_batched_tokens": 4096},
    metric="kv_blocks", value=7351, unit="blocks of 16 tokens",
    conditions="benchmark_throughput.py defaults of vLLM 0.2.x (gpu_memory_utilization 0.9, profile at "
               "max_num_batched_tokens = max(max_model_len, 2560) and max_num_seqs 256): '# GPU blocks: 7351'",
    source={"url": "https://github.com/vllm-project/vllm/pull/2031"}, date="2023-12-12")
add(id="vllm-0.2.4-llama-2-70b-a100-80gb-tp4-blocks", kind="kv_capacity", model="llama-2-70b",
    model_name="meta-llama/Llama-2-70b-hf", hardware="4 × A100-SXM4-80GB", gpu="a100-80gb", n_gpus=4,
    engine="vllm", engine_version="0.2.4 (PR #2031, Dec 2023)", parallelism={"tp": 4, "pp": 1},
    precision={"weights": "fp16", "kv_cache": "fp16"}, flags={"max_num_seqs": 256, "max_num_batched_tokens": 4096},
    metric="kv_blocks", value=20865, unit="blocks of 16 tokens",
    conditions="as above, TP=4: '# GPU blocks: 20865' (after the PR that counts NCCL memory)",
    source={"url": "https://github.com/vllm-project/vllm/pull/2031"}, date="2023-12-12")
add(id="vllm-0.6.5-llama-3-8b-h100-tp1-kv", kind="kv_capacity", model="llama-3-8b",
    model_name="meta-llama/Meta-Llama-3-8B", hardware="H100 80GB (79.22 GiB reported)", gpu="h100-sxm",
    gpu_memory_reported_gib=79.22, n_gpus=1, engine="vllm", engine_version="0.6.5 (V0, PR #10511)",
    parallelism={"tp": 1, "pp": 1}, precision={"weights": "bf16", "kv_cache": "bf16"},
    flags={"max_num_seqs": 256, "max_num_batched_tokens": 8192},
    metric="available_kv_bytes", value=53.29, unit=GiB,
    conditions="vllm serve meta-llama/Meta-Llama-3-8B: total_gpu_memory 79.22 GiB, util 0.90 (71.29 GiB), "
               "weights 14.96, non_torch_memory 1.79 (V0 counts the CUDA context and NCCL here), activation peak "
               "1.26 GiB, available_kv_cache_memory 53.29 GiB",
    source={"url": "https://github.com/vllm-project/vllm/pull/10511"}, date="2024-12-14")
add(id="trtllm-memory-md-example-blocks", kind="kv_capacity",
    model_config=None, model_name="unnamed (engine 6,695 MiB, 262,144 KV bytes per token)",
    hardware="79.10 GiB reported", gpu="h100-sxm", gpu_memory_reported_gib=79.10, n_gpus=1, engine="trt-llm",
    engine_version="TensorRT engine, C++ runtime (docs example)", parallelism={"tp": 1, "pp": 1},
    precision={"weights": "unknown", "kv_cache": "unknown"}, flags={"tokens_per_block": 64},
    metric="kv_blocks", value=4060, unit="blocks of 64 tokens",
    conditions="'Memory usage when calculating max tokens in paged kv cache: total: 79.10 GiB, available: "
               "70.48 GiB', 'Number of blocks in KV cache primary pool: 4060'",
    source={"repo": "NVIDIA/TensorRT-LLM", "path": "docs/source/reference/memory.md"}, date="undated docs example (TensorRT engine era)")

# ---------------------------------------------------------------- training throughput
ibm = [("llama-2-7b", None, "a100-80gb", 128, "none", 3700, 0.57), ("llama-2-13b", None, "a100-80gb", 128, "selective", 1800, 0.51),
       ("llama-2-34b", LLAMA2_34B, "a100-80gb", 128, "full", 700, 0.47), ("llama-2-70b", None, "a100-80gb", 128, "full", 370, 0.50),
       ("llama-2-7b", None, "h100-sxm", 96, "none", 7500, 0.37), ("llama-2-13b", None, "h100-sxm", 96, "selective", 3800, 0.35),
       ("llama-2-34b", LLAMA2_34B, "h100-sxm", 96, "full", 1550, 0.32), ("llama-2-70b", None, "h100-sxm", 96, "full", 800, 0.34)]
for model, cfg, gpu, n, ac, tps, mfu in ibm:
    r = dict(id=f"ibm-fsdp-{model}-{gpu}-{n}gpu", kind="training_throughput",
             model_name=f"Llama 2 {model.split('-')[-1].upper()} architecture (IBM FMS)",
             hardware=("A100 80GB, 400 Gb/s inter-node" if gpu == "a100-80gb" else "H100 80GB, 800 Gb/s inter-node"),
             gpu=gpu, n_gpus=n, engine="pytorch-fsdp", engine_version="PyTorch nightlies after 2.2 (Nov 2023 - Feb 2024)",
             parallelism={"dp": n, "zero": 3, "tp": 1, "pp": 1}, precision={"training": "bf16-mixed"},
             seq_len=4096, batch_per_gpu=2, recompute=ac,
             metric="tokens_per_s_per_gpu", value=tps, unit="tokens/s/GPU",
             conditions=f"FSDP FULL_SHARD, SDPA FlashAttention-2, micro batch 2 × 4096 tokens per GPU, activation "
                        f"checkpointing '{ac}' (selective = every n-th block), AdamW fp32 states; MFU {mfu:.2f} "
                        "(PaLM/nanoGPT definition)",
             source=IBM, date="2024-03-13")
    r["model" if cfg is None else "model_config"] = model if cfg is None else cfg
    add(**r)
tt = [("fsdp", 8, 5762, 82.4, "eager"), ("fsdp-compile", 8, 6667, 77.0, "torch.compile"), ("fsdp", 128, 5605, 67.0, "eager")]
for tag, n, tps, mem, mode in tt:
    common = dict(model="llama-3.1-8b", model_name="meta-llama/Llama-3.1-8B",
                  hardware="H100 SXM 96GB HBM2e (2.4 TB/s), 500 W power limit (Grand Teton)",
                  gpu={"preset": "h100-sxm", "memory_gb": 96, "memory_bandwidth_gb_per_s": 2400},
                  n_gpus=n, engine="torchtitan", engine_version="torchtitan 9dec370, torch 1963fc8 (2024-12)",
                  parallelism={"dp": n, "zero": 3, "tp": 1, "pp": 1}, precision={"training": "bf16-mixed"},
                  seq_len=8192, batch_per_gpu=2, recompute="selective",
                  source={**TT, "table": f"Table {1 if n == 8 else 3}"}, date="2024-12")
    cond = (f"FSDP, {mode}, local batch 2 × 8192 tokens, selective activation checkpointing, bf16; TPS/GPU read at "
            "iteration 90; the authors estimate 33-39 % MFU against the SXM peak")
    add(id=f"torchtitan-llama-3.1-8b-{tag}-{n}gpu-tps", kind="training_throughput", metric="tokens_per_s_per_gpu",
        value=tps, unit="tokens/s/GPU", conditions=cond, **common)
    add(id=f"torchtitan-llama-3.1-8b-{tag}-{n}gpu-memory", kind="training_memory", metric="peak_memory_per_gpu",
        value=mem, unit=GiB, conditions=cond + "; memory = peak reserved by the caching allocator", **common)

korth_cfg = {"22B": (6144, 48, 64, 8, 1, 8, 4, 4), "175B": (12288, 96, 96, 8, 8, 64, 64, 1),
             "530B": (20480, 105, 128, 8, 35, 280, 280, 1), "1T": (25600, 128, 160, 8, 64, 512, 512, 1)}
korth_vp = {"22B": 1, "175B": 3, "530B": 3, "1T": 1}   # pipeline_interleaving of calculon's validation/seqsel files
korth_t5 = {"22B": (1.42, 1.10), "175B": (18.13, 13.75), "530B": (49.05, 37.83), "1T": (94.42, 71.49)}
korth_f1 = {"22B": (45.5625, 59.25, 9.5625), "175B": (45.5625, 66.84375, 12.3515625),
            "530B": (31.640625, 114.0234375, 23.076171875), "1T": (32.958984375, 131.25, 26.5625)}
for size, (h, layers, heads, tp, pp, n, batch, micro) in korth_cfg.items():
    cfg = gpt(h, layers, heads, f"Korthikanti et al. 2022 Table 3, {size}")
    common = dict(model_config=cfg, model_name=f"Megatron GPT {size}", hardware="A100 80GB (Selene)",
                  gpu="a100-80gb", n_gpus=n, engine="megatron-lm", engine_version="Megatron-LM (2022)",
                  parallelism={"tp": tp, "pp": pp, "dp": 1, "vp": korth_vp[size]},
                  precision={"training": "fp16-mixed", "recipe": "megatron-distopt",
                             "note": "Megatron keeps fp32 main gradients: 2 + 4 + 12 = 18 B per parameter, xlcalc's megatron-distopt recipe at d = 1"},
                  seq_len=2048, global_batch=batch, micro_batch=micro,
                  flags={"flash_attention": 0, "dropout": 1},
                  source=KORTH, date="2022-05")
    for mode, t in zip(("full", "selective+sequence-parallel"), korth_t5[size]):
        add(id=f"korthikanti-{size}-{'full' if mode == 'full' else 'seqsel'}-iteration", kind="training_throughput",
            metric="iteration_time_s", value=t, unit="s", recompute=mode,
            conditions=f"one iteration of global batch {batch} × 2048 tokens on {n} GPUs (TP {tp}, PP {pp}); "
                       f"activation recomputation: {mode} (Table 5)", **common)
    par_opt, act_none, act_seqsel = korth_f1[size]
    add(id=f"korthikanti-{size}-params-optimizer-memory", kind="training_memory",
        metric="params_grads_optimizer_per_gpu", value=par_opt, unit=GiB, recompute="none",
        conditions="parameters + gradients + optimizer states per GPU (mixed precision Adam, 18 B per parameter "
                   "over TP × PP; first pipeline stage), Figure 1", **common)
    add(id=f"korthikanti-{size}-activation-none", kind="training_memory", metric="activation_per_gpu",
        value=act_none, unit=GiB, recompute="none",
        conditions="activation memory per GPU without recomputation or sequence parallelism (first stage, "
                   "micro batches in flight), Figure 1", **common)
    add(id=f"korthikanti-{size}-activation-seqsel", kind="training_memory", metric="activation_per_gpu",
        value=act_seqsel, unit=GiB, recompute="selective+sequence-parallel",
        conditions="as above with selective recomputation and sequence parallelism, Figure 1", **common)

narayanan = [(1.7, 24, 2304, 24, 1, 1, 32, 512, 137, 44), (3.6, 32, 3072, 30, 2, 1, 64, 512, 138, 44),
             (7.5, 32, 4096, 36, 4, 1, 128, 512, 142, 46), (18.4, 48, 6144, 40, 8, 1, 256, 1024, 135, 43),
             (39.1, 64, 8192, 48, 8, 2, 512, 1536, 138, 44), (76.1, 80, 10240, 60, 8, 4, 1024, 1792, 140, 45),
             (145.6, 96, 12288, 80, 8, 8, 1536, 2304, 148, 47), (310.1, 128, 16384, 96, 8, 16, 1920, 2160, 155, 50),
             (529.6, 128, 20480, 105, 8, 35, 2520, 2520, 163, 52), (1008.0, 160, 25600, 128, 8, 64, 3072, 3072, 163, 52)]
for size, heads, h, layers, tp, pp, n, batch, tflops, pct in narayanan:
    add(id=f"narayanan-gpt-{size}b-{n}gpu", kind="training_mfu",
        model_config=gpt(h, layers, heads, f"Narayanan et al. 2021 Table 1, {size}B"),
        model_name=f"Megatron GPT {size}B", hardware="A100 80GB (Selene), 8 × 200 Gb/s HDR per node",
        gpu="a100-80gb", n_gpus=n, engine="megatron-lm", engine_version="Megatron-LM (2021)",
        parallelism={"tp": tp, "pp": pp, "dp": n // (tp * pp)}, precision={"training": "fp16-mixed"},
        seq_len=2048, global_batch=batch, recompute="full",
        metric="hardware_flops_utilization", value=pct / 100, unit="fraction of 312 TFLOP/s",
        achieved_tflops_per_gpu=tflops,
        conditions="end-to-end throughput including communication, data loading and optimizer; FLOPs counted "
                   "by eq. (3), 96·B·s·l·h²·(1 + s/6h + V/16lh), which includes the recomputed forward pass "
                   "(so this is HFU; MFU = 3/4 of it); interleaved 1F1B schedule, full activation recomputation",
        source=NARAYANAN, date="2021-04")

# ---------------------------------------------------------------- held-out halves
# Rule, applied before any estimate was computed (2026-11-29): rows whose figure was used to
# set a preset constant ('used_for') are calibration rows; the others, within each kind and
# sorted by id, alternate calibration / held-out, starting with calibration.
by_kind = defaultdict(list)
for r in rows:
    by_kind[r["kind"]].append(r)
for kind, group in by_kind.items():
    i = 0
    for r in sorted(group, key=lambda r: r["id"]):
        if r.get("used_for"):
            r["held_out"] = False
            continue
        r["held_out"] = bool(i % 2)
        i += 1

ids = [r["id"] for r in rows]
assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
for r in rows:
    for k in ("model", "model_config"):
        if k in r and r[k] is None:
            del r[k]
out = {
    "about": "Published measurements xlcalc is validated against (issue 15). Each row: what was measured "
             "(kind, metric, value, unit), on what (model, hardware, engine and version, parallelism, "
             "precision, ISL/OSL or sequence length, batch/concurrency), the conditions needed to recompute it, "
             "and its source (URL or repo + path + commit) and date. Figures are transcribed as published; "
             "nothing is derived from xlcalc.",
    "held_out_rule": "Rows whose figure set a preset constant ('used_for') are calibration rows. The others, "
                     "within each kind sorted by id, alternate calibration / held-out starting with calibration. "
                     "Assigned 2026-11-29 before any xlcalc estimate of these rows was computed; calibration "
                     "never reads held-out rows.",
    "kinds": {"serving_throughput": "output tokens/s of a replica at maximum load",
              "serving_latency": "TTFT or inter-token latency at a fixed request rate",
              "kv_capacity": "KV-cache memory, tokens or blocks an engine logs at start-up",
              "training_throughput": "tokens/s per GPU or seconds per iteration",
              "training_mfu": "achieved share of the dense peak",
              "training_memory": "peak memory, or a part of it, per GPU"},
    "date": "2026-11-29",
    "rows": rows,
}
with open("xlcalc/presets/validation/measurements.json", "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
from collections import Counter
print(len(rows), Counter(r["kind"] for r in rows), Counter((r["kind"], r["held_out"]) for r in rows))
