"""Cold-start budget: how long a new pod takes from scheduled to ready.

Five phases add up: image pull, weights download (skipped offline or with a
warm cache we cannot know about, so assumed cold), load from disk into device
memory, compilation (engines that compile: vLLM's torch.compile) and warm-up
(prefill at max batch, CUDA-graph capture). The startup probe must outlast the
sum with margin, or Kubernetes kills a pod that was only loading; the
autoscaler's scale-up period uses the same figure.

A pod that finds an earlier pod's cache volume (a replica added later, a
restart) skips the download and, where the compile cache is kept there, most
of the compilation: ``warm_total_s``. The budget still covers the cold start:
the first pod has nothing to find.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

# Compressed image sizes, GB: CUDA engine images are large, CPU ones small.
IMAGE_GB = {"gpu": 10.0, "cpu": 2.0}
# Safetensors read + copy to device, GB/s (a maintainer measured ~2.7 GB/s disk
# for a 70B on 4xA100; network volumes are slower, so we assume 1).
LOAD_GBS = 1.0
# Warm-up: a max-size prefill, KV allocation and CUDA graphs for 6 batch sizes.
WARMUP_S = {"gpu": 90.0, "cpu": 20.0}
# The startup budget allows this much more than the estimate: disks, registries
# and Hubs are slower on a bad day, and a killed pod restarts from scratch.
MARGIN = 1.5

_PARAMS_IN_NAME = re.compile(r"(?:(\d+)x)?(\d+(?:\.\d+)?)([bBmM])(?![a-zA-Z])")


@dataclass(frozen=True)
class ColdStart:
    """Seconds for each phase of a cold start, and the budget derived from them."""

    image_pull_s: float
    download_s: float
    load_s: float
    warmup_s: float
    weights_gb: float
    weights_source: str  # "files" (read from safetensors) or "name" (guessed from the model id)
    compile_s: float = 0.0
    compile_warm_s: float = 0.0  # with the compile cache an earlier pod left (compile_s when none is kept)

    @property
    def total_s(self) -> float:
        return self.image_pull_s + self.download_s + self.load_s + self.compile_s + self.warmup_s

    @property
    def warm_total_s(self) -> float:
        """A later pod on the same cache volume: weights already there, compiled kernels too when kept."""
        return self.total_s - self.download_s - self.compile_s + self.compile_warm_s

    @property
    def budget_s(self) -> int:
        """Startup-probe budget, rounded up to whole minutes."""
        return int(math.ceil(self.total_s * MARGIN / 60.0) * 60)

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "total_s": round(self.total_s, 1), "warm_total_s": round(self.warm_total_s, 1),
                "budget_s": self.budget_s}


def weights_gb_from_name(model_id: str) -> float | None:
    """Guess bf16 weight size from a size in the model's name ("Llama-3.1-8B", "8x7B")."""
    # The last size in the name is the model's, not a version like "3.1".
    matches = list(_PARAMS_IN_NAME.finditer(model_id.rsplit("/", 1)[-1]))
    if not matches:
        return None
    match = matches[-1]
    experts = int(match.group(1) or 1)
    scale = 1e9 if match.group(3) in "bB" else 1e6
    return experts * float(match.group(2)) * scale * 2 / 1e9


def estimate(
    weights_gb: float | None,
    *,
    on_gpu: bool,
    bandwidth_mbps: float,
    offline: bool,
    model_id: str,
    compile_s: tuple[float, float] = (0.0, 0.0),
    compile_cached: bool = False,
) -> ColdStart:
    """Phase times for a cold start; without known weights, guess from the model id (7B if silent)."""
    source = "files"
    if weights_gb is None:
        weights_gb = weights_gb_from_name(model_id) or 14.0
        source = "name"
    kind = "gpu" if on_gpu else "cpu"
    bandwidth_gbs = bandwidth_mbps / 1000.0
    return ColdStart(
        image_pull_s=round(IMAGE_GB[kind] / bandwidth_gbs, 1),
        download_s=0.0 if offline else round(weights_gb / bandwidth_gbs, 1),
        load_s=round(weights_gb / LOAD_GBS, 1),
        warmup_s=WARMUP_S[kind],
        weights_gb=round(weights_gb, 2),
        weights_source=source,
        compile_s=compile_s[0] if on_gpu else 0.0,
        compile_warm_s=(compile_s[1] if compile_cached else compile_s[0]) if on_gpu else 0.0,
    )
