"""Bottom floor: the shared core that the control plane, the agent and the autoscaler all
import. The API types (v1, generated), the task-definition model (taskdef), ARNs, the etcd
key schema (keys), the store and its etcd and in-memory implementations (store), leader
election (election) and the replica lease it rides on (replica_lease), PKI and join-token
formats (security), node-provider config checks and scaling-policy terms, and the small
helpers (logs, validation, retry, durations, waiting).

Imports nothing of Shoal's outside itself. See docs/architecture.md, "Packages and floors"."""

import os

# Every Shoal process holds gRPC channels while it starts subprocesses (etcd and agents for
# `shoal up`, agents for the local node provider, docker and vagrant commands). With gRPC's
# fork support on, the child's at-fork handler can restart gRPC's poller after Python closed
# its descriptors and abort before exec (grpc/grpc#43055). We never use gRPC in a forked
# child, so it is off unless the environment says otherwise; set here, before grpc loads,
# because every package imports this one first (see each package's __init__).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
