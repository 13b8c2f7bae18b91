"""``python -m utils.quality.report``: profile the run when needed and write its report
(see :mod:`utils.quality.report`)."""

import sys

from utils.lake import logs

from .build import main

logs.configure()
sys.exit(main())
