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
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
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

{{/* The labels that pick the `helm test` pod (and not the exporter's pods). */}}
{{- define "ipe.testPodSelector" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "ipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ipe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ipe.image" -}}
{{- $name := .Values.image.repository }}
{{- with .Values.image.registry }}{{ $name = printf "%s/%s" (trimSuffix "/" .) $name }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $name .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $name (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Service's DNS name, which the exporter's certificate must carry. */}}
{{- define "ipe.serviceHost" -}}
{{ include "ipe.fullname" . }}.{{ .Release.Namespace }}.svc
{{- end }}

{{- define "ipe.webDir" -}}/etc/imanager-port-exporter/web{{- end }}
{{- define "ipe.tlsDir" -}}/etc/imanager-port-exporter/tls{{- end }}
{{- define "ipe.clientCADir" -}}/etc/imanager-port-exporter/client-ca{{- end }}

{{/* True when the chart writes a web config (--web.config.file). */}}
{{- define "ipe.webConfigEnabled" -}}
{{- $w := .Values.webConfig }}
{{- if or $w.tls.enabled $w.basicAuth.users $w.inline }}true{{ end }}
{{- end }}

{{/* The web config file, exporter-toolkit format, with the paths where the pod mounts its files. */}}
{{- define "ipe.webConfig" -}}
{{- $w := .Values.webConfig }}
{{- $config := dict }}
{{- if $w.tls.enabled }}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" (include "ipe.tlsDir" .)) "key_file" (printf "%s/tls.key" (include "ipe.tlsDir" .)) "min_version" $w.tls.minVersion }}
{{- with $w.tls.clientAuthType }}
{{- $_ := set $tls "client_auth_type" . }}
{{- if contains "Verify" . }}
{{- $_ := set $tls "client_ca_file" (printf "%s/%s" (include "ipe.clientCADir" $) $w.tls.clientCA.key) }}
{{- end }}
{{- end }}
{{- $_ := set $config "tls_server_config" $tls }}
{{- end }}
{{- with $w.basicAuth.users }}
{{- $_ := set $config "basic_auth_users" (deepCopy .) }}
{{- end }}
{{- toYaml (mergeOverwrite $config (deepCopy $w.inline)) }}
{{- end }}

{{/*
"true" when every request needs credentials the kubelet cannot give: basic auth users,
or a client certificate it must present.
*/}}
{{- define "ipe.webNeedsCredentials" -}}
{{- if include "ipe.webConfigEnabled" . }}
{{- $config := include "ipe.webConfig" . | fromYaml }}
{{- $clientAuth := dig "tls_server_config" "client_auth_type" "" $config }}
{{- if or (dig "basic_auth_users" dict $config) (has $clientAuth (list "RequireAnyClientCert" "RequireAndVerifyClientCert")) }}true{{ end }}
{{- end }}
{{- end }}

{{- define "ipe.scheme" -}}
{{- if .Values.webConfig.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/* A health probe as the kubelet can run it under the web config: see values.yaml. */}}
{{- define "ipe.healthProbe" -}}
{{- $probe := deepCopy .probe }}
{{- if and $probe.httpGet (include "ipe.webNeedsCredentials" .root) }}
{{- $port := $probe.httpGet.port }}
{{- $_ := unset $probe "httpGet" }}
{{- $_ := set $probe "tcpSocket" (dict "port" $port) }}
{{- else if and $probe.httpGet .root.Values.webConfig.tls.enabled }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/*
scheme, tlsConfig and basicAuth of a ServiceMonitor or PodMonitor endpoint, from
webConfig, with the monitor's own values (.monitor) over them.
*/}}
{{- define "ipe.scrapeAuth" -}}
{{- $root := .root }}
{{- $w := $root.Values.webConfig }}
{{- $m := .monitor }}
scheme: {{ default (include "ipe.scheme" $root) $m.scheme }}
{{- $tls := dict }}
{{- if $w.tls.enabled }}
{{- $caSecret := default $w.tls.secretName $w.clientSecretName }}
{{- $_ := set $tls "ca" (dict "secret" (dict "name" $caSecret "key" "ca.crt")) }}
{{- $_ := set $tls "serverName" (include "ipe.serviceHost" $root) }}
{{- with $w.clientSecretName }}
{{- $_ := set $tls "cert" (dict "secret" (dict "name" . "key" "tls.crt")) }}
{{- $_ := set $tls "keySecret" (dict "name" . "key" "tls.key") }}
{{- end }}
{{- end }}
{{- with mergeOverwrite $tls (deepCopy $m.tlsConfig) }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $auth := dict }}
{{- with $w.basicAuth.secretName }}
{{- $_ := set $auth "username" (dict "name" . "key" $w.basicAuth.usernameKey) }}
{{- $_ := set $auth "password" (dict "name" . "key" $w.basicAuth.passwordKey) }}
{{- end }}
{{- with mergeOverwrite $auth (deepCopy $m.basicAuth) }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The scrape settings ServiceMonitor and PodMonitor endpoints share. */}}
{{- define "ipe.scrapeEndpoint" -}}
path: /metrics
interval: {{ .monitor.interval }}
scrapeTimeout: {{ .monitor.scrapeTimeout }}
honorLabels: {{ .monitor.honorLabels }}
{{- include "ipe.scrapeAuth" . }}
{{- with .monitor.relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .monitor.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
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
{{- if and .Values.serviceMonitor.enabled .Values.podMonitor.enabled }}
{{- fail "serviceMonitor.enabled and podMonitor.enabled: choose one; with both, Prometheus scrapes every pod twice and every alert fires twice" }}
{{- end }}
{{- if and .Values.webConfig.tls.enabled (not .Values.webConfig.tls.secretName) }}
{{- fail "webConfig.tls.enabled: name the kubernetes.io/tls Secret with the exporter's certificate in webConfig.tls.secretName" }}
{{- end }}
{{- if and .Values.webConfig.basicAuth.secretName (not .Values.webConfig.basicAuth.users) (not (dig "basic_auth_users" dict .Values.webConfig.inline)) }}
{{- fail "webConfig.basicAuth.secretName: Prometheus would send credentials the exporter does not check; list the users' bcrypt hashes in webConfig.basicAuth.users" }}
{{- end }}
{{- if and .Values.webConfig.tls.enabled (has .Values.webConfig.tls.clientAuthType (list "RequireAnyClientCert" "RequireAndVerifyClientCert")) (not .Values.webConfig.clientSecretName) }}
{{- fail (printf "webConfig.tls.clientAuthType %s: Prometheus needs a client certificate; name its kubernetes.io/tls Secret in webConfig.clientSecretName" .Values.webConfig.tls.clientAuthType) }}
{{- end }}
{{- if and (eq .Values.mode "statefulset") (semverCompare "<1.28.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "mode statefulset needs Kubernetes 1.28 or later, for the pod label apps.kubernetes.io/pod-index that gives each shard its index; this cluster is %s" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- end }}

{{/* The exporter's flags; every one is checked by the program's own parser in test/helm. */}}
{{- define "ipe.args" -}}
{{- if eq .Values.mode "daemonset" }}
{{- /* Kubernetes expands $(POD_IP) from the env below: the node's address on the host network. */}}
- --web.listen-address={{ .Values.daemonset.listenHost }}:{{ .Values.service.port }}
{{- else }}
- --web.listen-address=:{{ .Values.service.port }}
{{- end }}
{{- if include "ipe.webConfigEnabled" . }}
- --web.config.file={{ include "ipe.webDir" . }}/web.yml
{{- end }}
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

{{/* True when ICMP uses a raw socket: NET_RAW, which only a root process gets. */}}
{{- define "ipe.icmpRaw" -}}
{{- if and .Values.icmp.enabled (eq .Values.icmp.socket "raw") }}true{{ end }}
{{- end }}

{{- define "ipe.podSecurityContext" -}}
{{- $context := deepCopy .Values.podSecurityContext }}
{{- if and .Values.icmp.enabled (eq .Values.icmp.socket "datagram") (ne .Values.mode "daemonset") }}
{{- /* ICMP datagram sockets for the pod's group: a namespaced, safe sysctl. */}}
{{- $gid := int (default 65534 $context.runAsGroup) }}
{{- $sysctls := default list $context.sysctls }}
{{- $sysctls = append $sysctls (dict "name" "net.ipv4.ping_group_range" "value" (printf "%d %d" $gid $gid)) }}
{{- $_ := set $context "sysctls" $sysctls }}
{{- end }}
{{- toYaml $context }}
{{- end }}

{{- define "ipe.containerSecurityContext" -}}
{{- $context := deepCopy .Values.securityContext }}
{{- if include "ipe.icmpRaw" . }}
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
    {{- include "ipe.podSecurityContext" . | nindent 4 }}
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
        # On the host network the pod's IP is the node's: --web.listen-address binds it.
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
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
        {{- include "ipe.healthProbe" (dict "root" $ "probe" .) | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- include "ipe.healthProbe" (dict "root" $ "probe" .) | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- include "ipe.healthProbe" (dict "root" $ "probe" .) | nindent 8 }}
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
        {{- if include "ipe.webConfigEnabled" . }}
        # Directories, not subPath: a renewed certificate or changed web config reaches the
        # pod, and the exporter reads both at every new connection.
        - name: web-config
          mountPath: {{ include "ipe.webDir" . }}
          readOnly: true
        {{- end }}
        {{- if .Values.webConfig.tls.enabled }}
        - name: tls
          mountPath: {{ include "ipe.tlsDir" . }}
          readOnly: true
        {{- if contains "Verify" .Values.webConfig.tls.clientAuthType }}
        - name: client-ca
          mountPath: {{ include "ipe.clientCADir" . }}
          readOnly: true
        {{- end }}
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
    {{- if include "ipe.webConfigEnabled" . }}
    - name: web-config
      secret:
        secretName: {{ include "ipe.fullname" . }}-web-config
    {{- end }}
    {{- if .Values.webConfig.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ .Values.webConfig.tls.secretName }}
        items:
          - { key: tls.crt, path: tls.crt }
          - { key: tls.key, path: tls.key }
    {{- if contains "Verify" .Values.webConfig.tls.clientAuthType }}
    - name: client-ca
      secret:
        secretName: {{ default .Values.webConfig.tls.secretName .Values.webConfig.tls.clientCA.secretName }}
        items:
          - key: {{ .Values.webConfig.tls.clientCA.key }}
            path: {{ .Values.webConfig.tls.clientCA.key }}
    {{- end }}
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
  {{- if ne .Values.mode "daemonset" }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- with (eq .Values.mode "daemonset" | ternary .Values.daemonset.tolerations .Values.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
