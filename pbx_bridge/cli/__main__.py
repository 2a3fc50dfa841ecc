"""``python -m pbx_bridge.cli``: the same as the ``pbx-bridge`` console script."""

import sys

from pbx_bridge.cli import main

sys.exit(main())
