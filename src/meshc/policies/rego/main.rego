# METADATA
# title: All meshc admission policies
# description: The one entry point every engine queries.
package meshc.main

import data.meshc.allowed_namespaces
import data.meshc.injection_required
import data.meshc.lib.k8s
import data.meshc.managed_objects
import data.meshc.mtls_strict

# METADATA
# custom:
#   cel:
#     when: "!$k8s.deleting"
#     include: $found
violations contains v if {
	some v in found
	not k8s.deleting
}

# METADATA
# custom:
#   cel: {include: $injection_required.violations}
found contains v if some v in injection_required.violations

# METADATA
# custom:
#   cel: {include: $mtls_strict.violations}
found contains v if some v in mtls_strict.violations

# METADATA
# custom:
#   cel: {include: $allowed_namespaces.violations}
found contains v if some v in allowed_namespaces.violations

# METADATA
# custom:
#   cel: {include: $managed_objects.violations}
found contains v if some v in managed_objects.violations
