"""Logging for the command-line entry points (`python -m utils.<tool>`)."""

from __future__ import annotations

import logging

#: Libraries whose INFO/DEBUG lines drown ours (py4j chatter, font matching).
NOISY_LOGGERS = ("py4j", "py4j.clientserver", "py4j.java_gateway", "matplotlib", "PIL", "fontTools")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_noisy_loggers() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: int = logging.INFO, fmt: str = FORMAT) -> None:
    """Log to stderr at `level`, with the noisy libraries held at WARNING."""
    logging.basicConfig(level=level, format=fmt)
    quiet_noisy_loggers()
