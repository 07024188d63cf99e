"""The tgi.yaml spec as strict pydantic models.

Field names are camelCase in YAML (Kubernetes style) and snake_case in code.
Every model forbids unknown keys and coerces nothing: ``"4096"`` is not an
integer and ``yes`` is not a boolean. Rules that need several fields, or the
engine, live in the engine modules, not here, so each engine can refuse what
it cannot honour in its own words.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from tgictl import hardware

API_VERSION = "tgictl.dev/v1alpha1"
KIND = "InferenceDeployment"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Env vars that carry credentials: a literal value for them would leak into
# rendered manifests, so they may only come from a Secret.
SECRET_ENV = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN", "API_KEY", "VLLM_API_KEY", "LLAMA_API_KEY"})


def _checked_dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError("must be a DNS label: lowercase letters, digits and '-', starting with a letter")
    return value


PositiveInt = Annotated[int, Field(gt=0)]
Quantity = Annotated[str, Field(pattern=_QUANTITY.pattern, examples=["100Gi", "500m"])]
URL_PATTERN = r"^https?://"
DURATION_PATTERN = r"^[0-9]+(ms|s|m|h)$"
# What each pattern means, for the error a value that misses it gets (a raw regex helps no one).
PATTERN_MEANS = {_QUANTITY.pattern: "a Kubernetes quantity such as 32Gi, 500M or 1.5", URL_PATTERN: "an http:// or https:// URL",
                 DURATION_PATTERN: "a duration such as 30s, 500ms or 5m"}


class Strict(BaseModel):
    """Base: camelCase keys only, no unknown keys, no type coercion."""

    model_config = ConfigDict(
        extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class Metadata(Strict):
    name: Annotated[str, Field(max_length=40, description="Release and object name: a DNS label, at most 40 characters.")]
    namespace: Annotated[str | None, Field(description="Namespace to deploy into (the current context's when unset).")] = None

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str | None) -> str | None:
        return _checked_dns_label(value) if value is not None else None


class SecretRef(Strict):
    name: Annotated[str, Field(min_length=1, description="Secret name.")]
    key: Annotated[str, Field(min_length=1, description="Key inside the Secret.")] = "token"


class ModelSpec(Strict):
    id: Annotated[str, Field(min_length=1, description="Hugging Face Hub id (org/name) or a path inside the container.")]
    revision: Annotated[str | None, Field(description="Commit, branch or refs/pr/N.")] = None
    trust_remote_code: Annotated[bool, Field(description="Run the model repository's own Python code.")] = False
    tokenizer_config_path: Annotated[str | None, Field(description="Path of a tokenizer_config.json with a custom chat template.")] = None
    files: Annotated[str | None, Field(
        description="Local directory with config.json and safetensors files (or, for llama.cpp, a .gguf file), for planning.")] = None
    gguf_file: Annotated[str | None,
                         Field(description="llama.cpp: the GGUF file inside the Hub repo `id` (e.g. model-Q4_K_M.gguf).")] = None
    url: Annotated[str | None, Field(pattern=URL_PATTERN, description="llama.cpp: download the GGUF file from this URL.")] = None


class EngineSpec(Strict):
    name: Annotated[str, Field(description="Engine that serves the model: tgi, vllm or llamacpp.")] = "tgi"


class ImageSpec(Strict):
    repository: Annotated[str | None, Field(description="Image repository (the engine's default when unset).")] = None
    tag: Annotated[str | None, Field(description="Image tag, a pinned release (the engine's default when unset).")] = None
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    pull_secrets: Annotated[list[str], Field(description="Names of image pull Secrets.")] = []

    @field_validator("tag")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        if value == "latest":
            raise ValueError("'latest' is not a pinned release: name a version such as 3.3.5")
        return value


class AcceleratorSpec(Strict):
    type: Annotated[str, Field(description="Catalog key: " + ", ".join(hardware.CATALOG))] = "cpu"
    count: Annotated[int, Field(ge=0, le=16, description="Accelerators per pod.")] = 0
    product_label: Annotated[str | None, Field(description="Node label value selecting the product (catalog default when unset).")] = None

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        found = hardware.lookup(value)
        if found is None:
            raise ValueError(f"unknown accelerator {value!r}; allowed: {', '.join(hardware.CATALOG)}")
        return found.key

    @model_validator(mode="after")
    def _count_matches_type(self) -> AcceleratorSpec:
        if self.type == "cpu" and self.count:
            raise ValueError("count must be 0 when type is cpu")
        if self.type != "cpu" and not self.count:
            raise ValueError(f"count must be at least 1 for a {self.type} accelerator")
        return self


class HardwareSpec(Strict):
    accelerator: AcceleratorSpec = AcceleratorSpec()
    cpu: Annotated[Quantity | None, Field(description="CPU request, e.g. '8'.")] = None
    memory: Annotated[Quantity | None, Field(description="Memory request and limit, e.g. '64Gi'.")] = None
    ephemeral_storage: Annotated[Quantity | None, Field(description="Ephemeral storage request.")] = None
    node_selector: dict[str, str] = {}
    tolerations: Annotated[list[dict[str, object]], Field(description="Kubernetes tolerations.")] = []
    affinity: Annotated[dict[str, object], Field(description="Kubernetes affinity.")] = {}
    runtime_class_name: str | None = None
    priority_class_name: str | None = None


class ServingSpec(Strict):
    """Engine-neutral serving limits; each engine maps them to its own flags."""

    max_input_tokens: PositiveInt | None = None
    max_total_tokens: PositiveInt | None = None
    max_batch_prefill_tokens: PositiveInt | None = None
    max_batch_total_tokens: PositiveInt | None = None
    max_concurrent_requests: PositiveInt | None = None
    waiting_served_ratio: Annotated[float, Field(ge=0)] | None = None
    max_waiting_tokens: PositiveInt | None = None
    max_batch_size: PositiveInt | None = None
    max_best_of: PositiveInt | None = None
    max_stop_sequences: Annotated[int, Field(ge=0)] | None = None
    max_top_n_tokens: Annotated[int, Field(ge=0)] | None = None
    max_client_batch_size: PositiveInt | None = None
    payload_limit: PositiveInt | None = None
    cuda_graphs: Annotated[list[Annotated[int, Field(ge=0)]] | None, Field(description="Batch sizes to capture; [0] disables.")] = None
    cuda_memory_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    quantize: Literal[
        "awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin",
        "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8",
    ] | None = None
    dtype: Literal["float16", "bfloat16"] | None = None
    kv_cache_dtype: Literal["fp8_e4m3fn", "fp8_e5m2"] | None = None
    num_shard: Annotated[PositiveInt | None, Field(description="Shards (tensor parallel); defaults to the accelerator count.")] = None
    speculate: PositiveInt | None = None
    rope_scaling: Literal["linear", "dynamic"] | None = None
    rope_factor: Annotated[float, Field(gt=0)] | None = None
    disable_custom_kernels: bool = False
    json_logs: Annotated[bool, Field(description="Engine logs as JSON lines.")] = False
    graceful_termination_seconds: Annotated[int, Field(ge=0, le=3600)] = 90
    api_key_secret: Annotated[SecretRef | None, Field(description="Secret with the API key clients must send as a Bearer token.")] = None


class FeaturesSpec(Strict):
    """Capabilities named the same for every engine; an engine that cannot honour one refuses it."""

    continuous_batching: bool = True
    flash_attention: Annotated[bool | None, Field(description="Use flash-attention kernels (engine default when unset).")] = None
    attention: Literal["paged", "flashdecoding", "flashinfer", "flashdecoding-ipex"] | None = None
    prefix_caching: bool | None = None
    cpu_offload_gb: Annotated[float, Field(ge=0, description="Weights offloaded to CPU memory, GB.")] | None = None
    gpu_layers: Annotated[int, Field(ge=0, description="Layers kept on the GPU, the rest on the CPU (llama.cpp).")] | None = None
    swap_space_gb: Annotated[float, Field(ge=0, description="CPU swap space for preempted sequences, GB (vLLM).")] | None = None


class CacheSpec(Strict):
    ephemeral: Annotated[bool, Field(description="emptyDir instead of a PVC: weights download on every start.")] = False
    existing_claim: Annotated[str | None, Field(description="Existing PVC holding the Hub cache.")] = None
    size: Quantity = "100Gi"
    storage_class_name: str | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = "ReadWriteOnce"
    hf_token_secret: Annotated[SecretRef | None, Field(description="Secret with the Hugging Face token.")] = None
    offline: Annotated[bool, Field(description="Never call the Hub (HF_HUB_OFFLINE=1): weights must be in the cache.")] = False
    download_bandwidth_mbps: Annotated[float, Field(gt=0, description="Assumed download speed for the startup budget, MB/s.")] = 200.0
    compile_cache: Annotated[bool, Field(description="Keep the engine's compile caches on the cache volume (vLLM).")] = True

    @model_validator(mode="after")
    def _one_source(self) -> CacheSpec:
        if self.ephemeral and self.existing_claim:
            raise ValueError("ephemeral and existingClaim exclude each other")
        if self.ephemeral and self.offline:
            raise ValueError("offline needs weights already in a persistent cache, not an ephemeral one")
        return self


class EnvVar(Strict):
    name: str
    value: str

    @field_validator("name")
    @classmethod
    def _valid(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("must be a C identifier (letters, digits, '_')")
        if value in SECRET_ENV:
            raise ValueError(f"{value} carries a credential: reference a Secret (cache.hfTokenSecret) instead of a literal")
        return value


class ProbesSpec(Strict):
    startup_budget_seconds: Annotated[PositiveInt | None,
                                      Field(description="Time allowed for download + load + warm-up (planned when unset).")] = None
    period_seconds: Annotated[int, Field(ge=1, le=300)] = 10


class CanarySpec(Strict):
    """Another release taking a share of this one's route: what `tgictl deploy --canary` sets, or
    what a GitOps repository declares."""

    release: Annotated[str, Field(description="The release whose Service gets the share (`deploy --canary`: <name>-canary).")]
    weight: Annotated[int, Field(ge=0, le=100, description="Percent of the route's requests it gets.")] = 0

    @field_validator("release")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return _checked_dns_label(value)


class RolloutGate(Strict):
    """When a canary may take more traffic. Unset thresholds are monitoring.slo's."""

    ttft_p95_seconds: Annotated[float | None, Field(gt=0, description="The canary's TTFT p95 at most this.")] = None
    error_ratio: Annotated[float | None, Field(ge=0, le=1, description="The canary's share of failed requests at most this.")] = None
    queue_size: Annotated[int | None, Field(ge=0, description="Requests waiting at the canary at most this.")] = None
    vs_stable: Annotated[float, Field(ge=1, description="The canary's TTFT p95 at most this many times the stable release's.")] = 1.5
    # Why a slack: at millisecond TTFTs a p95 over one step's requests is the worst one or two of
    # them, read from histogram buckets 5-20 ms wide, so a ratio alone fails a canary on noise.
    vs_stable_slack_seconds: Annotated[float, Field(ge=0, description=(
        "A canary fails against the stable release only when its TTFT p95 is also this much longer."))] = 0.05


class RolloutSpec(Strict):
    max_surge: Annotated[int, Field(ge=0)] = 0
    max_unavailable: Annotated[int, Field(ge=0)] = 1
    canary: CanarySpec | None = None
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]],
                     Field(min_length=1, description="Canary weights, percent, each held stepSeconds; the last is 100.")] = [10, 50, 100]
    step_seconds: Annotated[int, Field(ge=30, description="How long each step's figures are gathered before the gate.")] = 300
    gate: RolloutGate = RolloutGate()

    @model_validator(mode="after")
    def _progress(self) -> RolloutSpec:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("maxSurge and maxUnavailable cannot both be 0: the rollout could never progress")
        if self.steps != sorted(set(self.steps)) or self.steps[-1] != 100:
            raise ValueError("steps must rise and end at 100, e.g. [10, 50, 100]")
        return self


class ServiceSpec(Strict):
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    port: Annotated[int, Field(ge=1, le=65535)] = 80


class MonitoringSLO(Strict):
    ttft_p95_seconds: Annotated[float, Field(gt=0, description="Alert when TTFT p95 stays above this.")] = 2.0
    error_ratio: Annotated[float, Field(ge=0, le=1, description="Alert above this share of failed requests.")] = 0.05
    queue_size: Annotated[int, Field(ge=0, description="Alert when more requests wait and the queue keeps growing.")] = 16


class MonitoringSpec(Strict):
    enabled: Annotated[bool, Field(description="ServiceMonitor and PrometheusRule (Prometheus Operator).")] = False
    release: Annotated[str, Field(description="`release` label kube-prometheus-stack selects on ('' for none).")] = "kube-prometheus-stack"
    interval: Annotated[str, Field(pattern=DURATION_PATTERN)] = "15s"
    dashboards: Annotated[bool, Field(description="Ship the Grafana dashboards.")] = False
    dashboard_kind: Literal["ConfigMap", "GrafanaDashboard"] = "ConfigMap"
    slo: MonitoringSLO = MonitoringSLO()


class AutoscalingSpec(Strict):
    enabled: bool = False
    kind: Annotated[Literal["keda", "hpa"], Field(description="KEDA ScaledObject, or an HPA with prometheus-adapter.")] = "keda"
    min_replicas: Annotated[int, Field(ge=0)] = 1
    max_replicas: Annotated[int, Field(ge=1)] = 4
    metric: Annotated[Literal["llm:queue_size", "llm:running_requests", "llm:kv_cache_utilization"],
                      Field(description="Engine-neutral series to scale on.")] = "llm:queue_size"
    target: Annotated[float, Field(gt=0, description="Target value per replica.")] = 4.0
    activation_target: Annotated[float, Field(ge=0)] = 0.0
    prometheus_address: str = "http://prometheus-operated.monitoring.svc:9090"
    upstream_query: Annotated[str | None, Field(description="PromQL of a signal upstream of the pods, needed for scale to zero.")] = None
    fallback_replicas: Annotated[int, Field(ge=0)] = 1
    cooldown_seconds: Annotated[int, Field(ge=0)] = 300
    # The HPA's scale-down stabilization window; the API server allows at most an hour.
    scale_down_window_seconds: Annotated[int, Field(ge=0, le=3600, description="Seconds of lower demand before a pod is removed.")] = 900

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must be at most maxReplicas")
        return self


class GatewayRef(Strict):
    name: Annotated[str, Field(min_length=1)]
    namespace: str | None = None
    section_name: str | None = None


class ExposureSpec(Strict):
    kind: Literal["httproute", "ingress", "none"] = "none"
    hostnames: list[str] = []
    gateway: GatewayRef | None = None
    ingress_class_name: str | None = None
    timeout_seconds: Annotated[int, Field(ge=1, description="Longest request, streams included.")] = 600

    @model_validator(mode="after")
    def _gateway(self) -> ExposureSpec:
        if self.kind == "httproute" and self.gateway is None:
            raise ValueError("an httproute needs gateway.name: the Gateway it attaches to")
        return self


class RateLimitSpec(Strict):
    enabled: bool = False
    type: Literal["Local", "Global"] = "Local"
    requests: Annotated[int, Field(ge=1)] = 60
    unit: Literal["Second", "Minute", "Hour"] = "Minute"
    by: Literal["clientIP", "header", "none"] = "clientIP"
    header: str = "x-api-key"


class Toggle(Strict):
    enabled: bool = False


# Capabilities Pod Security "baseline" lets a container add (restricted: only NET_BIND_SERVICE).
BASELINE_CAPABILITIES = ("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                         "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT")


class SecuritySpec(Strict):
    """Overrides of the engine's hardened pod defaults (the chart's engine partials); unset keeps them."""

    run_as_non_root: Annotated[bool | None, Field(description="Refuse to start as root (the engine's default when unset).")] = None
    run_as_user: Annotated[int | None, Field(ge=0, description="UID of the engine's process.")] = None
    run_as_group: Annotated[int | None, Field(ge=0, description="Primary GID of the engine's process.")] = None
    fs_group: Annotated[int | None, Field(ge=0, description="Group that owns the cache volume.")] = None
    read_only_root_filesystem: Annotated[bool | None, Field(description="Mount the image read-only.")] = None
    seccomp_profile: Literal["RuntimeDefault", "Unconfined"] | None = None
    add_capabilities: Annotated[list[Literal[BASELINE_CAPABILITIES]], Field(  # type: ignore[valid-type]
        description="Capabilities added back after dropping all (Pod Security baseline allows these).")] = []


class DeploymentSpec(Strict):
    model: ModelSpec
    engine: EngineSpec = EngineSpec()
    image: ImageSpec = ImageSpec()
    hardware: HardwareSpec = HardwareSpec()
    serving: ServingSpec = ServingSpec()
    features: FeaturesSpec = FeaturesSpec()
    cache: CacheSpec = CacheSpec()
    replicas: Annotated[int, Field(ge=0, le=1000)] = 1
    usage_stats: Annotated[Literal["on", "off", "no-stack"], Field(description="Engine telemetry to its vendor.")] = "off"
    probes: ProbesSpec = ProbesSpec()
    rollout: RolloutSpec = RolloutSpec()
    service: ServiceSpec = ServiceSpec()
    network_policy: Toggle = Toggle()
    monitoring: MonitoringSpec = MonitoringSpec()
    autoscaling: AutoscalingSpec = AutoscalingSpec()
    exposure: ExposureSpec = ExposureSpec()
    rate_limit: RateLimitSpec = RateLimitSpec()
    inference_pool: Annotated[Toggle, Field(description="Gateway API Inference Extension pool (vLLM only).")] = Toggle()
    pod_disruption_budget: Toggle = Toggle(enabled=True)
    security: SecuritySpec = SecuritySpec()
    extra_env: list[EnvVar] = []
    extra_args: list[str] = []
    pod_annotations: dict[str, str] = {}
    pod_labels: dict[str, str] = {}


class Spec(Strict):
    """A whole tgi.yaml document."""

    api_version: Literal["tgictl.dev/v1alpha1"]
    kind: Literal["InferenceDeployment"]
    metadata: Metadata
    spec: DeploymentSpec
