"""The project root, resolved once from this file (never from the current directory)."""

from pathlib import Path

#: The checkout: main.py, conf/, data/, utils/ live here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"
DATA_DIR = PROJECT_ROOT / "data"
