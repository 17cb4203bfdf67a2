"""Accelerator quantities in SI units, from the spec-sheet fields of the GPU table."""

from ..graph import formula


@formula("bytes", "accelerator memory_gb is the marketed GB (1e9 bytes)")
def gpu_memory_bytes(memory_gb):
    """Memory of one accelerator in bytes (the marketed figure; the HBM behind "80 GB"
    is 80 GiB, so planning with 80e9 bytes is ~7 % conservative)."""
    return memory_gb * 1000000000
