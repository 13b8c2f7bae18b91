"""``python -m utils.present.walkthrough``: make the walkthrough video (see :mod:`utils.present.walkthrough`)."""

import sys

from utils.lake import logs

from .cli import main

logs.configure()
sys.exit(main())
