"""``python -m xlcalc``: the command line."""

import sys

from xlcalc.cli import main

sys.exit(main())
