"""Hugging Face TGI, everything tgictl knows of it in one place.

- ``engine``: launcher flags, env, image variants, TGI's cross-flag rules, start-up
  log phases and failures, when prompts prefill in chunks, metric names (its chart partial is
  ``charts/tgi/templates/engines/_tgi.tpl``, its rules ``charts/tgi/files/rules/tgi.yaml``);
- ``memory``: the warm-up rule that sizes its KV cache;
- ``simulator``: how ``tgictl sim`` shows it (routes, errors, health, ``/metrics``);
- ``migration``: where its flags mean only nearly what a spec field means.
"""

from tgictl.engines.tgi.engine import DIRECT_FLAGS, TGI

__all__ = ["DIRECT_FLAGS", "TGI"]
