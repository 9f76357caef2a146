{{- define "sonde.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "sonde.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The capabilities each source needs (docs/deploy.md says why). */}}
{{- define "sonde.capabilities" -}}
{{- if eq .Values.source "ebpf" -}}
- BPF
- PERFMON
- DAC_READ_SEARCH
- SYS_PTRACE
{{- else if eq .Values.source "tc" -}}
- BPF
- NET_ADMIN
{{- else -}}
- NET_RAW
{{- end -}}
{{- end }}
