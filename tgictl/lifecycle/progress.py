"""Where a starting deployment is, in words: phase and failure, from pod status,
events and the engine's log lines.

``assess`` is a pure function of what the API returned, so every start-up
and failure sequence can be replayed in tests. Phases run scheduling →
image pull → download → load → warm-up → ready; a failure names its cause
in plain words and carries the evidence (event message, last log lines).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tgictl.engines.base import EngineFacts

PHASES = ("scheduling", "image pull", "starting", "download", "load", "warmup", "ready")

# Log lines that mean the model itself cannot be had or run, whatever the engine.
_LOG_FAILURES = (
    (r"401 Client Error|GatedRepoError|Cannot access gated repo|Invalid credentials|Access to model .* is restricted",
     "gated or private model: the Hub refused access (401); set cache.hfTokenSecret to a Secret with a token that has accepted the "
     "licence"),
    (r"RepositoryNotFoundError|404 Client Error|does not appear to have a file named|Repository Not Found",
     "model not found on the Hub (404): check model.id and model.revision"),
    (r"NCCL error|ncclSystemError|Error while creating shared memory segment|unhandled system error",
     "NCCL failed between shards, usually /dev/shm: the chart mounts a memory-backed /dev/shm when sharded; check the node's GPU links and "
     "shm limits"),
    (r"requires you to execute the configuration file in that repo|set the option `trust_remote_code=True`",
     "the model ships its own Python code: set model.trustRemoteCode: true if you trust the repository (TGI and vLLM then run it)"),
    # huggingface_hub's own words, whichever engine calls it (vLLM 0.32 logs them as they are).
    (r"Cannot find an appropriate cached snapshot folder|outgoing traffic has been disabled|LocalEntryNotFoundError",
     "the weights are not in the cache and the Hub is off (cache.offline): run `tgictl cache warm -f SPEC` first, or set cache.offline: "
     "false"),
    (r"Repo id must be in the form|HFValidationError",
     "model.id is neither a Hub id (org/name) nor a path that exists in the container: fix model.id, or mount the path"),
    # "CUDA error: out of memory" is how an OOM inside CUDA-graph capture reads; "would exceed
    # allowed memory" how PyTorch words one past the memory fraction (TGI issues 2572, 563).
    (r"CUDA out of memory|CUDA error: out of memory|torch.OutOfMemoryError|Not enough memory to handle|would exceed allowed memory",
     "the GPU ran out of memory at start-up: lower serving.maxBatchPrefillTokens and serving.maxBatchTotalTokens, or "
     "serving.cudaMemoryFraction (`tgictl plan` shows the budget)"),
)


@dataclass(frozen=True)
class Assessment:
    phase: str  # one of PHASES, or "failed"
    detail: str
    failure: str | None = None  # the cause, in words, when failed
    evidence: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.failure is not None


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((c for c in statuses if c.get("name") == "server"), statuses[0] if statuses else {})


def _events_about(events: list[dict[str, Any]], pod_name: str) -> list[dict[str, Any]]:
    return [e for e in events if (e.get("involvedObject") or {}).get("name") == pod_name]


def parse_time(value: str | None) -> float | None:
    """An RFC 3339 time from the API (``2026-11-28T00:00:00Z``, maybe with microseconds) in epoch seconds."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def event_time(event: dict[str, Any]) -> float | None:
    """When an event last happened. Components on the events.k8s.io API (the scheduler, since
    1.19) leave lastTimestamp empty and set eventTime, and series.lastObservedTime for repeats;
    older ones set lastTimestamp (count for repeats)."""
    for value in ((event.get("series") or {}).get("lastObservedTime"), event.get("lastTimestamp"), event.get("eventTime"),
                  (event.get("metadata") or {}).get("creationTimestamp")):
        if (parsed := parse_time(value)) is not None:
            return parsed
    return None


# How long deploy lets a pod wait for a node when no cluster autoscaler says one is coming
# (`deploy --node-wait`): GPUs free up as an old revision's pod drains (a maxSurge-0 rollout),
# and a node pool scaling from zero takes minutes.
NODE_WAIT_S = 600.0
_GPU_SHORTAGE = re.compile(r"Insufficient (nvidia\.com/gpu|amd\.com/gpu|habana\.ai/gaudi)")


# Why the scheduler found no node, by its FailedScheduling message; the first match names it.
_NO_NODE_CAUSES = (
    (_GPU_SHORTAGE, "Insufficient GPU: no node has enough free accelerators for one pod; free GPUs, add nodes, or lower "
                    "hardware.accelerator.count"),
    # kube-scheduler's VolumeBinding plugin, while the claim has no volume (seen on the real control plane).
    (re.compile(r"unbound immediate PersistentVolumeClaims"),
     "the cache PVC has no volume: its storage class did not provision one; check spec.cache.storageClassName names a class "
     "whose provisioner runs (kubectl describe pvc shows the provisioner's events)"),
)
_NO_NODE_FITS = "no node fits the pod: check hardware.nodeSelector, hardware.tolerations and the resources it requests"


def _latest(events: list[dict[str, Any]], reason: str) -> dict[str, Any] | None:
    found = [e for e in events if e.get("reason") == reason]
    return max(found, key=lambda e: event_time(e) or 0.0) if found else None


def _unscheduled(pod: dict[str, Any], mine: list[dict[str, Any]], now: float, node_wait_s: float) -> Assessment | None:
    """Why a pod has no node yet, or None once it has one (a FailedScheduling event outlives the
    condition it reported by an hour, so it counts only while the pod is still unscheduled).
    A cluster autoscaler adding a node (TriggeredScaleUp; Karpenter's Nominated) is waited for;
    one that cannot (NotTriggerScaleUp) fails at once; otherwise the pod may wait ``node_wait_s``."""
    condition: dict[str, Any] = next((c for c in (pod.get("status") or {}).get("conditions") or []
                                      if c.get("type") == "PodScheduled"), {})
    status = pod.get("status") or {}
    if condition.get("status") == "True" or (pod.get("spec") or {}).get("nodeName") or status.get("containerStatuses") \
            or (not condition and status.get("phase") not in (None, "Pending")):
        return None
    failed = _latest(mine, "FailedScheduling")
    message = (failed or {}).get("message", "")
    shortage = next((cause for pattern, cause in _NO_NODE_CAUSES if pattern.search(message)), _NO_NODE_FITS)
    refused = _latest(mine, "NotTriggerScaleUp")
    if refused:
        return Assessment("failed", refused.get("message", ""), f"{shortage}; the cluster autoscaler cannot add a node that fits",
                          [m for m in (message, refused.get("message", "")) if m])
    coming = _latest(mine, "TriggeredScaleUp") or _latest(mine, "Nominated")
    if coming:
        return Assessment("scheduling", f"waiting for a new node: {coming.get('message', '')}")
    since = parse_time(condition.get("lastTransitionTime")) or parse_time(pod["metadata"].get("creationTimestamp")) or now
    waited = now - since
    if failed and waited > node_wait_s:
        return Assessment("failed", message, f"{shortage} (no node for {waited:.0f}s; deploy waits {node_wait_s:.0f}s for one, "
                          "--node-wait)", [message])
    return Assessment("scheduling", f"{message} (waiting for a node: {waited:.0f}s of {node_wait_s:.0f}s)" if message
                      else "waiting for a node")


# Why the ReplicaSet controller could not create the pod, by the admission's own words in its
# FailedCreate event (kube-apiserver v1.35: plugin/pkg/admission/resourcequota "exceeded quota:
# %s, requested: %s, used: %s, limited: %s"; pod-security-admission "violates PodSecurity %q:
# %s"; plugin/pkg/admission/limitranger "maximum %s usage per Container is %s, but limit is %s").
_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"exceeded quota: (?P<quota>[^,]+), requested: (?P<requested>.+), used: (?P<used>.+), limited: (?P<limited>.+)"),
     "ResourceQuota {quota} refuses the pod: it asks {requested}, the namespace uses {used} of {limited}; ask for the quota to "
     "be raised, or lower hardware.accelerator.count, hardware.cpu or hardware.memory"),
    (re.compile(r'violates PodSecurity "(?P<level>\w+):[^"]*": (?P<faults>.+)'),
     "Pod Security admission refuses the pod: the namespace enforces {level} and the pod has {faults}; set spec.security to "
     "meet it (`tgictl doctor` says how), or ask for the namespace's pod-security.kubernetes.io/enforce label to be lowered"),
    (re.compile(r"(?P<what>(minimum|maximum) \S+ usage per (Container|Pod) is \S+, but (limit|request) is \S+)"),
     "a LimitRange refuses the pod: {what}; set hardware.cpu and hardware.memory within the namespace's LimitRange "
     "(kubectl describe limitrange)"),
)


def _refusal_cause(message: str) -> str:
    for pattern, cause in _REFUSALS:
        if found := pattern.search(message):
            return cause.format(**{k: v.strip() for k, v in found.groupdict().items()})
    return "the ReplicaSet cannot create the pod: an admission plugin or webhook refused it (its message follows)"


def _log_phase(lines: list[str], log_phases: tuple[tuple[str, str], ...]) -> str | None:
    reached = None
    for line in lines:
        for pattern, phase in log_phases:
            if re.search(pattern, line) and (reached is None or PHASES.index(phase) >= PHASES.index(reached)):
                reached = phase
    return reached


# A log line that starts a new record (an ISO 8601 timestamp, or a JSON log object);
# traceback and continuation lines do not.
_RECORD_START = re.compile(r"^\s*(\{|\d{4}-\d{2}-\d{2}T)")
# What an error line looks like: a Python exception, a launcher "Error: Kind", or an ERROR record.
_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception)(\[.*\])?: |^Error: \w+|\bERROR\b|panicked at")


def _without_benign(lines: list[str], benign: str) -> list[str]:
    """``lines`` minus each non-fatal error the engine logs and survives (``benign``),
    with the traceback lines that follow it up to the next log record."""
    if not benign:
        return lines
    kept, skipping = [], False
    for line in lines:
        if re.search(benign, line):
            skipping = True
            continue
        if skipping and not _RECORD_START.match(line):
            continue
        skipping = False
        kept.append(line)
    return kept


# What a logger puts before the message, in the engines' formats: vLLM's process tag and
# "ERROR 06-12 10:00:00 [core.py:515] ", TGI's "2024-03-06T17:53:31.149443Z ERROR " and its
# targets ("shard-manager: text_generation_launcher: "), llama.cpp's "0.00.004.218 E ", module
# ("srv ") and function names ("llama_model_load: ").
_LOG_PREFIX = re.compile(
    r"^(\([\w.-]+ pid=\d+\)\s+)?"
    r"(\d{4}-\d{2}-\d{2}[T ][\d:.,]+Z?\s+|\d+\.\d{2}\.\d{3}\.\d{3}\s+)?"
    r"((INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|FATAL|[IWEDF])\s+)?"
    r"(\d{2}-\d{2}\s+[\d:.]+\s+)?(\[[\w./-]+:\d+\]\s?)?((srv|cmn|slot|que|res)\s+)?"
    r"([a-z_][\w-]*(::\w+)*:\s+)*")
# A raised exception's line: "ValueError: ...", "torch.OutOfMemoryError: ...".
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)?\w(Error|Exception)(\[.*\])?: \S")


def message(line: str) -> str:
    """A log line's message, without the logger's prefix; a traceback's frame or code line keeps
    its indentation (it is no message)."""
    return _LOG_PREFIX.sub("", line.rstrip(), count=1)


def _telling(text: str) -> bool:
    """Whether a message says something a person would read as the error: not a traceback's
    header, frame, code or caret line."""
    return bool(text) and not text[0].isspace() and not text.startswith(("Traceback (", "File \"", "^", "~")) and \
        sum(c.isalpha() for c in text) >= 3


def _last_error(lines: list[str]) -> str | None:
    """The most telling error, as a person reads a log: the last exception raised, else the
    message of the last error record that says something (no frame, caret or prefix)."""
    messages = [message(line) for line in lines]
    exceptions = [text for text in messages if _EXCEPTION.match(text)]
    errors = exceptions or [text for line, text in zip(lines, messages) if _ERROR_LINE.search(line) and _telling(text)]
    return errors[-1].strip() if errors else None


def _log_failure(lines: list[str], engine_failures: tuple[tuple[str, str], ...]) -> tuple[str, list[str]] | None:
    # The Hub's and CUDA's first: vLLM wraps a Hub error in its own words ("Invalid repository ID or
    # local directory specified", transformers_utils/config.py at v0.32.0), which say less.
    for pattern, cause in (*_LOG_FAILURES, *engine_failures):
        hits = [line for line in lines if re.search(pattern, line)]
        if hits:
            return cause, hits[-3:]
    return None


def _log_assessment(log: list[str], previous_log: list[str], engine: EngineFacts | None,
                    waiting: dict[str, Any]) -> Assessment | None:
    """A failure the engine's log shows (both containers' logs when it restarted): a known
    cause, else its last error line once it is exiting or restarting; None while it starts."""
    lines = _without_benign(previous_log + log, engine.log_benign if engine else "")
    found = _log_failure(lines, engine.log_failures if engine else ())
    if found:
        cause, hits = found
        return Assessment("failed", hits[-1], cause, hits)
    restarting = waiting.get("reason") == "CrashLoopBackOff"
    exiting = bool(engine and engine.log_fatal and any(re.search(engine.log_fatal, line) for line in lines))
    error = _last_error(lines) if exiting or restarting else None
    if error:
        title = engine.title if engine else "the engine"
        return Assessment("failed", error, f"{title} stopped at start-up; the error it logged last: {error}",
                          [line for line in lines if _ERROR_LINE.search(line)][-3:])
    if restarting:
        return Assessment("failed", waiting.get("message", "CrashLoopBackOff"),
                          "CrashLoopBackOff: the engine exits at start-up; its last log lines follow", (previous_log or log)[-5:])
    return None


def assess(pod: dict[str, Any] | None, events: list[dict[str, Any]], log: list[str],
           engine: EngineFacts | None = None, previous_log: list[str] | None = None,
           now: float | None = None, node_wait_s: float = NODE_WAIT_S) -> Assessment:
    """The state of one pod of the release at ``now`` (epoch seconds), read with ``engine``'s log
    phases and failures. With no pod yet, ``events`` are those of the release's current ReplicaSet."""
    if pod is None:
        refused = [e.get("message") or "" for e in events if e.get("reason") == "FailedCreate"]
        if refused:
            return Assessment("failed", refused[-1], _refusal_cause(refused[-1]), refused[-1:])
        return Assessment("scheduling", "waiting for the Deployment to create a pod")
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    mine = _events_about(events, name)
    unscheduled = _unscheduled(pod, mine, time.time() if now is None else now, node_wait_s)
    if unscheduled:
        return unscheduled
    container = _container(pod)
    waiting = (container.get("state") or {}).get("waiting") or {}
    terminated_last = (container.get("lastState") or {}).get("terminated") or {}
    reason = waiting.get("reason", "")
    if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        return Assessment("failed", waiting.get("message", reason), f"{reason}: the image cannot be pulled; check image.repository/tag "
                          "and image.pullSecrets", [waiting.get("message", reason)])
    if status.get("reason") == "Evicted":
        message = status.get("message", "evicted")
        return Assessment("failed", message, "Evicted: the node ran short of a resource the pod did not reserve; when it is "
                          "ephemeral-storage, the weights filled the node's disk: keep the cache on a PVC (cache.ephemeral: false) "
                          "or reserve hardware.ephemeralStorage", [message])
    if reason in ("CreateContainerConfigError", "CreateContainerError"):
        message = waiting.get("message", reason)
        return Assessment("failed", message, f"{reason}: the container cannot be created as specified, usually a Secret or "
                          "ConfigMap (or a key in it) that does not exist in the namespace; `tgictl doctor` checks the spec's Secrets",
                          [message])
    if terminated_last.get("reason") == "OOMKilled":
        return Assessment("failed", "OOMKilled", "OOMKilled: the container exceeded its memory limit (loading weights stages them in "
                          "host memory); raise hardware.memory", [f"exit code {terminated_last.get('exitCode')}"])
    for event in mine:
        message = event.get("message") or ""
        if event.get("reason") in ("Killing", "Unhealthy") and "failed startup probe" in message:
            return Assessment("failed", message, "start-up probe budget exceeded: the engine did not become ready in time; "
                              "raise probes.startupBudgetSeconds or cache.downloadBandwidthMbps to what the network gives", [message])
    failed = _log_assessment(log, previous_log or [], engine, waiting)
    if failed:
        return failed
    pulling = any(e.get("reason") == "Pulling" for e in mine) and not container.get("state", {}).get("running")
    if reason in ("ContainerCreating", "PodInitializing") or pulling:
        return Assessment("image pull", f"pulling {container.get('image') or 'the image'}")
    if container.get("ready"):
        return Assessment("ready", "ready")
    phase = _log_phase(log, engine.log_phases if engine else ())
    if phase == "ready":
        return Assessment("warmup", "engine reports ready; waiting for the readiness probe")
    return Assessment(phase or "starting", log[-1] if log else "container started")
