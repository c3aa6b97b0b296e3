# switchyard: local models behind one OpenAI-compatible API, as one container.
#
#   docker build -t switchyard .
#   docker run --gpus all -p 8080:8080 -v /srv/models:/models:ro -v switchyard-data:/var/lib/switchyard -e SWITCHYARD_API_KEY=sk-... switchyard
#
# Build arguments:
#   BASE_IMAGE   the runtime stage's base. The default is CUDA 12 with cuDNN 9, which is what
#                onnxruntime-node's CUDA provider (cuda12) needs; node-llama-cpp's prebuilt CUDA
#                binaries load on it too (its primary CUDA binary links CUDA 13, and it falls back
#                to the CUDA 12 build in @node-llama-cpp/linux-x64-cuda-ext when that fails).
#                A CPU-only image: --build-arg BASE_IMAGE=debian:bookworm-slim.
#   NODE_IMAGE   where Node.js comes from: the build stages run on it, and the runtime stage copies
#                its /usr/local/bin/node (the official images' layout), so no other download is needed.
#   ONNXRUNTIME_NODE_INSTALL
#                cuda12 (default) fetches ONNX Runtime's CUDA provider libraries (from NuGet, at build
#                time); skip builds a CPU-only ONNX Runtime, for builders that cannot reach NuGet.
#   LLAMA_SERVER_CMAKE_ARGS
#                extra cmake flags for llama-server, e.g. -DCMAKE_CUDA_ARCHITECTURES=90 (only the GPUs
#                you run on: the default list compiles for eight architectures and takes the longest),
#                or -DGGML_CPU_ALL_VARIANTS=ON on a CPU-only base (the default CPU build needs AVX2).
# The image is linux/amd64: the CUDA binaries of both engines exist for x64 only.
ARG BASE_IMAGE=nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS node

# ---------------------------------------------------------------------------------------------
# All dependencies, installed once (development ones included: the compiler needs them).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency's install script runs implicitly, whatever npm's version (npm 10
# runs them all; npm 11 runs them with a notice unless allowScripts or strict-allow-scripts says
# otherwise). The one script the image needs, ONNX Runtime's, runs explicitly below. Skipped on
# purpose: node-llama-cpp's postinstall, which only test-loads (or, failing that, compiles) a
# binary — the prebuilt ones come as optional dependencies and are chosen at start-up — and
# protobufjs's, a version notice.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --no-audit --no-fund
# better-sqlite3 (the database of stored responses) is a native addon, built here for this stage's
# Node: its install script takes a prebuilt binary where GitHub answers and compiles otherwise
# (hence the compiler, in this build-only stage). The smoke test puts the addon its npm ci built
# for the very Node it puts in the image into deploy/docker/prebuilt/ (see llama-server below);
# that one is used when present. (healthcheck.mjs is named only so that the COPY always has a source.)
COPY deploy/docker/healthcheck.mjs deploy/docker/prebuil[t] /tmp/prebuilt/
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    set -eu; \
    addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node; \
    if [ -f /tmp/prebuilt/better_sqlite3.node ]; then \
      mkdir -p "$(dirname "$addon")" && cp /tmp/prebuilt/better_sqlite3.node "$addon"; \
    else \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ && \
      rm -rf /var/lib/apt/lists/* && npm rebuild better-sqlite3 --no-audit --no-fund; \
    fi; \
    node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
ARG ONNXRUNTIME_NODE_INSTALL=cuda12
# Plain installs never run this script (package.json's allowScripts denies it, keeping them on
# the npm registry alone); the image runs it on purpose. The check makes a build that silently
# lost the CUDA provider fail here instead of falling back to CPU in production.
RUN if [ "$ONNXRUNTIME_NODE_INSTALL" != "skip" ]; then \
      ONNXRUNTIME_NODE_INSTALL="$ONNXRUNTIME_NODE_INSTALL" node node_modules/onnxruntime-node/script/install.js && \
      test -f "node_modules/onnxruntime-node/bin/napi-v6/linux/$(node -p process.arch)/libonnxruntime_providers_cuda.so"; \
    fi

# ---------------------------------------------------------------------------------------------
# The compiled gateway: src/ only (tests and benchmarks stay out of the image).
FROM deps AS build
COPY tsconfig.json ./
COPY src ./src
RUN printf '{"extends":"./tsconfig.json","include":["src/**/*.ts","src/**/*.cts"],"compilerOptions":{"declaration":false}}' > tsconfig.image.json && \
    npx tsc -p tsconfig.image.json

# ---------------------------------------------------------------------------------------------
# llama.cpp's llama-server (the llama-server backend's engine), compiled from the source that
# node-llama-cpp ships: its git bundle, the same llama.cpp commit as the in-process engine. It is
# built on the runtime's own base, so that it links the C++ runtime and the CUDA libraries of the
# image it runs in. On a CUDA base (the nvidia/cuda images set CUDA_VERSION) the compiler and
# headers of that same CUDA release come from NVIDIA's package repository, which the base already
# lists, pinned to the base's library versions; on a CPU-only base it is a CPU build.
# GGML_BACKEND_DL: the CUDA and CPU code are libraries that llama-server loads at start, and one
# that cannot load (no GPU, no driver) is skipped, so the CUDA image runs it on a CPU-only host too.
# GGML_NATIVE=OFF: the build machine's CPU says nothing about the host's. The CUDA build carries
# every x86 CPU variant (chosen at start); the CPU build compiles one, for AVX2 (a dozen variants
# would multiply the CPU code's compile time on a small builder). Only the llama-server target is
# built, on every core; ccache keeps the objects in a build cache that later builds reuse.
FROM ${BASE_IMAGE} AS llama-server
RUN set -eu; \
    packages="ca-certificates cmake g++ make git ccache"; \
    if [ -n "${CUDA_VERSION:-}" ]; then \
      release=$(echo "$CUDA_VERSION" | cut -d. -f1,2 | tr . -); \
      packages="$packages cuda-minimal-build-$release${NV_CUDA_LIB_VERSION:+=$NV_CUDA_LIB_VERSION} cuda-cccl-$release cuda-driver-dev-$release libcublas-dev-$release${NV_LIBCUBLAS_VERSION:+=$NV_LIBCUBLAS_VERSION}"; \
    fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*
COPY --from=deps /app/node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/llama.cpp.bundle
# A binary already built for this very machine may be put in deploy/docker/prebuilt/ (the smoke
# test does so with the one npm ci compiled, rather than compile it a second time); a real build
# has none there and compiles. (healthcheck.mjs is named only so that the COPY always has a source.)
COPY deploy/docker/healthcheck.mjs deploy/docker/prebuil[t] /tmp/prebuilt/
ARG LLAMA_SERVER_CMAKE_ARGS=""
# The web UI is left out (the gateway never exposes llama-server), and so is OpenSSL (it reads
# local model files only). RPATH $ORIGIN: the binary finds its libraries beside it.
RUN --mount=type=cache,target=/root/.cache/ccache,sharing=locked \
    set -eu; \
    if [ -x /tmp/prebuilt/llama-server ]; then \
      mkdir -p /opt/llama-server; cp /tmp/prebuilt/llama-server /opt/llama-server/; \
      rm -rf /tmp/prebuilt /tmp/llama.cpp.bundle; /opt/llama-server/llama-server --version; exit 0; \
    fi; \
    rm -rf /tmp/prebuilt; \
    git -c advice.detachedHead=false clone --quiet /tmp/llama.cpp.bundle /tmp/llama.cpp; \
    cd /tmp/llama.cpp; \
    if [ -n "${CUDA_VERSION:-}" ]; then engine="-DGGML_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DGGML_CPU_ALL_VARIANTS=ON"; else engine=""; fi; \
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
      -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN' \
      $engine $LLAMA_SERVER_CMAKE_ARGS >/tmp/llama-server-cmake.log || { tail -40 /tmp/llama-server-cmake.log; exit 1; }; \
    CCACHE_DIR=/root/.cache/ccache cmake --build build --target llama-server -j"$(nproc)"; \
    mkdir -p /opt/llama-server; \
    cp -P build/bin/llama-server build/bin/*.so* /opt/llama-server/; \
    cd /; rm -rf /tmp/llama.cpp /tmp/llama.cpp.bundle; \
    /opt/llama-server/llama-server --version

# ---------------------------------------------------------------------------------------------
# Production dependencies only. onnxruntime-node ships every platform's binaries (about 220 MB
# for macOS and Windows); only this platform's are kept.
FROM deps AS production-deps
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund && \
    ort=node_modules/onnxruntime-node/bin/napi-v6 && \
    find "$ort" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + && \
    find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$(node -p process.arch)" -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
# tini is PID 1: it hands SIGTERM to node (which finishes the requests in flight within
# [api] shutdown_grace, then exits 0) and reaps any orphaned child process. libgomp1: the OpenMP
# runtime llama-server's CPU code uses.
RUN apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini libgomp1 && \
    rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 10001 switchyard && \
    useradd --system --uid 10001 --gid 10001 --home-dir /home/switchyard --create-home --shell /usr/sbin/nologin switchyard && \
    mkdir -p /etc/switchyard /models /var/lib/switchyard && \
    chown 10001:10001 /var/lib/switchyard && \
    ln -s /opt/llama-server/llama-server /usr/local/bin/llama-server
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# Owned by root and read-only to the service user: the process cannot change its own code.
COPY package.json ./
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# llama-server and its libraries (llama.cpp, ggml and its CPU/CUDA backends), on PATH too.
COPY --from=llama-server /opt/llama-server /opt/llama-server
COPY deploy/docker/healthcheck.mjs ./healthcheck.mjs
COPY deploy/docker/config.toml /etc/switchyard/config.toml

ENV NODE_ENV=production \
    SWITCHYARD_CONFIG=/etc/switchyard/config.toml \
    SWITCHYARD_ADDRESS=0.0.0.0:8080 \
    SWITCHYARD_LLAMA_SERVER=/opt/llama-server/llama-server \
    SWITCHYARD_DATA_DIR=/var/lib/switchyard
# SWITCHYARD_ADDRESS overrides [api] address so that the port always matches EXPOSE and the
# health check; listening on 0.0.0.0 still needs require_auth with a key (or allow_unauthenticated).
# /var/lib/switchyard (SWITCHYARD_DATA_DIR): the one folder the service user may write, where
# stored responses are kept unless [api.responses] path says otherwise: a volume, so that they
# outlive the container.
VOLUME ["/models", "/var/lib/switchyard"]
EXPOSE 8080
USER 10001:10001
# /health is 503 while startup models load: the start period covers a slow load of a large model.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10m --retries=3 CMD ["node", "/app/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "-s", "--", "node", "/app/dist/src/cli.cjs"]
CMD ["serve"]

LABEL org.opencontainers.image.title="switchyard" \
      org.opencontainers.image.description="Local models (GGUF via llama.cpp, ONNX via ONNX Runtime) behind one OpenAI-compatible API" \
      org.opencontainers.image.licenses="MIT"
