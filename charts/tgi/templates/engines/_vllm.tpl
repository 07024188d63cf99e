{{/*
vLLM (`vllm serve MODEL --flags`), the OpenAI-compatible server image.
*/}}

{{- define "tgi.engine.vllm.port" -}}8000{{- end }}

{{/* vLLM's Hugging Face cache (HF_HOME) in the vllm-openai image. */}}
{{- define "tgi.engine.vllm.cachePath" -}}/root/.cache/huggingface{{- end }}
{{/* ...and the hub cache inside it, where `tgictl cache warm` downloads. */}}
{{- define "tgi.engine.vllm.hubCachePath" -}}/root/.cache/huggingface/hub{{- end }}

{{/*
vLLM answers /health as soon as its API server runs, before weights load:
startup and readiness wait for /v1/models instead; liveness uses /health.
*/}}
{{- define "tgi.engine.vllm.startupPath" -}}/v1/models{{- end }}
{{- define "tgi.engine.vllm.readinessPath" -}}/v1/models{{- end }}
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
