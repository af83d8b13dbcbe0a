"""Machine-readable reasons the control plane attaches to a refusal, in the
"shoal-reason" trailer, for clients that act on the kind of refusal rather than parse
its message."""

REASON_TRAILER = "shoal-reason"
# The node was deregistered: its id (and certificate) may not register or connect again.
DEREGISTERED = "deregistered"
