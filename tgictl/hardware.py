"""The accelerator catalog: what each GPU offers and how Kubernetes names it.

One entry per product users deploy on. The spec names an entry by key
(``hardware.accelerator.type``); the chart gets the resource name to request
and the node label that selects the product; the planner gets memory,
bandwidth and compute. Figures are the vendors' datasheet values (dense
bf16, fp16 for T4 which has no bf16).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Accelerator:
    """One accelerator product."""

    key: str
    vendor: str  # nvidia | amd | habana | none
    memory_gib: float  # usable device memory
    bandwidth_gbs: float  # memory bandwidth, GB/s
    tflops_bf16: float  # dense bf16 (fp16 on T4), TFLOP/s
    resource: str  # extended resource requested by the pod ("" for CPU)
    product_label: tuple[str, str] | None  # (node label key, value) selecting it
    compute_capability: float = 0.0  # CUDA capability; 0 for non-NVIDIA


_NV = "nvidia.com/gpu.product"
_AMD = "amd.com/gpu.product-name"

CATALOG: dict[str, Accelerator] = {
    a.key: a
    for a in (
        Accelerator("t4", "nvidia", 15.0, 320, 65, "nvidia.com/gpu", (_NV, "Tesla-T4"), 7.5),
        # 22.20 GiB: PyTorch's "Device limit" on an A10G at memory fraction 1.0 (TGI issue 563).
        Accelerator("a10g", "nvidia", 22.2, 600, 70, "nvidia.com/gpu", (_NV, "NVIDIA-A10G"), 8.6),
        Accelerator("l4", "nvidia", 22.0, 300, 121, "nvidia.com/gpu", (_NV, "NVIDIA-L4"), 8.9),
        Accelerator("l40s", "nvidia", 44.5, 864, 362, "nvidia.com/gpu", (_NV, "NVIDIA-L40S"), 8.9),
        Accelerator("a100-40gb", "nvidia", 39.4, 1555, 312, "nvidia.com/gpu", (_NV, "NVIDIA-A100-SXM4-40GB"), 8.0),
        Accelerator("a100-80gb", "nvidia", 79.2, 2039, 312, "nvidia.com/gpu", (_NV, "NVIDIA-A100-SXM4-80GB"), 8.0),
        Accelerator("h100-80gb", "nvidia", 79.2, 3350, 989, "nvidia.com/gpu", (_NV, "NVIDIA-H100-80GB-HBM3"), 9.0),
        Accelerator("h200", "nvidia", 139.8, 4800, 989, "nvidia.com/gpu", (_NV, "NVIDIA-H200"), 9.0),
        Accelerator("b200", "nvidia", 178.4, 8000, 2250, "nvidia.com/gpu", (_NV, "NVIDIA-B200"), 10.0),
        Accelerator("mi300x", "amd", 191.5, 5300, 1307, "amd.com/gpu", (_AMD, "AMD_Instinct_MI300X")),
        Accelerator("gaudi2", "habana", 94.6, 2460, 432, "habana.ai/gaudi", None),
        Accelerator("gaudi3", "habana", 126.0, 3700, 1835, "habana.ai/gaudi", None),
        Accelerator("cpu", "none", 0.0, 100, 1, "", None),
    )
}

# Short names users type on the command line (`--gpu h100`).
ALIASES = {"h100": "h100-80gb", "a100": "a100-80gb", "mi300": "mi300x"}


def lookup(name: str) -> Accelerator | None:
    """The catalog entry for a key or alias (case-insensitive), or None."""
    key = name.lower()
    return CATALOG.get(ALIASES.get(key, key))
