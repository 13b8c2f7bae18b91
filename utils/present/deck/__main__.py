"""``python -m utils.present.deck``: render the deck (see :mod:`utils.present.deck`)."""

import sys

from utils.lake import logs

from .cli import main

logs.configure()
sys.exit(main())
