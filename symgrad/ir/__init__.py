"""The graph IR: immutable nodes of registered ops, their printed forms, and a verifier."""
