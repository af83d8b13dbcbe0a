import sys

from autoscaler.main import main

sys.exit(main())
