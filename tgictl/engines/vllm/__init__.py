"""vLLM, everything tgictl knows of it in one place.

- ``engine``: ``vllm serve`` flags, env, the releases supported and what they removed,
  start-up log phases and failures, metric names (chart partial
  ``charts/tgi/templates/engines/_vllm.tpl``, rules ``charts/tgi/files/rules/vllm.yaml``);
- ``memory``: the profile-run rule that sizes its KV cache;
- ``simulator``: how ``tgictl sim`` shows it (routes, errors, health, ``/metrics``);
- ``migration``: where its flags mean only nearly what a spec field means.
"""

from tgictl.engines.vllm.engine import METRICS_NOT_READ, VLLM, metrics_read_by_rules

__all__ = ["METRICS_NOT_READ", "VLLM", "metrics_read_by_rules"]
