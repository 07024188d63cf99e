{{/*
Chart name, shortened to 63 characters: Kubernetes label values and DNS-1123
names stop there.
*/}}
{{- define "tgi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified object name. The release name alone when it already contains
the chart name (tgictl names releases after the spec), otherwise
"<release>-<chart>". Truncated to 63 characters and stripped of a trailing "-"
left by the cut, so Service and Deployment names stay valid DNS labels.
*/}}
{{- define "tgi.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Labels that select this release's pods. They never change across upgrades
(a Deployment's selector is immutable), so no chart or app version here.
*/}}
{{- define "tgi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tgi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels on every object: the selector labels plus version, engine and tooling
labels. The engine label lets dashboards and the Inference Extension tell
engines apart.
*/}}
{{- define "tgi.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tgi.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/component: inference-server
app.kubernetes.io/managed-by: {{ .Release.Service }}
tgictl.dev/engine: {{ .Values.engine.name }}
{{- end }}

{{/*
ServiceAccount the pods run as: the chart's own, or an existing one.
*/}}
{{- define "tgi.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tgi.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Claim that holds the model cache: an existing one, or the chart's own.
*/}}
{{- define "tgi.cacheClaimName" -}}
{{- default (printf "%s-cache" (include "tgi.fullname" .)) .Values.cache.existingClaim }}
{{- end }}

{{/*
Dispatch to the active engine's partial: `include "tgi.engine" (list "port" .)`
renders "tgi.engine.<engine.name>.port". Each engine lives in its own
templates/engines/_<name>.tpl, so adding an engine adds one file.
*/}}
{{- define "tgi.engine" -}}
{{- $what := index . 0 }}
{{- $root := index . 1 }}
{{- $name := printf "tgi.engine.%s.%s" $root.Values.engine.name $what }}
{{- include $name $root }}
{{- end }}

{{/*
Engine arguments: positional ones first (vLLM's model), then flags as
`--flag value` pairs in key order (Helm
iterates maps sorted, so renders are stable). A true value is a bare switch;
false and null are dropped; lists are comma-joined. Values are always quoted
strings, as container args must be.
*/}}
{{- define "tgi.flagArgs" -}}
{{- range .Values.engine.positionalArgs }}
- {{ . | quote }}
{{- end }}
{{- range $flag, $value := .Values.engine.flags }}
{{- if kindIs "bool" $value }}
{{- if $value }}
- {{ printf "--%s" $flag | quote }}
{{- end }}
{{- else if kindIs "invalid" $value }}
{{- else if kindIs "slice" $value }}
- {{ printf "--%s" $flag | quote }}
- {{ join "," $value | quote }}
{{- else }}
- {{ printf "--%s" $flag | quote }}
- {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- range .Values.engine.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Container env: what the engine's image needs under the chart's security
context (its partial), plain values in key order, then HF_TOKEN and other
credentials (secretEnv) from their Secrets (they never appear as literals in
values, args or ConfigMaps), then extraEnv entries as given.
*/}}
{{/*
The directory the engine keeps its compile caches in, when they live on the
model cache volume: cache.compileCache on, a persistent volume (an emptyDir
dies with the pod, so there is nothing to share), and an engine that compiles.
Empty otherwise.
*/}}
{{- define "tgi.compileCachePath" -}}
{{- if and .Values.cache.compileCache (not .Values.cache.ephemeral) }}
{{- include "tgi.engine" (list "compileCachePath" .) }}
{{- end }}
{{- end }}

{{- define "tgi.env" -}}
{{- with include "tgi.engine" (list "env" .) }}
{{ . }}
{{- end }}
{{- if include "tgi.compileCachePath" . }}
{{- with include "tgi.engine" (list "compileCacheEnv" .) }}
{{ . }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.engine.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .Values.model.hfTokenSecret.name }}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.model.hfTokenSecret.key }}
{{- end }}
{{- with .Values.apiKeySecret.name }}
- name: {{ include "tgi.engine" (list "apiKeyEnv" $) }}
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.apiKeySecret.key }}
{{- end }}
{{- range .Values.engine.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- with .Values.engine.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
PromQL label matchers selecting this release's series: the ServiceMonitor's
relabelling adds `deployment`, and Prometheus adds `namespace`. Rules filter
on both so that two releases never record the same llm: series.
*/}}
{{- define "tgi.ruleSelector" -}}
namespace="{{ .Release.Namespace }}",deployment="{{ include "tgi.fullname" . }}"
{{- end }}

{{/*
The autoscaler's query: the engine-neutral series for this release, summed
(KEDA's AverageValue divides by the replica count).
*/}}
{{- define "tgi.autoscalingQuery" -}}
sum({{ .Values.autoscaling.metric }}{ {{- include "tgi.ruleSelector" . -}} })
{{- end }}

{{/*
HPA behavior for slow-starting pods: scale up by one pod per cold-start
period (a new pod needs that long to be ready, and the queue does not shrink
before), scale down slowly, one pod at a time.
*/}}
{{- define "tgi.autoscalingBehavior" -}}
scaleUp:
  stabilizationWindowSeconds: 0
  selectPolicy: Max
  policies:
    - type: Pods
      value: 1
      periodSeconds: {{ .Values.autoscaling.scaleUpPeriodSeconds }}
scaleDown:
  stabilizationWindowSeconds: {{ .Values.autoscaling.scaleDownStabilizationSeconds }}
  selectPolicy: Min
  policies:
    - type: Pods
      value: 1
      periodSeconds: 300
{{- end }}

{{/*
Security contexts: the engine's hardened defaults (its partial says which Pod
Security level it meets and why), with .Values.podSecurityContext and
.Values.securityContext merged over them key by key, so a platform relaxes
or tightens one setting without restating the rest.
*/}}
{{- define "tgi.podSecurityContext" -}}
{{- $engine := include "tgi.engine" (list "podSecurityContext" .) | fromYaml }}
{{- toYaml (mergeOverwrite $engine (deepCopy .Values.podSecurityContext)) }}
{{- end }}
{{- define "tgi.securityContext" -}}
{{- $engine := include "tgi.engine" (list "securityContext" .) | fromYaml }}
{{- toYaml (mergeOverwrite $engine (deepCopy .Values.securityContext)) }}
{{- end }}

{{/*
The helper pods (helm test, cache warm) run no engine: Pod Security
"restricted", any non-root UID, nothing written outside their volumes.
*/}}
{{- define "tgi.helperPodSecurityContext" -}}
runAsGroup: 65532
runAsNonRoot: true
runAsUser: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "tgi.helperSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
readOnlyRootFilesystem: true
{{- end }}

{{/*
One backend of the HTTPRoute: a release's Service (or its InferencePool, whose
endpoint picker then chooses the pod), by the release's fullname. With a canary
the route has two, weighted; alone, the weight stays off (all traffic).
Arguments: (list root fullname weight).
*/}}
{{- define "tgi.backendRef" -}}
{{- $root := index . 0 }}
{{- if $root.Values.inferencePool.enabled }}
- group: inference.networking.k8s.io
  kind: InferencePool
  name: {{ index . 1 }}
{{- else }}
- name: {{ index . 1 }}
  port: {{ $root.Values.service.port }}
{{- end }}
{{- if $root.Values.exposure.canary.release }}
  weight: {{ index . 2 }}
{{- end }}
{{- end }}
