{{/*
The alert rule file with its links pointed where alertLinks says: the runbook base and
Grafana's address replace the defaults the generator wrote (scripts/monitoring/config.ts).
Unset, the file is exactly files/alerts/imanager-ports.rules.yml.
*/}}
{{- define "ipe.rulesFile" -}}
{{- $rules := .Files.Get "files/alerts/imanager-ports.rules.yml" -}}
{{- with .Values.alertLinks.runbookUrl -}}
{{- $rules = replace "https://github.com/imanager-port-exporter/imanager-port-exporter/blob/main/alerts/runbook.md#" (printf "%s#" .) $rules -}}
{{- end -}}
{{- with .Values.alertLinks.grafanaUrl -}}
{{- $rules = replace "http://localhost:3000/d/" (printf "%s/d/" (trimSuffix "/" .)) $rules -}}
{{- end -}}
{{- $rules -}}
{{- end -}}

{{/*
Alertmanager matchers (`name="value"`, `name=~"regex"`, ...) as an AlertmanagerConfig's
list of {name, value, matchType}.
*/}}
{{- define "ipe.alertmanagerMatchers" -}}
{{- $re := `^([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"(.*)"$` -}}
{{- range . }}
{{- if not (regexMatch $re .) }}
{{- fail (printf "files/alerts/alertmanager.yml: not a matcher: %s" .) }}
{{- end }}
- name: {{ regexReplaceAll $re . "${1}" }}
  matchType: {{ regexReplaceAll $re . "${2}" | quote }}
  value: {{ regexReplaceAll $re . "${3}" | quote }}
{{- end }}
{{- end -}}
