"""``python3 -m tests.support.lab up|down|status`` (see lab/up, lab/down)."""

import sys

from tests.support.lab.cli import main

sys.exit(main())
