"""Fetch the delta-spark jars (matching the installed delta-spark package) into a folder.

    python -m utils.lake.delta_jars /opt/delta-jars

Used at Docker build time, where the builder can reach Maven Central, so that notebooks
also get Spark's native Delta connector (`spark.read.format("delta")`, DESCRIBE
HISTORY). The pipeline never needs these jars (DESIGN §5). Each jar is checked against
the SHA-1 published next to it. Exit status 1, with one line, when they cannot be
fetched; the image works without them.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import urllib.request
from importlib.metadata import version
from pathlib import Path

logger = logging.getLogger(__name__)
MAVEN = "https://repo1.maven.org/maven2/io/delta"
SCALA = "2.13"


def artifacts(delta_version: str) -> list[tuple[str, str]]:
    """(file name, URL) of the jars the native connector needs."""
    spark_jar = f"delta-spark_{SCALA}-{delta_version}.jar"
    storage_jar = f"delta-storage-{delta_version}.jar"
    return [
        (spark_jar, f"{MAVEN}/delta-spark_{SCALA}/{delta_version}/{spark_jar}"),
        (storage_jar, f"{MAVEN}/delta-storage/{delta_version}/{storage_jar}"),
    ]


def fetch(dest: Path, delta_version: str, timeout: float = 60) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name, url in artifacts(delta_version):
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
        with urllib.request.urlopen(url + ".sha1", timeout=timeout) as response:
            expected = response.read().decode().split()[0].strip()
        if hashlib.sha1(body).hexdigest() != expected:  # noqa: S324 - Maven publishes SHA-1
            raise ValueError(f"{name}: checksum mismatch")
        (dest / name).write_bytes(body)
        out.append(dest / name)
        logger.info("fetched %s (%d bytes)", name, len(body))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        logger.error("usage: python -m utils.lake.delta_jars DEST_DIR")
        return 2
    try:
        fetch(Path(args[0]), version("delta-spark"))
    except (OSError, ValueError) as exc:
        logger.error("delta-spark jars not fetched (%s); the native Delta connector stays off", exc)
        return 1
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure(fmt="%(levelname)s %(message)s")
    sys.exit(main())
