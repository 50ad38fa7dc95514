# syntax=docker/dockerfile:1
# shunter's container image: `docker build -t <registry>/shunter:<version> .`
#
# Stage 1 builds a wheel of shunter and of every dependency; stage 2 builds kubectl (for the
# kustomize-build step: `kubectl kustomize`) and helm (helm-template) from the Go module proxy
# with tools/build-binaries.sh, the pinned versions the tests use; stage 3 installs the wheels
# offline on a slim Python with git, adds those two binaries and runs `shunter run` as uid 65532.
# The Helm chart (charts/shunter) mounts writable emptyDirs at /var/lib/shunter/work and /tmp
# and makes the root filesystem read-only.

ARG PYTHON_IMAGE=python:3.11-slim
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# pyproject.toml names README.md as the package's readme: both are needed to build.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

FROM ${GO_IMAGE} AS tools
WORKDIR /src
COPY tools/build-binaries.sh ./tools/
COPY tools/go ./tools/go
# The script prints the folder holding the binaries on its last stdout line.
RUN SHUNTER_CACHE=/cache bash tools/build-binaries.sh kubectl helm > /tmp/bin-dir \
 && dir=$(tail -n 1 /tmp/bin-dir) \
 && install -D -m 0755 "$dir/kubectl" /out/kubectl \
 && install -D -m 0755 "$dir/helm" /out/helm

FROM ${PYTHON_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 shunter \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/shunter --create-home \
      --shell /usr/sbin/nologin shunter \
 && install -d -o 65532 -g 65532 /var/lib/shunter/work
# Install from the build stage's wheels without copying them into a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels shunter \
 && shunter --version
# kustomize-build and helm-template find them on PATH (or through SHUNTER_KUBECTL_BINARY,
# SHUNTER_KUSTOMIZE_BINARY, SHUNTER_HELM_BINARY); helm runs with private, empty homes.
COPY --from=tools /out/kubectl /out/helm /usr/local/bin/
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/shunter \
    SHUNTER_WORK_DIR=/var/lib/shunter/work
USER 65532:65532
WORKDIR /home/shunter
EXPOSE 8080
ENTRYPOINT ["shunter", "run"]
CMD ["--probes", "0.0.0.0:8080"]
