# syntax=docker/dockerfile:1
# The provisioner controller: `provisioner run` as a non-root user under tini.
#
#   docker build -t provisioner .
#   docker run -v "$PWD/desired-state:/policy:ro" -v provisioner-state:/var/lib/provisioner \
#       -p 9108:9108 --env-file provisioner.env provisioner
#
# Policy: /policy (PROVISIONER_POLICY), or PROVISIONER_POLICY_REPO to fetch it with git.
# State, the audit journal among it: /var/lib/provisioner (PROVISIONER_STATE_DIR), a volume.
# HTTP: /metrics, /healthz and /readyz on 9108. Signals to PID 1 reach the controller.
# docs/deployment.md has the rest. tests/deploy/test_image.py builds a virtualenv as the build
# stage does and runs the ENTRYPOINT, CMD, ENV and HEALTHCHECK below: keep them in exec form.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the project and its dependencies, in a virtualenv the final stage copies whole ---
FROM ${PYTHON_IMAGE} AS build
ENV VIRTUAL_ENV=/opt/provisioner \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# What the wheel is built from: pyproject.toml names README.md as its readme.
COPY pyproject.toml README.md ./
COPY controller ./controller
COPY reconcilers ./reconcilers
COPY emulators ./emulators
# A regular (not editable) install: the final image holds no source tree and no build tools.
RUN python -m venv "$VIRTUAL_ENV" && "$VIRTUAL_ENV/bin/pip" install .

# --- final: the same Python, the virtualenv, and what the controller runs besides Python ---
FROM ${PYTHON_IMAGE}
# git and openssh-client: `run --policy-repo` fetches the policy with the git CLI (https, ssh).
# tini: PID 1 that passes every signal on to the controller and reaps git's and ssh's children.
# Not pinned: bookworm's security updates replace these versions, and a pin would then fail.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git openssh-client tini \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 provisioner \
    && useradd --system --uid 10001 --gid provisioner --create-home \
        --home-dir /home/provisioner --shell /usr/sbin/nologin provisioner \
    && mkdir -p /policy /var/lib/provisioner \
    && chown provisioner:provisioner /var/lib/provisioner
# A virtualenv is not relocatable: it keeps the path the build stage made it at.
COPY --from=build /opt/provisioner /opt/provisioner
ENV VIRTUAL_ENV=/opt/provisioner \
    PATH=/opt/provisioner/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROVISIONER_POLICY=/policy \
    PROVISIONER_STATE_DIR=/var/lib/provisioner \
    PROVISIONER_HOST=0.0.0.0 \
    PROVISIONER_PORT=9108
USER 10001:10001
EXPOSE 9108
# The loop is alive (docker's view; Kubernetes uses its own probes on the same endpoint).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "controller.healthcheck"]
ENTRYPOINT ["tini", "--", "provisioner"]
CMD ["run"]
