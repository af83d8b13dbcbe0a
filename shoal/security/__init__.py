"""Cluster security formats and mechanisms every daemon shares: the CA and certificates (ca),
sealing at rest (sealing), the CA's persistence (pki), join tokens (tokens), gRPC channels and
server credentials (channels), and a node's join (joining). Authorization is the control
plane's (controlplane/authz.py). See docs/security.md."""
