"""Cluster security: the CA and certificates (ca), sealing at rest (sealing), the CA's
persistence (pki), join tokens (tokens), gRPC channels and server credentials (channels),
authorization (authz), and a node's join (joining). See docs/security.md."""
