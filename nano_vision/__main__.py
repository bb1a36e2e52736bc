"""``python -m nano_vision`` runs the ``nano-vision`` command."""

import sys

from nano_vision.tools.cli import main

sys.exit(main())
