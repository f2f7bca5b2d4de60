"""The policies as the API server runs them itself: ValidatingAdmissionPolicy and
MutatingAdmissionPolicy objects generated from the Rego (docs/native.md).

``definitions`` reads each Rego rule's CEL form from its ``# METADATA`` block,
``expand`` turns CEL forms with references into plain CEL, ``literals``
writes policy data as CEL, ``versions`` knows what each Kubernetes release
serves, ``objects`` builds the admission objects for a spec and ``audit``
checks a cluster's copies of them.
"""
