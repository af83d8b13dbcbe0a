"""The ECS-compatible HTTP API (AWS JSON 1.1 + Signature V4) in front of the Operator's
handlers; see server.py."""
