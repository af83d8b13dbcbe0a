"""Top floor: the `shoal` command (cli), `shoal up` and `shoal down` (local), the lab and
chaos. May import every other package; nothing imports it."""
