"""Setting a notebook up: is the datamart built, and building it when it is not (exactly
like ``python main.py``)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.ml.feature_store import DEFAULT_DOMAIN

logger = logging.getLogger(__name__)

GOLD_TABLES = ("feature_store", "label_store")


def has_gold(datamart: str | Path, domain: str = DEFAULT_DOMAIN) -> bool:
    """True when gold/feature_store and gold/label_store of `domain` both exist in `datamart`."""
    gold = Datamart(Path(datamart), domain)
    return all(delta_io.table_exists(gold.table("gold", name)) for name in GOLD_TABLES)


def ensure_datamart(datamart: str | Path, data_root: str | Path, *, master: str = "local[2]",
                    domain: str = DEFAULT_DOMAIN) -> bool:
    """Build `datamart` from the files in `data_root` when it has no gold tables yet.

    Runs the pipeline exactly like ``python main.py --data-root ... --datamart ...``
    (:func:`utils.cli.main`, all layers). Returns True when it built, False when the
    gold tables were already there; raises RuntimeError when the build failed.
    """
    datamart, data_root = Path(datamart), Path(data_root)
    if has_gold(datamart, domain):
        logger.info("datamart %s has its gold tables; not rebuilding", datamart)
        return False
    from utils import cli

    logger.info("datamart %s has no gold tables yet: building it from %s", datamart, data_root)
    with warnings.catch_warnings():  # rich's progress bar asks for ipywidgets in Jupyter; text is fine
        warnings.filterwarnings("ignore", message='install "ipywidgets"')
        code = cli.main(["--domain", domain, "--data-root", str(data_root), "--datamart", str(datamart),
                         "--master", master])
    if code != 0:
        raise RuntimeError(
            f"building {datamart} from {data_root} failed (exit status {code}); "
            f"the run log is under {datamart / '_meta' / 'logs'}"
        )
    return True
