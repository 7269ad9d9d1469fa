{{- define "mto.labels" -}}
app.kubernetes.io/name: mto
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
