"""The node proxy: HAProxy run by the agent and kept equal to the cluster's routing table —
the config rendered from the table (`config`), server-set diffs applied through the runtime
API without a reload (`servers`, `cli`), a validated seamless reload for everything else
(`process`) with a watchdog that stops it when the agent dies (`watchdog`), and the driver
that decides which (`driver`)."""
