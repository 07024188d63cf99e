{{/*
vLLM (`vllm serve MODEL --flags`), the OpenAI-compatible server image.
*/}}

{{- define "tgi.engine.vllm.port" -}}8000{{- end }}

{{/*
vLLM's Hugging Face cache: $HOME/.cache/huggingface for the image's own non-root
user (see podSecurityContext below), as vLLM's docker docs say to mount it.
*/}}
{{- define "tgi.engine.vllm.cachePath" -}}/home/vllm/.cache/huggingface{{- end }}
{{/* ...and the hub cache inside it, where `tgictl cache warm` downloads. */}}
{{- define "tgi.engine.vllm.hubCachePath" -}}/home/vllm/.cache/huggingface/hub{{- end }}

{{/*
Where vLLM keeps what it compiles: torch.compile artifacts under
VLLM_CACHE_ROOT/torch_compile_cache (vllm/compilation/backends.py at v0.32.0)
and Triton's kernels (TRITON_CACHE_DIR, else ~/.triton/cache). vLLM leaves
VLLM_CACHE_ROOT out of the compile cache's key (envs.py, compile_factors), so a
pod finding the directory at another path, or on another node, still hits it.
Set explicitly: XDG_CACHE_HOME would otherwise move it.
*/}}
{{- define "tgi.engine.vllm.compileCachePath" -}}/home/vllm/.cache/vllm{{- end }}
{{- define "tgi.engine.vllm.compileCacheEnv" -}}
- name: VLLM_CACHE_ROOT
  value: /home/vllm/.cache/vllm
- name: TRITON_CACHE_DIR
  value: /home/vllm/.cache/vllm/triton
{{- end }}

{{/*
All three probes use /health. vLLM binds its port at once but serves HTTP only
after the engine is built (weights loaded, KV cache allocated, warm-up done): a
probe before then gets no answer and times out, which the kubelet counts as a
failure; after, /health is 200 (503 once the engine dies). It needs no API key,
while /v1/models answers 401 without one, so a keyed pod never became Ready on it.
Measured on vLLM 0.32.0 (tests/real/test_vllm_real.py).
*/}}
{{- define "tgi.engine.vllm.startupPath" -}}/health{{- end }}
{{- define "tgi.engine.vllm.readinessPath" -}}/health{{- end }}
{{- define "tgi.engine.vllm.livenessPath" -}}/health{{- end }}

{{- define "tgi.engine.vllm.command" -}}
- vllm
- serve
{{- end }}

{{- define "tgi.engine.vllm.testPath" -}}/v1/completions{{- end }}
{{- define "tgi.engine.vllm.testBody" -}}
{{- dict "model" .Values.model.id "prompt" .Values.tests.prompt "max_tokens" .Values.tests.maxNewTokens | toJson }}
{{- end }}

{{/* The variable the engine reads its API key from. vLLM guards only /v1 routes: /metrics stays open. */}}
{{- define "tgi.engine.vllm.apiKeyEnv" -}}VLLM_API_KEY{{- end }}
{{- define "tgi.engine.vllm.metricsNeedApiKey" -}}{{- end }}

{{/*
Hardened by default, Pod Security "restricted". The vllm-openai image keeps
USER root but, since vLLM PR #40275 (May 2026, before v0.32.0), ships a `vllm`
user (UID 2000, GID 0) whose home /home/vllm is group-0 writable, with Python
under /opt/uv world-readable (docker/Dockerfile, "Non-root support"). vLLM
writes only under $HOME (HF, torch.compile, Triton, FlashInfer, Numba caches;
usage-stats config) and /tmp, so the root filesystem is read-only and /home/vllm
is a scratch emptyDir, the model cache mounted inside it. Older images (< 0.22)
have no such user: set security.runAsNonRoot false for them.
*/}}
{{- define "tgi.engine.vllm.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 2000
runAsGroup: 0
fsGroup: 0
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "tgi.engine.vllm.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
{{/* HOME explicitly: a UID missing from the image's /etc/passwd would otherwise get "/". */}}
{{- define "tgi.engine.vllm.env" -}}
- name: HOME
  value: /home/vllm
{{- end }}
{{- define "tgi.engine.vllm.scratchPaths" -}}[/home/vllm]{{- end }}
