import logging
import os
import sys

from agent.main import main

code = main()
# Exit now: an operation thread still in a `docker stop` (up to the container's stop
# timeout) would otherwise hold the interpreter's exit, which joins every worker thread.
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
