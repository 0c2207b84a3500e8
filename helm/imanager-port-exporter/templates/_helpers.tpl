{{/* Names, labels and the pod template that the three workload kinds share. */}}

{{- define "ipe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ipe.fullname" -}}
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

{{- define "ipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ipe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ipe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
{{- end }}

{{/* Labels for the Prometheus Operator's objects: ours, the release label, then theirs. */}}
{{- define "ipe.operatorLabels" -}}
{{ include "ipe.labels" .root }}
{{- with .root.Values.releaseLabel }}
release: {{ . | quote }}
{{- end }}
{{- with .labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ipe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ipe.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
"true" when the exporter reads this cluster's API with its service account. Static
discovery never talks to an API server, and a kubeconfig Secret names another cluster:
then no token is mounted and no ClusterRole is made.
*/}}
{{- define "ipe.readsThisCluster" -}}
{{- if and (ne .Values.discovery.mode "static") (not .Values.discovery.kubeconfigSecret.name) }}true{{ end }}
{{- end }}

{{- define "ipe.vantage" -}}
{{- if eq .Values.mode "daemonset" }}node{{ else }}{{ default "central" .Values.vantage }}{{ end }}
{{- end }}

{{- define "ipe.configDir" -}}/etc/imanager-port-exporter{{- end }}

{{/* Values the schema cannot check alone: combinations. */}}
{{- define "ipe.validate" -}}
{{- $vantage := .Values.vantage }}
{{- if and (eq .Values.mode "daemonset") $vantage (ne $vantage "node") }}
{{- fail (printf "vantage %q: the daemonset mode always probes from each agent's own node; leave vantage empty" $vantage) }}
{{- end }}
{{- if and (eq .Values.discovery.mode "static") (not .Values.config.nodes) }}
{{- fail "discovery.mode static: list the nodes under config.nodes (name, address, roles); without them the exporter would probe only its own pod" }}
{{- end }}
{{- if and (eq $vantage "external") (eq .Values.discovery.mode "auto") (not .Values.discovery.kubeconfigSecret.name) }}
{{- fail "vantage external: set discovery.mode to static (with config.nodes) or kubernetes (with discovery.kubeconfigSecret); auto would watch the cluster the exporter itself runs in" }}
{{- end }}
{{- if and (eq .Values.mode "statefulset") (semverCompare "<1.28.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "mode statefulset needs Kubernetes 1.28 or later, for the pod label apps.kubernetes.io/pod-index that gives each shard its index; this cluster is %s" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- end }}

{{/* The exporter's flags; every one is checked by the program's own parser in test/helm. */}}
{{- define "ipe.args" -}}
- --web.listen-address=:{{ .Values.service.port }}
- --vantage={{ include "ipe.vantage" . }}
- --discovery={{ .Values.discovery.mode }}
{{- with .Values.discovery.namespaces }}
- --discovery.namespaces={{ join "," . }}
{{- end }}
{{- if .Values.discovery.kubeconfigSecret.name }}
- --kubeconfig=/etc/imanager-port-exporter/kubeconfig/{{ .Values.discovery.kubeconfigSecret.key }}
{{- end }}
- --probe.interval={{ .Values.probe.interval }}
- --probe.timeout={{ .Values.probe.timeout }}
- --probe.concurrency={{ .Values.probe.concurrency }}
- --probe.icmp={{ ternary "on" "off" .Values.icmp.enabled }}
- --log.level={{ .Values.logLevel }}
{{- if eq .Values.mode "daemonset" }}
- --mesh.peers={{ .Values.daemonset.meshPeers }}
{{- end }}
{{- if eq .Values.mode "statefulset" }}
{{- /* Kubernetes expands $(SHARD_INDEX) from the env below: no shell in between. */}}
- --shard=$(SHARD_INDEX)/{{ .Values.statefulset.shards }}
{{- end }}
{{- if .Values.config }}
- --config.file={{ include "ipe.configDir" . }}/config.yml
{{- end }}
{{- with .Values.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ipe.containerSecurityContext" -}}
{{- $context := deepCopy .Values.securityContext }}
{{- if .Values.icmp.enabled }}
{{- /* An added capability reaches only a root process: Kubernetes sets no ambient ones. */}}
{{- $capabilities := default dict $context.capabilities }}
{{- $_ := set $capabilities "add" (list "NET_RAW") }}
{{- $_ := set $capabilities "drop" (list "ALL") }}
{{- $_ := set $context "capabilities" $capabilities }}
{{- $_ := set $context "runAsUser" 0 }}
{{- $_ := set $context "runAsGroup" 0 }}
{{- $_ := set $context "runAsNonRoot" false }}
{{- end }}
{{- toYaml $context }}
{{- end }}

{{/* The pod template of every mode. */}}
{{- define "ipe.podTemplate" -}}
metadata:
  labels:
    {{- include "ipe.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or .Values.config .Values.podAnnotations }}
  annotations:
    {{- if .Values.config }}
    # A changed config file restarts the pods, which read it at start.
    checksum/config: {{ toYaml .Values.config | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ include "ipe.serviceAccountName" . }}
  automountServiceAccountToken: {{ include "ipe.readsThisCluster" . | eq "true" }}
  {{- if eq .Values.mode "daemonset" }}
  # The node's own network: 127.0.0.1 is the node's loopback, where the scheduler (10259)
  # and controller-manager (10257) listen, and probes leave from the node's address.
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: exporter
      image: {{ include "ipe.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- include "ipe.args" . | nindent 8 }}
      {{- if or (eq .Values.mode "daemonset") (eq .Values.mode "statefulset") .Values.extraEnv }}
      env:
        {{- if eq .Values.mode "daemonset" }}
        # --vantage=node reads the node's name from here.
        - name: NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        {{- end }}
        {{- if eq .Values.mode "statefulset" }}
        # The pod's ordinal in the StatefulSet, which Kubernetes 1.28+ labels every pod with.
        - name: SHARD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      {{- with .Values.startupProbe }}
      startupProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml (eq .Values.mode "daemonset" | ternary .Values.daemonset.resources .Values.resources) | nindent 8 }}
      securityContext:
        {{- include "ipe.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        # The root filesystem is read-only; Node.js and its libraries may still want a /tmp.
        - name: tmp
          mountPath: /tmp
        {{- if .Values.config }}
        - name: config
          mountPath: {{ include "ipe.configDir" . }}
          readOnly: true
        {{- end }}
        {{- if .Values.discovery.kubeconfigSecret.name }}
        - name: kubeconfig
          mountPath: {{ include "ipe.configDir" . }}/kubeconfig
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
    {{- if .Values.config }}
    - name: config
      configMap:
        name: {{ include "ipe.fullname" . }}
    {{- end }}
    {{- if .Values.discovery.kubeconfigSecret.name }}
    - name: kubeconfig
      secret:
        secretName: {{ .Values.discovery.kubeconfigSecret.name }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (eq .Values.mode "daemonset" | ternary .Values.daemonset.tolerations .Values.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
