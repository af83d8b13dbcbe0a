import sys

from shoalctl.cli.main import main

sys.exit(main())
