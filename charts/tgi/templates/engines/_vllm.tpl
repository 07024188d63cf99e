{{/*
vLLM (`vllm serve MODEL --flags`), the OpenAI-compatible server image.
*/}}

{{- define "tgi.engine.vllm.port" -}}8000{{- end }}

{{/* vLLM's Hugging Face cache (HF_HOME) in the vllm-openai image. */}}
{{- define "tgi.engine.vllm.cachePath" -}}/root/.cache/huggingface{{- end }}
{{/* ...and the hub cache inside it, where `tgictl cache warm` downloads. */}}
{{- define "tgi.engine.vllm.hubCachePath" -}}/root/.cache/huggingface/hub{{- end }}

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
