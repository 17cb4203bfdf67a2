"""Ground truth for the ``hf`` training stack: what PyTorch really keeps for backward
after one training forward of transformers' modules.

Run once by hand (torch and transformers are NOT dependencies of xlcalc; any environment
that has them will do, here torch 2.13.0+cpu and transformers 5.24)::

    python tests/data/make_activation_measurements.py   # writes activation_measurements.json

For each architecture a real preset's ``config.json`` is shrunk to a few layers and a
small width (``SHRINK`` below: the overrides are stored with the numbers, and the test
feeds the very same config to xlcalc).  Every dropout probability is set to 0: on CPU
PyTorch's dropout keeps a noise tensor of the activation's dtype, where the GPU kernel
keeps a 1-byte mask, so CPU dropout is not what a GPU stores (xlcalc counts 1-byte masks,
Korthikanti et al. 2022).  The model is built in the dtype (``fp32`` or ``bf16``: the
whole module in bf16, as FSDP/Megatron run it; no autocast, whose cached bf16 weight
copies are working weights, not activations), put in training mode, and run on random
token ids with ``labels = input_ids`` (transformers' causal-LM loss).

Measured: every tensor autograd saves (``torch.autograd.graph.saved_tensors_hooks``, the
pack hook sees each one), deduplicated by untyped storage (a view costs its whole
storage once), parameters and buffers excluded.  With gradient checkpointing
(``gradient_checkpointing_enable(use_reentrant=False)``, what transformers' Trainer uses)
the recomputed tensors are packed by the checkpoint's own hooks and never stored; the
layer inputs are saved through ``_NoopSaveInputs``, which the outer hook sees; tensors
kept alive only by the checkpoint's closures (position ids) are found by scanning the
live tensors with :func:`gc.get_objects`.  The CPU RNG states the checkpoint stashes
(``torch.get_rng_state()``, 5,056 bytes a layer) stay in host memory on a GPU and are
left out.

Each record: the architecture, its config (as given to transformers and to xlcalc), the
batch, sequence length, attention implementation (``eager``/``sdpa``), dtype, whether
checkpointing was on, the saved bytes in total, by layer and outside the layers, and
the biggest tensors of layer 0 (shape, dtype, the module that saved it) for reading.
"""

from __future__ import annotations

import collections
import gc
import json
import platform
import re
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "xlcalc" / "presets" / "models"
OUT = Path(__file__).resolve().parent / "activation_measurements.json"
DROP = ("xlcalc_source", "xlcalc_nominal_params", "auto_map", "quantization_config")
IDS = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}

# preset -> overrides that shrink it (dropout probabilities set to 0, see the docstring)
SHRINK = {
    "llama-3.2-1b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                         head_dim=32, intermediate_size=512, num_hidden_layers=2,
                         vocab_size=1000),
    "mistral-7b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                       intermediate_size=512, num_hidden_layers=2, vocab_size=1000,
                       sliding_window=32),
    "qwen2.5-0.5b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                         intermediate_size=512, num_hidden_layers=2, vocab_size=1000),
    "gemma-2-2b": dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=64, intermediate_size=512, num_hidden_layers=2,
                       vocab_size=1000, sliding_window=32, query_pre_attn_scalar=64),
    "mixtral-8x7b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                         intermediate_size=384, num_hidden_layers=2, vocab_size=1000,
                         num_local_experts=4, sliding_window=None),
    "deepseek-v3": dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=4,
                        intermediate_size=512, moe_intermediate_size=128,
                        num_hidden_layers=3, first_k_dense_replace=1, n_routed_experts=8,
                        num_experts_per_tok=2, n_group=2, topk_group=1, vocab_size=1000,
                        q_lora_rank=96, kv_lora_rank=64, qk_rope_head_dim=16,
                        qk_nope_head_dim=32, v_head_dim=32),
    "phi-3-mini": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                       intermediate_size=512, num_hidden_layers=2, vocab_size=1000,
                       sliding_window=None, embd_pdrop=0.0, resid_pdrop=0.0),
    "gpt2": dict(n_embd=256, n_head=8, n_layer=2, vocab_size=1000, n_positions=256,
                 attn_pdrop=0.0, embd_pdrop=0.0, resid_pdrop=0.0),
    "opt-6.7b": dict(hidden_size=256, num_attention_heads=8, ffn_dim=1024,
                     word_embed_proj_dim=256, num_hidden_layers=2, vocab_size=1000,
                     max_position_embeddings=256, dropout=0.0, attention_dropout=0.0,
                     activation_dropout=0.0),
    "falcon-7b": dict(hidden_size=256, num_attention_heads=8, num_hidden_layers=2,
                      vocab_size=1000, attention_dropout=0.0, hidden_dropout=0.0),
}
#: the layer kinds of issue 11 (sliding/full alternation with sinks, 5:1 local/global, QK
#: norm, qwen3 MoE, gated DeltaNet + full attention, chunked attention with interleaved MoE):
#: measured ahead of their presets (``--next DIR`` reads the presets from DIR and writes
#: activation_measurements_next.json)
SHRINK_NEXT = {
    "gpt-oss-20b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                        head_dim=32, intermediate_size=256, num_local_experts=4,
                        num_experts_per_tok=2, experts_per_token=2, num_hidden_layers=2,
                        vocab_size=1000,
                        sliding_window=32, layer_types=["sliding_attention", "full_attention"]),
    "gemma-3-1b": dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=1,
                       head_dim=64, intermediate_size=512, num_hidden_layers=2, vocab_size=1000,
                       sliding_window=32, query_pre_attn_scalar=64,
                       layer_types=["sliding_attention", "full_attention"]),
    "qwen3-8b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2, head_dim=32,
                     intermediate_size=512, num_hidden_layers=2, vocab_size=1000),
    "qwen3-30b-a3b": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
                          head_dim=32, moe_intermediate_size=128, num_experts=8,
                          num_experts_per_tok=2, num_hidden_layers=2, vocab_size=1000),
    "qwen3-next-80b-a3b": dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2,
                               head_dim=64, linear_num_value_heads=4, linear_num_key_heads=2,
                               linear_key_head_dim=32, linear_value_head_dim=32,
                               num_hidden_layers=4, full_attention_interval=4,
                               layer_types=["linear_attention"] * 3 + ["full_attention"],
                               moe_intermediate_size=128, shared_expert_intermediate_size=128,
                               num_experts=8, num_experts_per_tok=2, vocab_size=1000),
    "llama-4-scout": dict(model_type="llama4_text", hidden_size=256, num_attention_heads=8,
                          num_key_value_heads=2, head_dim=32, intermediate_size=256,
                          intermediate_size_mlp=512, num_local_experts=4, num_experts_per_tok=1,
                          num_hidden_layers=4, attention_chunk_size=32,
                          interleave_moe_layer_step=1, vocab_size=1000),
}
SHAPES = ((2, 64), (1, 128))        # (micro-batch, sequence length)
IMPLS = ("eager", "sdpa")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# transformers refuses sdpa for these (attention softcapping): eager is what runs
SDPA_REFUSED = {"gemma-2-2b"}


def shrunk_config(preset: str, presets=PRESETS, shrink=SHRINK) -> dict:
    config = json.loads((Path(presets) / f"{preset}.json").read_text())
    for key in DROP:
        config.pop(key, None)
    overrides = dict(shrink[preset])
    if "text_config" in config:          # a multimodal wrapper: its language model only
        text = config["text_config"]
        config = {**{k: v for k, v in config.items() if k != "text_config"
                     and not isinstance(v, dict)}, **text}
        config["model_type"] = overrides.pop("model_type", text.get("model_type"))
    config.pop("vision_config", None)
    config.update(IDS)
    config.update(overrides)
    return config


_LAYER = re.compile(r"\.(?:layers|h)\.(\d+)(?:\.|$)")


def _live_tensors():
    """Every tensor the garbage collector can reach (not parameters)."""
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and not isinstance(obj, torch.nn.Parameter):
            yield obj


def _storage_ptr(t) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return 0


def measure(config: dict, batch: int, seq_len: int, impl: str, dtype: str,
            checkpointing: bool) -> dict:
    gc.collect()
    before = {_storage_ptr(t) for t in _live_tensors()}   # earlier runs' leftovers
    torch.manual_seed(0)
    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    hf_config = AutoConfig.for_model(config["model_type"], **kwargs)
    model = AutoModelForCausalLM.from_config(hf_config, attn_implementation=impl,
                                             dtype=DTYPES[dtype])
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    owned = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    rng_bytes = torch.get_rng_state().numel()

    where = ["(model)"]
    for name, module in model.named_modules():
        if name:
            module.register_forward_pre_hook(lambda m, a, n=name: where.append(n) and None)
            module.register_forward_hook(lambda m, a, o: where.pop() and None)
    saved: dict = {}

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in owned and ptr not in saved:
            saved[ptr] = (storage.nbytes(), str(t.dtype).replace("torch.", ""),
                          list(t.shape), where[-1])
        return t

    ids = torch.randint(3, config["vocab_size"], (batch, seq_len))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(input_ids=ids, labels=ids)
    loss = out.loss
    del out
    gc.collect()
    skip = before | owned | set(saved) | {ids.untyped_storage().data_ptr(),
                                          loss.untyped_storage().data_ptr()}
    live = {}
    for obj in _live_tensors():
        ptr = _storage_ptr(obj)
        if ptr in skip or ptr in live or ptr == 0:
            continue
        storage = obj.untyped_storage()
        if obj.dtype == torch.uint8 and obj.numel() == rng_bytes:
            continue                                   # a stashed CPU RNG state
        live[ptr] = (storage.nbytes(), str(obj.dtype).replace("torch.", ""), list(obj.shape),
                     "(kept by a checkpoint closure)")
    by_layer = collections.Counter()
    other = 0
    layer0 = []
    for nbytes, dt, shape, module in (*saved.values(), *live.values()):
        match = _LAYER.search("." + module)
        if match:
            by_layer[int(match.group(1))] += nbytes
            if match.group(1) == "0":
                layer0.append([module, dt, shape, nbytes])
        else:
            other += nbytes
    total = sum(by_layer.values()) + other
    del loss
    return {"batch": batch, "seq_len": seq_len, "attention": impl, "dtype": dtype,
            "checkpointing": checkpointing, "saved_bytes": total,
            "layer_bytes": [by_layer[i] for i in sorted(by_layer)], "other_bytes": other,
            "layer0_tensors": sorted(layer0, key=lambda r: -r[3])[:12]}


def main(presets=None, source=PRESETS, shrink=SHRINK, out=OUT) -> None:
    presets = presets or list(shrink)
    runs = []
    refused = set()
    for preset in presets:
        config = shrunk_config(preset, source, shrink)
        for batch, seq_len in SHAPES:
            for impl in IMPLS:
                if impl == "sdpa" and preset in SDPA_REFUSED:
                    continue
                for dtype in DTYPES:
                    for ckpt in (False, True):
                        try:
                            record = measure(config, batch, seq_len, impl, dtype, ckpt)
                        except ValueError as e:      # sdpa refused (attention sinks …)
                            if impl != "sdpa" or "does not support" not in str(e):
                                raise
                            refused.add(preset)
                            continue
                        runs.append({"preset": preset, "config": config, **record})
                        print(preset, batch, seq_len, impl, dtype, ckpt, record["saved_bytes"],
                              file=sys.stderr)
    data = {
        "generated_by": "tests/data/make_activation_measurements.py",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "python": platform.python_version(), "device": "cpu",
        "method": "saved_tensors_hooks pack hook, deduplicated by untyped storage, parameters "
                  "and buffers excluded; plus live tensors kept by checkpoint closures; "
                  "dropout probabilities 0; CPU RNG states excluded",
        "sdpa_refused": sorted(refused | (SDPA_REFUSED & set(presets))),
        "runs": runs,
    }
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(runs)} runs to {out}", file=sys.stderr)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--next"]:
        main(args[2:] or None, Path(args[1]), SHRINK_NEXT,
             OUT.with_name("activation_measurements_next.json"))
    else:
        main(args or None)
