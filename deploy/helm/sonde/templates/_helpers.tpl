{{- define "sonde.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "sonde.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* One --target value from a capture.targets entry. */}}
{{- define "sonde.target" -}}
{{- $terms := list -}}
{{- with .namespace }}{{ $terms = append $terms (printf "namespace=%s" .) }}{{ end -}}
{{- with .podSelector }}{{ $terms = append $terms (printf "pod=%s" .) }}{{ end -}}
{{- with .container }}{{ $terms = append $terms (printf "container=%s" .) }}{{ end -}}
{{- with .processes }}{{ $terms = append $terms (printf "process=%s" (join "," .)) }}{{ end -}}
{{- with .ports }}{{ $terms = append $terms (printf "ports=%s" (join "," .)) }}{{ end -}}
{{- if not $terms }}{{ $terms = list "all" }}{{ end -}}
{{- join ";" $terms -}}
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
