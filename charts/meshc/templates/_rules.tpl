{{/*
The requests the API server sends to the webhook, and nothing else: every
other request never reaches it. files/rules.yaml is generated from meshc's
provider profiles (`python -m meshc.webhook.rules`), so it names exactly the
kinds the policies in the image judge.
*/}}
{{- define "meshc.rules" -}}
{{- .Files.Get "files/rules.yaml" -}}
{{- end -}}
