{{/*
What the chart knows about the meshes: files/facts.yaml, generated from
meshc's provider profiles (`python -m meshc.webhook.chart_facts`), so it
names exactly the kinds the policies in the image judge and every mesh's
opt-out markers. Use as: (include "meshc.facts" . | fromYaml).
*/}}
{{- define "meshc.facts" -}}
{{- .Files.Get "files/facts.yaml" -}}
{{- end -}}
