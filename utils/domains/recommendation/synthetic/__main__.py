"""``python -m utils.domains.recommendation.synthetic``: see the package docstring."""

from utils.lake import logs

from .write import main

logs.configure()
raise SystemExit(main())
