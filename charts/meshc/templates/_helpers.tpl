{{/* Names, labels and the values every template derives. */}}

{{- define "meshc.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name; every object is named after it. */}}
{{- define "meshc.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meshc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "meshc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "meshc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: meshc
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "meshc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meshc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "meshc.tlsSecretName" -}}
{{- printf "%s-tls" (include "meshc.fullname" .) -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "meshc.imageRef" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .appVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The Mesh spec as YAML, whether values.spec is an object or a string of YAML
(or empty: files/default-mesh.yaml), with admission.webhookNamespace defaulted to the release namespace.
*/}}
{{- define "meshc.spec" -}}
{{- $spec := .Values.spec | default (.Files.Get "files/default-mesh.yaml") -}}
{{- if kindIs "string" $spec -}}
{{- $spec = fromYaml $spec -}}
{{- if hasKey $spec "Error" -}}
{{- fail (printf "values.spec is not valid YAML: %s" (get $spec "Error")) -}}
{{- end -}}
{{- else -}}
{{- $spec = deepCopy $spec -}}
{{- end -}}
{{- $body := get $spec "spec" | default dict -}}
{{- $admission := get $body "admission" | default dict -}}
{{- if not (hasKey $admission "webhookNamespace") -}}
{{- $_ := set $admission "webhookNamespace" .Release.Namespace -}}
{{- end -}}
{{- $_ := set $body "admission" $admission -}}
{{- $_ := set $spec "spec" $body -}}
{{- toYaml $spec -}}
{{- end -}}

{{/*
Namespaces the API server never sends to the webhook: kube-system and the
release namespace always, the chart's list, and the spec's own
admission.exemptNamespaces.
*/}}
{{- define "meshc.exemptNamespaces" -}}
{{- $spec := include "meshc.spec" . | fromYaml -}}
{{- $fromSpec := ((get $spec "spec").admission).exemptNamespaces | default list -}}
{{- $all := concat (list "kube-system") .Values.webhook.exemptNamespaces (list .Release.Namespace) $fromSpec -}}
{{- toJson (uniq $all) -}}
{{- end -}}

{{/*
The namespaces whose mesh configuration is never judged: kube-system and the
release namespace (the webhook must be repairable while it is down).
*/}}
{{- define "meshc.configNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range (uniq (list "kube-system" .Release.Namespace)) }}
        - {{ . | quote }}
        {{- end }}
{{- end -}}

{{/* The namespaceSelector of the workload, namespace and mutation entries. */}}
{{- define "meshc.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range (include "meshc.exemptNamespaces" . | fromJsonArray) }}
        - {{ . | quote }}
        {{- end }}
{{- end -}}

{{/*
clientConfig of a webhook entry: the in-cluster Service, or webhook.url for a
webhook running elsewhere. The argument is (list $ "/validate").
*/}}
{{- define "meshc.clientConfig" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
clientConfig:
  {{- if $root.Values.webhook.url }}
  url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhook.url) $path | quote }}
  {{- else }}
  service:
    name: {{ include "meshc.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ $path | quote }}
    port: 443
  {{- end }}
  {{- $caBundle := include "meshc.caBundle" $root }}
  {{- if $caBundle }}
  caBundle: {{ $caBundle }}
  {{- end }}
{{- end -}}

{{/* The cert-manager annotation that makes the cainjector fill in caBundle. */}}
{{- define "meshc.webhookAnnotations" -}}
{{- if and (eq .Values.tls.mode "cert-manager") (not .Values.webhook.url) -}}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "meshc.fullname" .) }}
{{- end }}
{{- end -}}

{{/*
The provider's entry in files/facts.yaml's mutatePods (its pods are marked
when created, before its injector sees them), or an empty dict.
*/}}
{{- define "meshc.podMutation" -}}
{{- $spec := include "meshc.spec" . | fromYaml -}}
{{- $provider := (get $spec "spec").provider | default "" | toString -}}
{{- $mutate := get (include "meshc.facts" . | fromYaml) "mutatePods" | default dict -}}
{{- toJson (get $mutate $provider | default dict) -}}
{{- end -}}

{{/*
The MutatingWebhookConfiguration's name: webhook.mutatingName, else the
release's full name, or "0-" and it when the provider's pods are marked: the
API server calls mutating configurations in name order, so meshc's must sort
before the injector's (which it never calls again). Fails when it does not.
*/}}
{{- define "meshc.mutatingName" -}}
{{- $pods := include "meshc.podMutation" . | fromJson -}}
{{- $name := .Values.webhook.mutatingName -}}
{{- if not $name -}}
{{- $name = include "meshc.fullname" . -}}
{{- if $pods -}}
{{- $name = printf "0-%s" $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- range ($pods.injectorWebhooks | default list) -}}
{{- if not (lt $name .) -}}
{{- fail (printf "webhook.mutatingName %q must sort before the injector's MutatingWebhookConfiguration %q: the API server calls them in name order" $name .) -}}
{{- end -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/*
The audit's labels: the webhook's, with component audit, so that neither the
webhook's Service nor its PodDisruptionBudget ever selects an audit pod.
*/}}
{{- define "meshc.auditSelectorLabels" -}}
app.kubernetes.io/name: {{ include "meshc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: audit
{{- end -}}

{{- define "meshc.auditLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "meshc.auditSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: meshc
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
