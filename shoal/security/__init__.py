"""Cluster security: the CA and certificates (ca), sealing at rest (sealing), the CA's
persistence (pki), join tokens (tokens), gRPC channels and server credentials (channels),
and a node's join (joining). Who may call what is the control plane's business
(controlplane/authz.py). See docs/security.md."""
