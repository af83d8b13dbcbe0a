"""Top floor: the `shoal` command (cli), `shoal up` and `shoal down` (local), the lab and
chaos. May import every other package; nothing imports it."""

import shoal  # noqa: F401  (first: it sets how gRPC treats fork before grpc loads)
