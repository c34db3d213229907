"""CPU and memory each training container reserves (Modal bills them next to the GPUs).

Kept apart from the Modal app so the plan can price a run without importing modal.
"""

TRAIN_CPU_CORES = 32.0
"""Physical cores per training node: Ray places one CPU per GPU bundle, SGLang and the
data loaders need more; too few and slime's placement group waits forever."""


def train_memory_gib(optimizer_cpu_offload: bool) -> int:
    """Host memory per training node, in GiB. CPU-offloaded Adam states and colocated
    offload backups live in host memory."""
    return 512 if optimizer_cpu_offload else 256
