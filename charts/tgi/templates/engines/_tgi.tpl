{{/*
Hugging Face TGI (text-generation-launcher). The image's entrypoint runs the
launcher, so the chart passes flags as args and keeps the image's command.
*/}}

{{/* TGI's image sets PORT=80; the router serves /metrics on the same port. */}}
{{- define "tgi.engine.tgi.port" -}}80{{- end }}

{{/* The image sets HF_HOME=/data: weights land in /data/hub. */}}
{{- define "tgi.engine.tgi.cachePath" -}}/data{{- end }}
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
