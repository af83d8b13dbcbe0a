import sys

from controlplane.server import main

sys.exit(main())
