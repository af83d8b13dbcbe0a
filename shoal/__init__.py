"""Bottom floor: the shared core that the control plane, the agent and the autoscaler all
import. The API types (v1, generated), the task-definition model (taskdef), ARNs, the etcd
key schema (keys), the store and its etcd and in-memory implementations (store), leader
election (election) and the replica lease it rides on (replica_lease), PKI and join-token
formats (security), node-provider config checks and scaling-policy terms, and the small
helpers (logs, validation, retry, durations, waiting).

Imports nothing of Shoal's outside itself. See docs/architecture.md, "Packages and floors"."""
