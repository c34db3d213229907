"""Modal's list prices: the one place they live, with their date and source.

Modal bills per second of container time: the GPUs, plus the CPU cores and memory the
container reserves. Regional pinning and non-preemptible containers cost more (they
multiply these rates); gym's apps use neither, so list prices apply.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-06-27"
PRICES_SOURCE = ("modal.com/pricing list prices as quoted by third-party summaries verified "
                 "2026-05-07 (techbytes.app) and 2026-06-27 (beam.cloud); H200 and B200 from "
                 "Modal's pricing page as last read by the authors. Check modal.com/pricing.")

GPU_USD_PER_SECOND: dict[str, float] = {
    "T4": 0.000164,
    "L4": 0.000222,
    "A10G": 0.000306,
    "L40S": 0.000542,
    "A100-40GB": 0.000583,
    "A100-80GB": 0.000694,
    "H100": 0.001097,
    "H200": 0.001261,
    "B200": 0.001736,
}
"""US dollars per GPU per second, by Modal GPU type name."""

CPU_USD_PER_CORE_SECOND = 0.0000131
"""US dollars per reserved physical CPU core per second."""
MEMORY_USD_PER_GIB_SECOND = 0.00000222
"""US dollars per reserved GiB of memory per second."""


def container_usd_per_hour(gpu_type: str, gpus: int, cpu_cores: float, memory_gib: float) -> float:
    """List price of one container for one hour: its GPUs, cores and memory, in US dollars."""
    per_second = (GPU_USD_PER_SECOND[gpu_type] * gpus + CPU_USD_PER_CORE_SECOND * cpu_cores
                  + MEMORY_USD_PER_GIB_SECOND * memory_gib)
    return per_second * 3600
