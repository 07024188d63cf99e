{{/*
Hugging Face TGI (text-generation-launcher). The image's entrypoint runs the
launcher, so the chart passes flags as args and keeps the image's command.
*/}}

{{/*
TGI's image sets PORT=80; the chart moves it to 8080 (env below), since binding
a port under 1024 needs CAP_NET_BIND_SERVICE, which the hardened container
drops. The router serves /metrics on the same port.
*/}}
{{- define "tgi.engine.tgi.port" -}}8080{{- end }}

{{/* The image sets HF_HOME=/data: weights land in /data/hub. */}}
{{- define "tgi.engine.tgi.cachePath" -}}/data{{- end }}

{{/*
No compile cache to keep: TGI captures its CUDA graphs in memory at every
warm-up and writes no compiled artifacts a second pod could reuse.
*/}}
{{- define "tgi.engine.tgi.compileCachePath" -}}{{- end }}
{{- define "tgi.engine.tgi.compileCacheEnv" -}}{{- end }}
{{/* ...and the hub cache inside it, where `tgictl cache warm` downloads. */}}
{{- define "tgi.engine.tgi.hubCachePath" -}}/data/hub{{- end }}

{{/*
TGI's port opens only after warm-up ("Connected"), and /health then checks
every shard, so one path serves startup, readiness and liveness.
*/}}
{{- define "tgi.engine.tgi.startupPath" -}}/health{{- end }}
{{- define "tgi.engine.tgi.readinessPath" -}}/health{{- end }}
{{- define "tgi.engine.tgi.livenessPath" -}}/health{{- end }}

{{/* The launcher is the image's entrypoint: no command override. */}}
{{- define "tgi.engine.tgi.command" -}}{{- end }}

{{/* A real one-token generation for `helm test`: path and JSON body. */}}
{{- define "tgi.engine.tgi.testPath" -}}/generate{{- end }}
{{- define "tgi.engine.tgi.testBody" -}}
{{- dict "inputs" .Values.tests.prompt "parameters" (dict "max_new_tokens" .Values.tests.maxNewTokens) | toJson }}
{{- end }}

{{/* The variable the engine reads its API key from. TGI guards only inference routes: /metrics stays open. */}}
{{- define "tgi.engine.tgi.apiKeyEnv" -}}API_KEY{{- end }}
{{- define "tgi.engine.tgi.metricsNeedApiKey" -}}{{- end }}

{{/*
Hardened as far as TGI allows, Pod Security "baseline": from v3.0 the image's
venv runs a Python that uv installed under /root (LD_LIBRARY_PATH in its
Dockerfile names /root/.local/share/uv/python/cpython-3.11.11-...), and /root
is mode 700 in the Ubuntu base, so no other UID can start the launcher's
shards. Root, then, but with no capabilities, no privilege escalation and
the runtime's seccomp profile. The root filesystem stays writable: TGI's
entrypoint runs ldconfig and its Python libraries (outlines, Triton) cache
under /root/.cache; set security.readOnlyRootFilesystem to try without.
*/}}
{{- define "tgi.engine.tgi.podSecurityContext" -}}
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "tgi.engine.tgi.securityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end }}
{{/* The launcher reads its port from PORT (clap `env`); the image's 80 would need a capability. */}}
{{- define "tgi.engine.tgi.env" -}}
- name: PORT
  value: "8080"
{{- end }}
{{- define "tgi.engine.tgi.scratchPaths" -}}[]{{- end }}
