"""llama.cpp's ``llama-server``, everything tgictl knows of it in one place.

- ``engine``: flags (slots, ctx-size, GPU layers), env, GGUF sources, start-up log
  phases and failures, metric names (chart partial
  ``charts/tgi/templates/engines/_llamacpp.tpl``, rules ``charts/tgi/files/rules/llamacpp.yaml``);
- ``memory``: the fixed-context rule that bounds its KV cache;
- ``simulator``: how ``tgictl sim`` shows it (routes, errors, health, ``/metrics``);
- ``migration``: where its flags mean only nearly what a spec field means.
"""

from tgictl.engines.llamacpp.engine import LlamaCpp

__all__ = ["LlamaCpp"]
