# syntax=docker/dockerfile:1
# shunter's container image: `docker build -t <registry>/shunter:<version> .`
#
# Stage 1 builds a wheel of shunter and of every dependency; stage 2 installs them offline on a
# slim Python with git (the only program shunter runs) and runs `shunter run` as uid 65532.
# The Helm chart (charts/shunter) mounts writable emptyDirs at /var/lib/shunter/work and /tmp
# and makes the root filesystem read-only.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# pyproject.toml names README.md as the package's readme: both are needed to build.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

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
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/shunter \
    SHUNTER_WORK_DIR=/var/lib/shunter/work
USER 65532:65532
WORKDIR /home/shunter
EXPOSE 8080
ENTRYPOINT ["shunter", "run"]
CMD ["--probes", "0.0.0.0:8080"]
