# syntax=docker/dockerfile:1
# The `sp` server image. CPU by default; CUDA with `--build-arg VARIANT=cuda`:
#
#   docker build -t story-portal/sp .
#   docker build -t story-portal/sp:cuda --build-arg VARIANT=cuda .
#   docker build -t story-portal/sp:otel --build-arg EXTRA_FEATURES=otel .   # OTLP trace export
#
# Not built on the project's machines (no Docker engine runs there); checked by hadolint in
# the test suite (sp-server/tests/deploy.rs). See docs/deployment.md.

ARG VARIANT=cpu
ARG RUST_VERSION=1.95.0
ARG CUDA_VERSION=12.6.3

# ---- build stages: one per variant, selected below ----------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build-cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang libclang-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
ENV SP_FEATURES=""

FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu24.04 AS build-cuda
ARG RUST_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl cmake clang libclang-dev pkg-config build-essential \
 && rm -rf /var/lib/apt/lists/*
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --profile minimal --default-toolchain "${RUST_VERSION}"
ENV PATH=/root/.cargo/bin:$PATH \
    SP_FEATURES="cuda"

# hadolint ignore=DL3006
FROM build-${VARIANT} AS build
# More cargo features of sp-server, space-separated (`otel`: OpenTelemetry trace export).
ARG EXTRA_FEATURES=""
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sp-server --bin sp --features "$SP_FEATURES $EXTRA_FEATURES" \
 && cp target/release/sp /usr/local/bin/sp

# ---- runtime stages ------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime-cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libgomp1 \
 && rm -rf /var/lib/apt/lists/*

FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu24.04 AS runtime-cuda
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libgomp1 \
 && rm -rf /var/lib/apt/lists/*

# hadolint ignore=DL3006
FROM runtime-${VARIANT}
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/sp sp
COPY --from=build /usr/local/bin/sp /usr/local/bin/sp
USER 10001
ENV SP_DATA_DIR=/var/lib/sp \
    SP_SERVER__LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/sp"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sp"]
CMD ["serve"]
