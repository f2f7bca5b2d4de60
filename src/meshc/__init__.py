"""meshc: a GitOps policy compiler and admission webhook for Kubernetes service meshes."""
