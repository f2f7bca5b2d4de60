# syntax=docker/dockerfile:1
#
# The meshc admission webhook: `meshc webhook serve`, non-root, on a slim
# Python base with no compilers.
#
# Both stages use the same base image, so the virtual environment built in the
# first runs unchanged in the second. The tag names an exact Python release;
# release builds also pin the digest the tag resolved to:
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# .dockerignore lets only the package sources in.
COPY . .
# Build meshc's wheel, then install it with its dependencies (prebuilt wheels
# only: nothing is compiled) into a virtual environment without pip. The
# cluster extra (the Kubernetes client) is for `meshc audit`, which the
# chart's optional CronJob runs from this image.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/meshc \
 && /opt/meshc/bin/pip install --only-binary=:all: "$(ls /wheels/meshc-*.whl)[cluster]" \
 && /opt/meshc/bin/pip uninstall --yes pip setuptools \
 && /opt/meshc/bin/meshc --version

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="meshc" \
      org.opencontainers.image.description="meshc admission webhook for Istio and Linkerd" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/meshc /opt/meshc
# The root filesystem is read-only in the pod: no bytecode is written at run
# time (pip compiled it at install).
ENV PATH=/opt/meshc/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Neither 1337 (Istio's proxy) nor 2102 (Linkerd's proxy): the meshes exempt
# those UIDs from traffic capture.
USER 65532:65532
EXPOSE 8443
# `meshc webhook serve` picks its production HTTP server itself; the chart
# passes the arguments, and these defaults match the chart's mounts.
ENTRYPOINT ["/opt/meshc/bin/meshc", "webhook", "serve"]
CMD ["--spec", "/etc/meshc/mesh.yaml", "--cert", "/etc/meshc/tls/tls.crt", "--key", "/etc/meshc/tls/tls.key"]
