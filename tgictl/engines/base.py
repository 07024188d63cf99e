"""What every engine module provides, and the rules all engines share.

An engine turns a validated spec into the engine-specific parts of the chart
values (flags, env, image) and refuses, with a field path, whatever it cannot
honour. Everything engine-neutral (resources, probes, cache, shm) is built by
``tgictl.render.values`` from the facts an engine declares here.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic.alias_generators import to_camel

from tgictl import hardware
from tgictl.errors import Problem, UsageError
from tgictl.model.architectures import ModelDims
from tgictl.model.memory import Budget, RuleInputs
from tgictl.spec.model import Spec

if TYPE_CHECKING:
    from tgictl.model.files import ModelFiles
    from tgictl.sim.flavors import SimulatorFace

FlagValue = str | bool | list[str]
AUTOSCALING_METRICS = frozenset({"llm:queue_size", "llm:running_requests", "llm:kv_cache_utilization"})

# Flags whose value is a credential: on the command line it would show in the
# rendered Deployment and in `ps`, so they may only be wired from a Secret.
SECRET_FLAGS = frozenset({"--api-key", "--hf-token", "--ngrok-authtoken"})


@dataclass(frozen=True)
class EngineFacts:
    """Static facts about an engine that the chart, planner and monitoring read."""

    name: str
    title: str  # how people write it: "TGI", "vLLM", "llama.cpp"
    image_repository: str
    image_tag: str  # pinned release for NVIDIA; variants derive from it
    port: int
    metrics_prefix: str  # e.g. "tgi_" or "vllm:"
    runs_as_non_root: bool  # whether its default image starts under a non-root UID (the chart's partial sets one)
    api_key_env: str  # env var the engine reads its API key from
    metrics_series: str = ""  # a series /metrics shows once the engine has served a request
    neutral_series: frozenset[str] = frozenset()  # llm: series its recording rules produce
    inference_pool: bool = False  # supported by the Gateway API Inference Extension
    # A route that describes the server's limits (TGI's /info, with max_total_tokens). An
    # engine with one also serves TGI's native API there; smoke checks it that way.
    info_route: str | None = None
    # Log lines that mark start-up phases, in order: (regex, phase), phase one of
    # download, load, warmup, ready. `tgictl deploy` reads them to show progress.
    log_phases: tuple[tuple[str, str], ...] = ()
    # Log lines of start-up failures only this engine prints: (regex, the cause in words).
    log_failures: tuple[tuple[str, str], ...] = ()
    # A line that means the engine is exiting (a failure even while the container still runs),
    # and errors it logs but survives (their traceback is no failure).
    log_fatal: str = ""
    log_benign: str = ""
    root_reason: str = ""  # why its image needs root, when it does
    # Log lines in which the engine says what it found at start-up, as regexes with named groups:
    # kv_tokens (the KV cache it holds, in tokens) and request_tokens (the longest request it takes).
    log_capacity: tuple[str, ...] = ()
    # Seconds a GPU start spends compiling (torch.compile and the like) with an empty compile
    # cache, and with the one an earlier pod left on the cache volume; (0, 0): compiles nothing.
    compile_s: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class LoggedCapacity:
    """What an engine's start-up log says it found: the KV cache's tokens and the longest request
    it takes (None where it does not say), with the lines that say so."""

    kv_tokens: int | None
    request_tokens: int | None
    lines: tuple[str, ...]


def logged_capacity(facts: EngineFacts, lines: list[str]) -> LoggedCapacity | None:
    """The capacity ``lines`` (one start's log) report by ``facts.log_capacity``; the last report of
    each figure counts (a restart logs them again). None when the log says nothing of it."""
    found: dict[str, int] = {}
    quoted: dict[str, str] = {}
    for line in lines:
        for pattern in facts.log_capacity:
            if match := re.search(pattern, line):
                for name, value in match.groupdict().items():
                    if value is not None:
                        found[name], quoted[name] = int(value.replace(",", "")), line
    if not found:
        return None
    return LoggedCapacity(found.get("kv_tokens"), found.get("request_tokens"), tuple(dict.fromkeys(quoted.values())))


class Engine(ABC):
    """One inference engine: flag mapping, env, image variant, refusals and memory rule."""

    facts: EngineFacts
    # The fraction of device memory the engine may use when the spec sets none
    # (TGI's CUDA_MEMORY_FRACTION, vLLM's --gpu-memory-utilization).
    default_memory_fraction: float = 1.0

    @property
    def name(self) -> str:
        return self.facts.name

    def shard_count(self, spec: Spec) -> int:
        """Shards (tensor-parallel ranks) in one pod: explicit, else one per accelerator."""
        return spec.spec.serving.num_shard or max(1, spec.spec.hardware.accelerator.count)

    def accelerator(self, spec: Spec) -> hardware.Accelerator:
        found = hardware.lookup(spec.spec.hardware.accelerator.type)
        assert found is not None  # the spec model only admits catalog keys
        return found

    def image(self, spec: Spec) -> tuple[str, str]:
        """Repository and tag: the user's, else this engine's pinned default."""
        image = spec.spec.image
        return (
            image.repository or self.facts.image_repository,
            image.tag or self.image_variant_tag(spec),
        )

    def image_variant_tag(self, spec: Spec) -> str:
        """The default tag for the spec's accelerator vendor (CUDA unless overridden)."""
        return self.facts.image_tag

    @abstractmethod
    def memory_budget(self, dims: ModelDims, inputs: RuleInputs) -> Budget:
        """The KV budget the engine's own start-up would find on one device (the planner's core)."""

    def chunks_prefill(self, accelerator: hardware.Accelerator, attention: str | None) -> bool:
        """Whether a long prompt can prefill over several steps here, so the input limit
        need not fit one prefill batch. Most engines always can."""
        return True

    def prefill_chunking(self, spec: Spec) -> bool:
        return self.chunks_prefill(self.accelerator(spec), spec.spec.features.attention)

    def part(self, name: str) -> Any:
        """A module of this engine's package (``simulator``, ``migration``), imported when first
        needed: rendering never pays for the simulator's HTTP server."""
        return importlib.import_module(f"{type(self).__module__.rpartition('.')[0]}.{name}")

    def simulator_face(self) -> SimulatorFace:
        """How the simulator shows this engine: its flavour and its /metrics."""
        face: SimulatorFace = self.part("simulator").FACE
        return face

    def problems(self, spec: Spec) -> list[Problem]:
        """Everything about the spec this engine cannot honour (empty when fine)."""
        found = self.common_problems(spec)
        found.extend(self.engine_problems(spec))
        return found

    def common_problems(self, spec: Spec) -> list[Problem]:
        """Rules every engine shares: shards versus GPUs, and args tgictl owns."""
        found = []
        serving = spec.spec.serving
        count = spec.spec.hardware.accelerator.count
        if serving.num_shard is not None:
            if count == 0 and serving.num_shard > 1:
                found.append(Problem("spec.serving.numShard", "sharding needs accelerators; set hardware.accelerator.count"))
            elif count and serving.num_shard != count:
                found.append(Problem(
                    "spec.serving.numShard",
                    f"{serving.num_shard} shards on {count} accelerators: one pod shards over all its GPUs, "
                    f"so numShard must equal hardware.accelerator.count ({count}) or be left unset",
                ))
        found.extend(self.feature_problems(spec))
        owned = {f"--{flag}" for flag in self.flags(spec)}
        for index, arg in enumerate(spec.spec.extra_args):
            flag = arg.split("=", 1)[0]
            if flag in SECRET_FLAGS:
                found.append(Problem(f"spec.extraArgs[{index}]",
                                     f"{flag} passes a credential in plain text; credentials come only from Secrets"))
            elif flag in owned:
                found.append(Problem(f"spec.extraArgs[{index}]", f"{flag} is set from the spec; change the spec field instead"))
        if spec.spec.security.run_as_non_root and not self.facts.runs_as_non_root and not spec.spec.image.repository:
            found.append(Problem("spec.security.runAsNonRoot", f"{self.facts.title}'s image cannot start as non-root "
                                 f"({self.facts.root_reason}); use an image built for it (image.repository)"))
        return found

    def feature_problems(self, spec: Spec) -> list[Problem]:
        """Autoscaling, exposure, rate limits and the InferencePool, checked together."""
        s = spec.spec
        found = []
        a = s.autoscaling
        if a.enabled:
            if not s.monitoring.enabled:
                found.append(Problem("spec.autoscaling.enabled",
                                     "autoscaling reads the llm: series of the recording rules: set monitoring.enabled"))
            if a.metric not in self.facts.neutral_series:
                found.append(Problem("spec.autoscaling.metric", f"{self.facts.title} has no {a.metric}; allowed: "
                                     + ", ".join(sorted(m for m in self.facts.neutral_series if m in AUTOSCALING_METRICS))))
            if a.kind == "hpa" and a.metric != "llm:queue_size":
                found.append(Problem("spec.autoscaling.metric",
                                     "the HPA path serves only llm:queue_size per pod (llm:queue_size:pod); use kind keda for other "
                                     "series"))
            if a.min_replicas == 0 and a.kind == "hpa":
                found.append(Problem("spec.autoscaling.minReplicas",
                                     "an HPA cannot scale to zero (HPAScaleToZero is alpha): use kind keda"))
            elif a.min_replicas == 0 and not a.upstream_query:
                found.append(Problem("spec.autoscaling.minReplicas", "scaling to zero needs autoscaling.upstreamQuery: with no pod, "
                                     "nothing can queue, so the pods' own metrics never ask for the first one back"))
        if s.rate_limit.enabled and s.exposure.kind != "httproute":
            found.append(Problem("spec.rateLimit.enabled",
                                 "rate limits are an Envoy Gateway policy on the HTTPRoute: set exposure.kind httproute"))
        canary = s.rollout.canary
        if canary and s.exposure.kind != "httproute":
            found.append(Problem("spec.rollout.canary", "a canary's share is a weight on the HTTPRoute: set exposure.kind httproute"))
        if canary and canary.release == spec.metadata.name:
            found.append(Problem("spec.rollout.canary.release", f"names this release ({canary.release}): name the other one"))
        if s.inference_pool.enabled and not self.facts.inference_pool:
            found.append(Problem("spec.inferencePool.enabled",
                                 f"the Gateway API Inference Extension does not support {self.facts.title}; use vllm"))
        return found

    def refuse_set(self, spec: Spec, fields: dict[str, str]) -> list[Problem]:
        """A problem for each of ``fields`` (dotted snake_case paths under
        spec.spec, mapped to the reason) that the spec sets to anything but
        its default: a field an engine cannot honour is never dropped silently."""
        found = []
        for path, reason in fields.items():
            section, _, name = path.rpartition(".")
            owner: Any = spec.spec
            for part in section.split(".") if section else []:
                owner = getattr(owner, part)
            value = getattr(owner, name)
            if value is not None and value != type(owner).model_fields[name].default:
                alias = ".".join(to_camel(p) for p in path.split("."))
                found.append(Problem(f"spec.{alias}", f"{self.facts.title} {reason}"))
        return found

    @abstractmethod
    def engine_problems(self, spec: Spec) -> list[Problem]:
        """Rules specific to this engine."""

    @abstractmethod
    def flags(self, spec: Spec) -> dict[str, FlagValue]:
        """Command-line flags (without leading dashes) to render as container args."""

    def model_problems(self, spec: Spec, files: ModelFiles) -> list[Problem]:
        """What the model's own files show this engine would refuse at start-up (planning reads them)."""
        return []

    def planned_limits(self, spec: Spec, plan: Any) -> dict[str, int]:
        """Serving fields (snake_case) to fill from a plan where the user left them empty."""
        return {"max_input_tokens": plan.max_input_tokens, "max_total_tokens": plan.max_total_tokens,
                "max_batch_prefill_tokens": plan.max_batch_prefill_tokens,
                "max_concurrent_requests": planned_concurrency(plan.max_batch_total_tokens)}

    def cached_files(self, spec: Spec) -> list[str]:
        """Hub file patterns the engine reads from its cache: what `tgictl cache warm` downloads.
        Raises UsageError when the model does not come from the Hub."""
        if spec.spec.model.id.startswith(("/", "./")):
            raise UsageError("model.id is a local path: there is no Hub download to warm")
        return list(WEIGHT_FILES)

    def positional_args(self, spec: Spec) -> list[str]:
        """Arguments before the flags (vLLM takes the model as one)."""
        return []

    @abstractmethod
    def env(self, spec: Spec) -> dict[str, str]:
        """Plain environment variables (never secrets)."""

    @abstractmethod
    def drain_seconds(self, spec: Spec) -> int:
        """Seconds the engine may take to drain after SIGTERM."""

    def pre_stop_drain_seconds(self, spec: Spec) -> int:
        """Seconds in-flight requests get before SIGTERM, the pod already out of its Service's
        endpoints: for an engine that cannot finish them once signalled (none by default)."""
        return 0


# What safetensors engines read from a Hub repo: config, tokenizer and weights.
WEIGHT_FILES = ("*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*")

# A typical request's KV reservation, for sizing the concurrency limit.
TYPICAL_REQUEST_TOKENS = 2048


def release_of(tag: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch) of an engine release or image tag such as v0.32.0, 3.3 or
    0.18.1-cpu (patch 0 when absent); None when it names no release (latest, sha-…)."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", tag or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def planned_concurrency(batch_tokens: int) -> int:
    """In-flight requests to admit before refusing (TGI's 429): twice as many
    typical 2k-token requests as the KV budget holds at once, so a short queue
    forms but does not grow without bound; between 8 and 1024."""
    return max(8, min(1024, 2 * batch_tokens // TYPICAL_REQUEST_TOKENS))


def tgi_router_only(reason: str) -> dict[str, str]:
    """Refusals for TGI's router-only limits, for engines that have no such setting."""
    fields = ("waiting_served_ratio", "max_waiting_tokens", "max_best_of", "max_stop_sequences",
              "max_top_n_tokens", "max_client_batch_size", "payload_limit")
    return {f"serving.{name}": reason for name in fields}


def field_value(spec: Spec, path: str) -> Any:
    """The value at a dotted snake_case path under spec.spec."""
    node: Any = spec.spec
    for part in path.split("."):
        node = getattr(node, part)
    return node


def stringify(flags: dict[str, object]) -> dict[str, FlagValue]:
    """Drop unset flags and turn numbers into strings (Helm would print 2e+06)."""
    out: dict[str, FlagValue] = {}
    for name, value in flags.items():
        if value is None or value is False:
            continue
        if value is True:
            out[name] = True
        elif isinstance(value, list):
            out[name] = [str(v) for v in value]
        elif isinstance(value, float) and value.is_integer():
            out[name] = str(int(value))
        else:
            out[name] = str(value)
    return out
