"""Ground truth for the ``torchtitan`` training stack: what a torchtitan-style Llama keeps
for backward after one training forward, and the peak of live activation memory over the
forward and backward, with torchtitan's activation-checkpointing modes.

Run once by hand (torch is NOT a dependency of xlcalc; here torch 2.13.0+cpu)::

    python tests/data/make_torchtitan_measurements.py   # writes torchtitan_measurements.json

The model is written here from torchtitan's documented module structure at the commit
of its December 2024 benchmarks (pytorch/torchtitan 9dec370ad26b5f8e9a7333a0e36165018262644b,
torchtitan/models/llama/model.py, torchtitan/models/norms.py, train.py and
torchtitan/parallelisms/parallelize_llama.py); no code is taken from it.  The facts used:

* RMSNorm computes in fp32: ``(x.float() · rsqrt(mean(x²) + eps)).type_as(x) · weight``;
* attention: q, k, v by three bias-free linears; rotary embedding by a complex multiply of
  the fp32 q and k; K and V repeated to every query head (expand + reshape, a copy when
  heads ≠ KV heads); ``F.scaled_dot_product_attention(q, k, v, is_causal=True)`` (flash on
  an H100 in bf16; here CPU's flash kernel); the output transposed back and made
  contiguous before the output projection;
* MLP ``w2(silu(w1 x) · w3 x)``; pre-norm residual blocks; final norm and output linear;
* loss ``cross_entropy(logits.flatten(0, 1).float(), labels)``; the logits are deleted
  before ``backward`` (train.py);
* activation checkpointing per TransformerBlock (``checkpoint_wrapper``, non-reentrant,
  ``preserve_rng_state=False``): ``full`` checkpoints every block; ``selective`` with
  option ``op`` saves, per block, the outputs of the ops in torchtitan's save list (mm,
  the flash/efficient sdpa kernels, reduce_scatter, abs, max) except every second mm
  counted in the block (``MUST_SAVE``, all others ``PREFER_RECOMPUTE``).  On CPU the
  flash kernel is ``_scaled_dot_product_flash_attention_for_cpu``: it stands in for the
  CUDA op in the save list.

Measured with a ``TorchDispatchMode`` that records every storage an op creates (a weak
reference to the storage and its bytes; parameters, buffers, token ids and labels are
created before it and never counted):

* ``saved_bytes``: the storages still alive after the forward and the loss, the logits
  deleted: exactly what autograd, the checkpoint and its selective cache keep for backward;
* ``peak_bytes``: the largest sum of live storages after any op of the forward and
  backward, with each parameter's gradient dropped as soon as it is accumulated (FSDP2
  reduce-scatters and frees a block's unsharded gradients after its backward; the sharded
  gradients are model state, not activations).

Per-layer bytes are read off two depths (2 and 3 blocks): layer = saved(3) − saved(2),
outside = saved(2) − 2 · layer.  Each record: config (a Llama config.json the test feeds to
xlcalc), batch, sequence length, dtype, recompute mode, depth, saved and peak bytes.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.checkpoint import (CheckpointPolicy, checkpoint,
                                    create_selective_checkpoint_contexts)

OUT = Path(__file__).resolve().parent / "torchtitan_measurements.json"
SOURCE = {"repo": "pytorch/torchtitan", "commit": "9dec370ad26b5f8e9a7333a0e36165018262644b",
          "paths": ["torchtitan/models/llama/model.py", "torchtitan/models/norms.py",
                    "torchtitan/parallelisms/parallelize_llama.py", "train.py"]}

# small Llama configs (config.json keys xlcalc reads); GQA and MHA.  The vocabularies are
# large against the width, as in every Llama (V/h ≥ 8), so that the loss's backward is the
# step's peak as it is at full size
CONFIGS = {
    "gqa": dict(model_type="llama", hidden_size=256, num_attention_heads=8,
                num_key_value_heads=2, head_dim=32, intermediate_size=640, vocab_size=8000,
                rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False),
    "mha": dict(model_type="llama", hidden_size=256, num_attention_heads=4,
                num_key_value_heads=4, head_dim=64, intermediate_size=512, vocab_size=6000,
                rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
}
SHAPES = ((2, 64), (1, 128))
DEPTHS = (2, 3)
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
MODES = ("none", "full", "selective")
SAVE_OPS = {torch.ops.aten.mm.default,
            torch.ops.aten._scaled_dot_product_efficient_attention.default,
            torch.ops.aten._scaled_dot_product_flash_attention.default,
            torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default,
            torch.ops._c10d_functional.reduce_scatter_tensor.default,
            torch.ops.aten.abs.default, torch.ops.aten.max.default}


class Norm(nn.Module):
    def __init__(self, width, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        wide = x.float()
        scaled = wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + self.eps)
        return scaled.type_as(x) * self.weight


def rotate(x, angles):
    """Rotary embedding as a complex multiply in fp32, back in x's dtype."""
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    turned = pairs * angles.view(1, x.shape[1], 1, pairs.shape[-1])
    return torch.view_as_real(turned).flatten(3).type_as(x)


def rotary_table(head_dim, theta, positions=4096):
    """complex64 rotations e^{i·p·θ_j} for every position p and pair j."""
    inv = 1.0 / (theta ** (torch.arange(head_dim // 2).float() * 2 / head_dim))
    angles = torch.outer(torch.arange(positions).float(), inv)
    return torch.polar(torch.ones_like(angles), angles)


def widen(x, times):
    """Repeat each KV head ``times`` times (a copy unless times is 1)."""
    if times == 1:
        return x
    b, s, k, d = x.shape
    return x[:, :, :, None, :].expand(b, s, k, times, d).reshape(b, s, k * times, d)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, a, k, d, f = (c["hidden_size"], c["num_attention_heads"],
                         c["num_key_value_heads"], c["head_dim"], c["intermediate_size"])
        self.a, self.k, self.d = a, k, d
        self.attention_norm = Norm(h, c["rms_norm_eps"])
        self.ffn_norm = Norm(h, c["rms_norm_eps"])
        self.wq = nn.Linear(h, a * d, bias=False)
        self.wk = nn.Linear(h, k * d, bias=False)
        self.wv = nn.Linear(h, k * d, bias=False)
        self.wo = nn.Linear(a * d, h, bias=False)
        self.w1 = nn.Linear(h, f, bias=False)
        self.w3 = nn.Linear(h, f, bias=False)
        self.w2 = nn.Linear(f, h, bias=False)

    def attend(self, x, angles):
        b, s, _ = x.shape
        q = self.wq(x).view(b, s, self.a, self.d)
        k = self.wk(x).view(b, s, self.k, self.d)
        v = self.wv(x).view(b, s, self.k, self.d)
        q, k = rotate(q, angles), rotate(k, angles)
        k, v = widen(k, self.a // self.k), widen(v, self.a // self.k)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), is_causal=True)
        return self.wo(out.transpose(1, 2).contiguous().view(b, s, -1))

    def forward(self, x, angles):
        x = x + self.attend(self.attention_norm(x), angles)
        y = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(y)) * self.w3(y))


def _policy():
    count = {"forward": 0, "recompute": 0}

    def decide(ctx, func, *args, **kwargs):
        phase = "recompute" if ctx.is_recompute else "forward"
        if func == torch.ops.aten.mm.default:
            count[phase] += 1
        keep = func in SAVE_OPS and not (func == torch.ops.aten.mm.default and
                                         count[phase] % 2 == 0)
        return CheckpointPolicy.MUST_SAVE if keep else CheckpointPolicy.PREFER_RECOMPUTE
    return create_selective_checkpoint_contexts(decide)


class Model(nn.Module):
    def __init__(self, c, layers, mode):
        super().__init__()
        self.mode = mode
        self.embed = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Block(c) for _ in range(layers))
        self.norm = Norm(c["hidden_size"], c["rms_norm_eps"])
        self.output = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.register_buffer("angles", rotary_table(c["head_dim"], c["rope_theta"]))

    def forward(self, ids):
        h = self.embed(ids)
        angles = self.angles[: ids.shape[1]]
        for block in self.layers:
            if self.mode == "none":
                h = block(h, angles)
            else:
                extra = {"context_fn": _policy} if self.mode == "selective" else {}
                h = checkpoint(block, h, angles, use_reentrant=False,
                               preserve_rng_state=False, **extra)
        return self.output(self.norm(h))


class Tracker(TorchDispatchMode):
    """Bytes of the storages ops create that are still alive; the largest such sum."""

    def __init__(self, exclude):
        super().__init__()
        self.exclude = exclude           # storages made before: parameters, buffers, ids
        self.refs = {}
        self.peak = 0

    def live(self):
        for ptr in [p for p, (ref, _) in self.refs.items() if ref.expired()]:
            del self.refs[ptr]
        return sum(n for _, n in self.refs.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                storage = t.untyped_storage()
                ptr = storage.data_ptr()
                fresh = ptr not in self.refs or self.refs[ptr][0].expired()
                if ptr and ptr not in self.exclude and fresh:
                    self.refs[ptr] = (StorageWeakRef(storage), storage.nbytes())
        self.peak = max(self.peak, self.live())
        return out


def measure(config, layers, batch, seq_len, dtype, mode):
    torch.manual_seed(0)
    model = Model(config, layers, mode).to(DTYPES[dtype])
    model.angles = rotary_table(config["head_dim"], config["rope_theta"])  # .to made it real
    model.train()
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda p: setattr(p, "grad", None))
    ids = torch.randint(0, config["vocab_size"], (batch, seq_len))
    before = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers(), ids)}
    with Tracker(before) as tracker:
        logits = model(ids)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), ids.flatten(0, 1))
        del logits
        saved = tracker.live() - loss.untyped_storage().nbytes()
        loss.backward()
    assert all(p.grad is None for p in model.parameters())
    return saved, tracker.peak


def main():
    runs = []
    for name, config in CONFIGS.items():
        for batch, seq_len in SHAPES:
            for dtype in DTYPES:
                for mode in MODES:
                    for layers in DEPTHS:
                        saved, peak = measure(config, layers, batch, seq_len, dtype, mode)
                        runs.append({"config_name": name,
                                     "config": dict(config, num_hidden_layers=layers),
                                     "batch": batch, "seq_len": seq_len, "dtype": dtype,
                                     "recompute": mode, "layers": layers,
                                     "saved_bytes": saved, "peak_bytes": peak})
                        print(name, batch, seq_len, dtype, mode, layers, saved, peak,
                              file=sys.stderr)
    data = {"generated_by": "tests/data/make_torchtitan_measurements.py",
            "torch": torch.__version__, "python": platform.python_version(), "device": "cpu",
            "modelled_on": SOURCE,
            "method": "TorchDispatchMode recording each storage an op creates (weak "
                      "reference, bytes); saved = alive after forward + loss with the logits "
                      "deleted; peak = largest live sum over forward and backward, parameter "
                      "gradients dropped when accumulated",
            "runs": runs}
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(runs)} runs to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
