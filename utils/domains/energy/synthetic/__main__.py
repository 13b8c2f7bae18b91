"""``python -m utils.domains.energy.synthetic``: see the package docstring."""

from utils.lake import logs

from .write import main

logs.configure()
raise SystemExit(main())
