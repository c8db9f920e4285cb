"""``python -m simulator`` is ``saas-sim``."""

import sys

from simulator.cli import main

sys.exit(main())
