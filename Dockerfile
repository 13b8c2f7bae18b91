# Lakehouse image: Python 3.11, a headless Java 17 for Spark, the project's packages.
#   docker compose up                   JupyterLab (URL with token in the log)
#   docker compose run --rm pipeline    python main.py on ./data into ./datamart
# Build without internet access to Maven Central: --build-arg DELTA_JARS=skip
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Java for Spark; procps gives Spark's scripts `ps`; git lets runs record the code version.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps git \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sfn "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/default-java

ENV JAVA_HOME=/usr/lib/jvm/default-java

RUN useradd --create-home --uid 1000 lakehouse
WORKDIR /home/lakehouse/app

# Dependencies first, in their own layer, so code changes do not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The delta-spark jars for notebooks (the pipeline itself never needs them).
ARG DELTA_JARS=fetch
COPY utils/__init__.py /tmp/fetch/utils/
COPY utils/lake/__init__.py utils/lake/delta_jars.py /tmp/fetch/utils/lake/
RUN if [ "$DELTA_JARS" = "fetch" ]; then \
        PYTHONPATH=/tmp/fetch python -m utils.lake.delta_jars /opt/delta-jars \
        || echo "continuing without the native Delta connector"; \
    fi \
    && rm -rf /tmp/fetch
ENV DELTA_JARS_DIR=/opt/delta-jars

COPY --chown=1000:1000 . .
USER 1000:1000

ENTRYPOINT ["python", "main.py"]
CMD ["--datamart", "datamart"]
