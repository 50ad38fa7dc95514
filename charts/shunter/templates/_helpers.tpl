{{/* The chart's name (nameOverride wins). */}}
{{- define "shunter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object this chart creates. */}}
{{- define "shunter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "shunter.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "shunter.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "shunter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shunter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "shunter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "shunter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shunter
{{- end }}

{{- define "shunter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shunter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "shunter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The subject every binding grants to: the operator's ServiceAccount. */}}
{{- define "shunter.subjects" -}}
- kind: ServiceAccount
  name: {{ include "shunter.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/* The receivers' public base URL: receivers.baseURL, else the Ingress host. */}}
{{- define "shunter.receiversBaseURL" -}}
{{- if .Values.receivers.baseURL }}
{{- .Values.receivers.baseURL }}
{{- else if and .Values.receivers.ingress.enabled .Values.receivers.ingress.host }}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.receivers.ingress.tls) 0)) .Values.receivers.ingress.host }}
{{- end }}
{{- end }}

{{/* The names the API server dials the webhook Service by (the serving certificate's). */}}
{{- define "shunter.webhookHosts" -}}
{{- $service := printf "%s-webhooks" (include "shunter.fullname" .) -}}
- {{ $service }}.{{ .Release.Namespace }}.svc
- {{ $service }}.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}

{{/* The leader election Lease: leaderElection.leaseName, else <fullname>-controller[-<shard>]. */}}
{{- define "shunter.leaseName" -}}
{{- if .Values.leaderElection.leaseName }}
{{- .Values.leaderElection.leaseName }}
{{- else if .Values.shardName }}
{{- printf "%s-controller-%s" (include "shunter.fullname" .) .Values.shardName | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-controller" (include "shunter.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
