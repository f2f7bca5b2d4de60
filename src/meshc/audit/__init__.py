"""``meshc audit``: the admission policies over what is already in a cluster."""
