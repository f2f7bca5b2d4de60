{{/*
TLS material for tls.mode=helm, computed once per render and shared by the
Secret, the webhook configurations and the pod's checksum annotation.

On upgrade the existing Secret is reused until it is within
tls.helm.renewBeforeDays of the expiry recorded in its meshc.io/not-after
annotation. A renewal trusts both the new CA and the previous one in
caBundle, so pods still serving the old certificate (until the kubelet
refreshes the mounted Secret) keep being trusted; the next renewal drops it.

`lookup` returns nothing under `helm template` (and so under Argo CD): every
render then generates a new pair. Use tls.mode=cert-manager there.
*/}}
{{- define "meshc.tls.material" -}}
{{- if not (hasKey .Values "__meshcTLS") -}}
{{- $name := include "meshc.tlsSecretName" . -}}
{{- $now := now | unixEpoch | int64 -}}
{{- $renewBefore := mul .Values.tls.helm.renewBeforeDays 86400 | int64 -}}
{{- $material := dict -}}
{{- $previousCA := "" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if $existing -}}
{{- $data := $existing.data | default dict -}}
{{- $previousCA = get $data "ca.crt" | b64dec -}}
{{- $notAfter := (($existing.metadata.annotations | default dict) | dig "meshc.io/not-after" "0") | int64 -}}
{{- if and (get $data "tls.crt") (get $data "tls.key") $previousCA (gt $notAfter (add $now $renewBefore)) -}}
{{- $material = dict "ca" $previousCA "crt" (get $data "tls.crt" | b64dec) "key" (get $data "tls.key" | b64dec) "notAfter" $notAfter "caBundle" (get $data "ca-bundle.crt" | b64dec | default $previousCA) -}}
{{- end -}}
{{- end -}}
{{- if not $material -}}
{{- $svc := include "meshc.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $days := int .Values.tls.helm.validityDays -}}
{{- $ca := genCA (printf "%s-ca" $svc) $days -}}
{{- $dns := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) -}}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc $ns) nil $dns $days $ca -}}
{{- $bundle := $ca.Cert -}}
{{- if $previousCA -}}
{{- $bundle = printf "%s\n%s" (trimSuffix "\n" $ca.Cert) $previousCA -}}
{{- end -}}
{{- $material = dict "ca" $ca.Cert "crt" $cert.Cert "key" $cert.Key "notAfter" (add $now (mul $days 86400)) "caBundle" $bundle -}}
{{- end -}}
{{- $_ := set .Values "__meshcTLS" $material -}}
{{- end -}}
{{- toJson (get .Values "__meshcTLS") -}}
{{- end -}}

{{/* The caBundle of every webhook entry (base64), or nothing when cert-manager injects it. */}}
{{- define "meshc.caBundle" -}}
{{- if .Values.webhook.url -}}
{{- .Values.webhook.caBundle -}}
{{- else if eq .Values.tls.mode "helm" -}}
{{- (include "meshc.tls.material" . | fromJson).caBundle | b64enc -}}
{{- end -}}
{{- end -}}
