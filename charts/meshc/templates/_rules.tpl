{{/*
The kinds the policies judge, and nothing else: every other request never
reaches the webhook. Keep this list in step with the policies in the image.
*/}}
{{- define "meshc.rules.judged" -}}
# Workloads: sidecar injection, proxy opt-outs, the proxy's UIDs.
- apiGroups: [""]
  apiVersions: ["v1"]
  resources: ["pods", "replicationcontrollers"]
  scope: Namespaced
- apiGroups: ["apps"]
  apiVersions: ["v1"]
  resources: ["deployments", "statefulsets", "daemonsets", "replicasets"]
  scope: Namespaced
- apiGroups: ["batch"]
  apiVersions: ["v1"]
  resources: ["jobs", "cronjobs"]
  scope: Namespaced
# Namespaces: injection labels and the allowed namespaces.
- apiGroups: [""]
  apiVersions: ["v1"]
  resources: ["namespaces"]
  scope: Cluster
# Mesh configuration: routing, mTLS and authorization of both meshes.
- apiGroups: ["networking.istio.io", "security.istio.io", "policy.linkerd.io", "split.smi-spec.io"]
  apiVersions: ["*"]
  resources: ["*"]
  scope: Namespaced
- apiGroups: ["linkerd.io"]
  apiVersions: ["*"]
  resources: ["serviceprofiles"]
  scope: Namespaced
- apiGroups: ["gateway.networking.k8s.io"]
  apiVersions: ["*"]
  resources: ["httproutes", "grpcroutes", "tcproutes", "tlsroutes"]
  scope: Namespaced
{{- end -}}
