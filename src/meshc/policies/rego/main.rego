# METADATA
# title: All meshc admission policies
# description: The one entry point both engines query.
package meshc.main

import data.meshc.allowed_namespaces
import data.meshc.injection_required
import data.meshc.mtls_strict

violations contains v if some v in injection_required.violations

violations contains v if some v in mtls_strict.violations

violations contains v if some v in allowed_namespaces.violations
