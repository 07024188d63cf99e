"""Hugging Face TGI, everything tgictl knows of it in one place.

- ``engine``: launcher flags, env, image variants, TGI's cross-flag rules, start-up
  log phases and failures, metric names (its chart partial is
  ``charts/tgi/templates/engines/_tgi.tpl``, its rules ``charts/tgi/files/rules/tgi.yaml``);
- ``memory``: the warm-up rule that sizes its KV cache, and when prompts prefill in chunks;
"""

from tgictl.engines.tgi.engine import DIRECT_FLAGS, TGI

__all__ = ["DIRECT_FLAGS", "TGI"]
