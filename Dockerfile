# polyarb: one image for every service; the command picks which one runs.
#
#   docker build -t polyarb:0.1.0 .
#   docker run --rm polyarb:0.1.0 ingest_svc --help      # python -m ingest_svc --help
#
# Kubernetes sets `command: ["python", "-m", "<service>"]` itself (deploy/k8s/) and probes the
# gRPC health service natively, so there is no HEALTHCHECK here. Linted by hadolint in `make test`
# (tests/deploy/test_dockerfile.py).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# -- build: a virtualenv holding polyarb and exactly the pins of pyproject.toml (no dev extras) ------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/polyarb

WORKDIR /src
# only what the distribution needs (see .dockerignore); the generated stubs in polyarb/v1 are committed
COPY pyproject.toml ./
COPY polyarb/ polyarb/
COPY ingest_svc/ ingest_svc/
COPY engine_svc/ engine_svc/
COPY executor_svc/ executor_svc/
COPY paper_venue/ paper_venue/
# a plain (not editable) install: the runtime stage gets site-packages, not a link back to /src
RUN /opt/polyarb/bin/pip install --no-cache-dir . \
    && /opt/polyarb/bin/python -c "import ingest_svc, engine_svc, executor_svc, paper_venue, polyarb.v1"

# -- runtime: the same base, the virtualenv, a numeric non-root user --------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="polyarb" \
      org.opencontainers.image.description="Polymarket arbitrage pipeline: ingest_svc, engine_svc, executor_svc, paper_venue"

# a fixed numeric UID/GID: Kubernetes' runAsNonRoot can only verify a numeric USER
RUN groupadd --system --gid 10001 polyarb \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin polyarb \
    && mkdir -p /var/lib/polyarb \
    && chown 10001:10001 /var/lib/polyarb

COPY --from=build /opt/polyarb /opt/polyarb

ENV PATH=/opt/polyarb/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# the executor's default journal lands here; Kubernetes mounts the journal volume here (read-only root)
WORKDIR /var/lib/polyarb
USER 10001:10001

# gRPC, metrics: ingest 50051/9101, engine 50052/9102, executor 50053/9103, paper_venue 50054/9104 (+8765 ws, 8766 http)
EXPOSE 50051 50052 50053 50054 9101 9102 9103 9104 8765 8766

ENTRYPOINT ["python", "-m"]
CMD ["engine_svc"]
