"""Top floor: the `shoal` command (cli), `shoal up` (local), the lab and chaos. May import
every other package; nothing imports it."""
