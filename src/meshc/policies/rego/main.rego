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
violations contains exceptions.marked(v) if {
	some v in found
	not k8s.deleting
}

found contains v if some v in injection_required.violations

found contains v if some v in mtls_strict.violations

found contains v if some v in allowed_namespaces.violations

found contains v if some v in managed_objects.violations
