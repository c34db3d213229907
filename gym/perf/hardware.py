"""GPU specs the performance model needs, each with its source. Data, not logic.

`memory_gib` is what CUDA reports as the device's total memory (what `torch.cuda.mem_get_info`
and SGLang's start-up log call "total"), not the marketing number: an "80 GB" H100 shows
81,559 MiB = 79.65 GiB. Bandwidths are bytes per second; FLOP/s are dense bf16 tensor-core
peaks (no 2:4 sparsity).
"""

from __future__ import annotations

from dataclasses import dataclass

from gym.errors import ConfigError, Fix, Problem


@dataclass(frozen=True)
class GPUSpec:
    """One GPU model's limits."""

    name: str
    memory_gib: float
    """Device memory as CUDA reports it, GiB."""
    hbm_bytes_per_s: float
    """Memory bandwidth, bytes/s."""
    bf16_flops: float
    """Dense bf16 tensor-core peak, FLOP/s."""
    nvlink_bytes_per_s: float
    """GPU-to-GPU bandwidth inside a node, one direction, bytes/s (PCIe when there is no NVLink)."""
    source: str


GPUS: dict[str, GPUSpec] = {
    "H100": GPUSpec("H100", 79.65, 3.35e12, 989e12, 450e9,
                    "NVIDIA H100 SXM datasheet: 80 GB HBM3 (81,559 MiB reported), 3.35 TB/s, 989 TFLOP/s bf16 "
                    "dense, NVLink 4 900 GB/s bidirectional"),
    "H200": GPUSpec("H200", 140.4, 4.8e12, 989e12, 450e9,
                    "NVIDIA H200 SXM datasheet: 141 GB HBM3e (143,771 MiB reported; slime#1951 log shows 139.81 "
                    "GiB usable), 4.8 TB/s, same compute and NVLink as H100"),
    "H800": GPUSpec("H800", 79.65, 3.35e12, 989e12, 200e9,
                    "NVIDIA H800 SXM (export variant of H100): same memory and compute, NVLink 400 GB/s "
                    "bidirectional"),
    "B200": GPUSpec("B200", 179.06, 8.0e12, 2250e12, 900e9,
                    "NVIDIA HGX B200 datasheet: 180 GB HBM3e per GPU (183,359 MiB reported), 8 TB/s, 36 PFLOP/s "
                    "sparse bf16 per 8 GPUs = 2.25 PFLOP/s dense each, NVLink 5 1.8 TB/s bidirectional"),
    "A6000": GPUSpec("A6000", 47.54, 768e9, 154.8e12, 32e9,
                     "NVIDIA RTX A6000 datasheet: 48 GB GDDR6 (48,685 MiB reported), 768 GB/s, 309.7 TFLOP/s "
                     "sparse tensor = 154.8 dense; no NVLink between 4 cards: PCIe 4.0 x16 32 GB/s"),
}
"""Specs by gym/Modal GPU type name. Add a GPU here (with its source) to estimate on it."""

INTERNODE_BYTES_PER_S = 400e9
"""Modal multi-node clusters: 3,200 Gbit/s RDMA per node = 400 GB/s (shared by the node's 8 GPUs)."""


def gpu_spec(gpu_type: str) -> GPUSpec:
    """The specs of a GPU type; ConfigError naming the missing specs otherwise (never a guess)."""
    spec = GPUS.get(str(gpu_type).rstrip("!+"))
    if spec is None:
        import difflib

        close = difflib.get_close_matches(str(gpu_type).upper(), list(GPUS), n=2, cutoff=0.0)
        raise ConfigError([Problem(
            ("gpu_type",), f"gpu_type={gpu_type!r} has no specs in gym.perf.hardware.GPUS (memory, bandwidth, "
            f"FLOP/s), so its memory and time cannot be estimated; known: {', '.join(GPUS)}",
            tuple(Fix({"gpu_type": c}) for c in close), rule="gpu_specs_known")], subject="performance estimate")
    return spec
