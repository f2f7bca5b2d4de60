# METADATA
# title: All meshc admission policies
# description: The one entry point every engine queries.
package meshc.main

import data.meshc.allowed_namespaces
import data.meshc.injection_required
import data.meshc.lib.exceptions
import data.meshc.lib.k8s
import data.meshc.managed_objects
import data.meshc.mtls_strict

# Each marked with the exceptions that match it (spec.admission.exceptions).
# The native policies do not apply exceptions: meshc.policies.native.render
# refuses enforcement native for a spec with exceptions, and under both
# leaves the policies they name to the webhook.
# METADATA
# custom:
#   cel:
#     when: "!$k8s.deleting"
#     include: $found
violations contains exceptions.marked(v) if {
	some v in found
	not k8s.deleting
}

# Each policy is evaluated only when selected, so a filtered-out policy costs
# nothing but this test.
# METADATA
# custom:
#   cel: {include: $injection_required.violations, when: "$selected($injection_required.policy_id)"}
found contains v if {
	selected(injection_required.policy_id)
	some v in injection_required.violations
}

# METADATA
# custom:
#   cel: {include: $mtls_strict.violations, when: "$selected($mtls_strict.policy_id)"}
found contains v if {
	selected(mtls_strict.policy_id)
	some v in mtls_strict.violations
}

# METADATA
# custom:
#   cel: {include: $allowed_namespaces.violations, when: "$selected($allowed_namespaces.policy_id)"}
found contains v if {
	selected(allowed_namespaces.policy_id)
	some v in allowed_namespaces.violations
}

# METADATA
# custom:
#   cel: {include: $managed_objects.violations, when: "$selected($managed_objects.policy_id)"}
found contains v if {
	selected(managed_objects.policy_id)
	some v in managed_objects.violations
}

# Every policy, unless the data names the only ones to evaluate
# (`data.meshc.config.only`, from --policy: meshc.policies.data.only_policies).
# METADATA
# custom:
#   cel: {macro: "!has($mesh.config.only) || id in $mesh.config.only", params: [id]}
selected(_) if not data.meshc.config.only

selected(id) if id in data.meshc.config.only
