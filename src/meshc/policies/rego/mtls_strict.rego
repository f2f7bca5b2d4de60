# METADATA
# title: mtls-strict
# description: >-
#   Nothing weakens the mutual TLS the spec asks for: no permissive or
#   disabled peer authentication, no plaintext destination rules, and no
#   unauthenticated default inbound policy.
package meshc.mtls_strict

import data.meshc.lib.mesh

# METADATA
# custom:
#   cel: {literal: true}
policy_id := "mtls-strict"

# METADATA
# custom:
#   cel: {include: $findings}
violations contains mesh.violation(policy_id, finding) if {
	some finding in findings
}

# Each mesh has its own objects that weaken mTLS (meshc.providers.<name>).
# METADATA
# custom:
#   cel: {include: $provider.mtls_findings}
findings contains finding if {
	some finding in data.meshc.providers[mesh.provider].mtls_findings
}
