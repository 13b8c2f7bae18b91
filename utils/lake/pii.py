"""The secret key for personal data: keyed hashes (HMAC-SHA256) instead of clear text.

Silver and gold never hold a Name or an SSN. Where analytics needs to link or count by
a personal value, silver keeps an HMAC-SHA256 of it under a secret key, so equal
values stay equal but cannot be reversed or recomputed without the key.

Where the key comes from, in order:
  1. the environment variable LAKEHOUSE_PII_KEY (any text; use 32+ random bytes, e.g.
     `python -c "import secrets; print(secrets.token_hex(32))"`), read once by the CLI;
  2. otherwise `<datamart>/_meta/secrets/pii.key`, created on first use with a random
     key and permissions 0600, so hashes stay stable across runs of one datamart.
Changing the key changes every hash, so silver is rebuilt on the next run.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

logger = logging.getLogger(__name__)

ENV_VAR = "LAKEHOUSE_PII_KEY"


def load_key(datamart: Path, env_value: str | None) -> bytes:
    """The key from `env_value` (the environment variable), else the datamart's key file."""
    if env_value:
        return env_value.encode("utf-8")
    path = Path(datamart) / "_meta" / "secrets" / "pii.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    logger.warning("no %s set: created a random personal-data key in %s (keep it secret; "
                   "back it up to keep hashes stable)", ENV_VAR, path)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def key_id(key: bytes) -> str:
    """A short, non-reversible identifier of the key, for fingerprints and logs."""
    return hmac.new(key, b"lakehouse key id", hashlib.sha256).hexdigest()[:12]
