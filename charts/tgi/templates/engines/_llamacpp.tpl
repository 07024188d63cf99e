{{/*
llama.cpp's llama-server (ghcr.io/ggml-org/llama.cpp:server-*).
*/}}

{{- define "tgi.engine.llamacpp.port" -}}8080{{- end }}

{{/* LLAMA_CACHE points here: --hf-repo and --model-url downloads land on the cache volume. */}}
{{- define "tgi.engine.llamacpp.cachePath" -}}/models{{- end }}
{{/* Nothing compiled at start-up: llama.cpp's kernels are built into the image. */}}
{{- define "tgi.engine.llamacpp.compileCachePath" -}}{{- end }}
{{- define "tgi.engine.llamacpp.compileCacheEnv" -}}{{- end }}
{{/* llama-server uses LLAMA_CACHE itself as a hub cache (models--org--name/snapshots/...). */}}
{{- define "tgi.engine.llamacpp.hubCachePath" -}}/models{{- end }}

{{/* /health answers 503 until the model is loaded, 200 after: one path for all probes. */}}
{{- define "tgi.engine.llamacpp.startupPath" -}}/health{{- end }}
{{- define "tgi.engine.llamacpp.readinessPath" -}}/health{{- end }}
{{- define "tgi.engine.llamacpp.livenessPath" -}}/health{{- end }}

{{- define "tgi.engine.llamacpp.command" -}}
- /app/llama-server
{{- end }}

{{- define "tgi.engine.llamacpp.testPath" -}}/v1/completions{{- end }}
{{- define "tgi.engine.llamacpp.testBody" -}}
{{- dict "prompt" .Values.tests.prompt "max_tokens" .Values.tests.maxNewTokens | toJson }}
{{- end }}

{{/* The variable the engine reads its API key from. llama-server guards /metrics too (only /health stays open): scrapes must send the key. */}}
{{- define "tgi.engine.llamacpp.apiKeyEnv" -}}LLAMA_API_KEY{{- end }}
{{- define "tgi.engine.llamacpp.metricsNeedApiKey" -}}true{{- end }}

{{/*
Hardened by default, Pod Security "restricted": the server image is one binary
and its shared libraries under /app, world-readable, with no USER line
(llama.cpp .devops/cpu.Dockerfile, server target), so any UID runs it. Only the
cache (/models) and /tmp are written; fsGroup makes a cache PVC writable.
*/}}
{{- define "tgi.engine.llamacpp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "tgi.engine.llamacpp.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
{{/* Env the image needs under this security context (none), and writable scratch directories beside /tmp (none). */}}
{{- define "tgi.engine.llamacpp.env" -}}{{- end }}
{{- define "tgi.engine.llamacpp.scratchPaths" -}}[]{{- end }}
