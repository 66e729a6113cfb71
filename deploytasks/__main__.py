"""``python -m deploytasks`` runs the debugging CLI."""

import sys

from deploytasks.cli import main

sys.exit(main())
