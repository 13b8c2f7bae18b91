# Lakehouse image: Python 3.11, a headless Java 17 for Spark, the project's packages.
#   docker compose run --rm pipeline          # builds the datamart from ./data
# JupyterLab and the delta-spark jars for notebooks come with the notebooks issue.
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

COPY --chown=lakehouse:lakehouse . .
USER 1000:1000

ENTRYPOINT ["python", "main.py"]
CMD ["--data-root", "data", "--datamart", "datamart"]
