# syntax=docker/dockerfile:1.7
#
# sslmem container images, two targets:
#   docker build --target cpu -t sslmem:cpu .   Debian slim + Node 20, ONNX Runtime's CPU provider
#   docker build --target gpu -t sslmem:gpu .   CUDA 12 + cuDNN 9 runtime, Node 20, ONNX Runtime's
#                                               CUDA provider and @tensorflow/tfjs-node-gpu
# Both images run `node bin/sslmem.js <command>` (the compiled dist/, no TypeScript loader) under tini as the unprivileged user 10001:
#   docker run -p 8080:8080 -v sslmem-data:/data sslmem:cpu    -> sslmem serve (API on 8080)
#   docker run --gpus all -e SSLMEM_QUEUE=redis://… sslmem:gpu worker   -> sslmem worker (health on 9090)
# A plain `docker build .` builds the cpu target (the last stage).
# Docker cannot run where this repository is tested, so test/deploy/dockerfile.test.ts parses this
# file and checks these properties; keep the two final stages parallel when editing.

ARG NODE_IMAGE=node:20-bookworm-slim
# cuDNN 9 + CUDA 12.x is what the onnxruntime-node 1.30 CUDA provider is built against (CUDA
# minor-version compatibility covers any 12.x runtime). "runtime", not "devel": nothing compiles CUDA.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
# package.json#allowScripts is npm 11's install-script policy; the npm that ships with Node 20 (10.x)
# ignores it and would run every dependency's install script.
ARG NPM_VERSION=11.19.1

# ---------------------------------------------------------------------------------------------------
# Node 20 itself: the cpu target's base and the place the gpu stages copy the node binary from.
FROM ${NODE_IMAGE} AS node

# ---------------------------------------------------------------------------------------------------
# cpu-builder: production dependencies for the cpu target. Compilers live only here
# (better-sqlite3 falls back to node-gyp when no prebuilt binary matches).
FROM node AS cpu-builder
ARG NPM_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g npm@${NPM_VERSION}
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY native ./native
# The CPU provider ships inside onnxruntime-node; its install script only fetches the CUDA provider.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
# npm ci runs only the install scripts package.json#allowScripts approves (better-sqlite3, sharp,
# esbuild), then the project's `prepare`, which compiles src/ into dist/ with the dev dependencies
# (TypeScript) and the host augmentation addon into native/build/ (node-gyp, src/engine/host-augment.ts);
# `npm prune --omit=dev` then drops the dev dependencies, so the image runs dist/ with production
# dependencies alone and no TypeScript loader. Then prune what onnxruntime-node ships for other
# platforms (macOS, Windows, the other Linux arch).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --foreground-scripts \
 && npm prune --omit=dev \
 && arch="$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin/napi-v6/linux -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------------
# gpu-builder: production dependencies for the gpu target, built on the gpu target's own base so
# native addons link against the same glibc (Ubuntu 22.04) they will run on.
FROM ${CUDA_IMAGE} AS gpu-builder
ARG NPM_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && npm install -g npm@${NPM_VERSION}
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY native ./native
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
# As in cpu-builder: `npm ci` builds dist/ (prepare), `npm prune --omit=dev` keeps what runs.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --foreground-scripts \
 && npm prune --omit=dev
# package.json#allowScripts denies these two install scripts so that `npm ci` stays offline and
# CPU-only everywhere else. Here they must run: onnxruntime-node's downloads the CUDA provider
# libraries (Microsoft.ML.OnnxRuntime.Gpu.Linux from NuGet; ONNXRUNTIME_NODE_INSTALL=cuda12 is the
# current name of the switch, ONNXRUNTIME_NODE_INSTALL_CUDA=v12 the deprecated one), and
# tfjs-node-gpu's downloads libtensorflow-gpu and its binding. npm 11 rejects --allow-scripts in a
# project install and `npm approve-scripts` would rewrite package.json, so the policy is bypassed
# for exactly these two named packages with `npm rebuild <names> --dangerously-allow-all-scripts`.
# The checks fail the build when a download silently produced nothing. The gpu target is x64 only:
# onnxruntime-node's CUDA provider exists for linux/x64 alone.
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 \
    npm rebuild onnxruntime-node @tensorflow/tfjs-node-gpu --dangerously-allow-all-scripts --foreground-scripts \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so \
 && ls node_modules/@tensorflow/tfjs-node-gpu/deps/lib/libtensorflow.so* \
 && ls node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/tfjs_binding.node \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin/napi-v6/linux -mindepth 1 -maxdepth 1 ! -name x64 -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------------
# The two runtime targets below are kept line-for-line parallel. No compilers and no npm in them;
# the application files belong to root (read-only to the service user, uid 10001); the service
# writes only to /data (and /tmp).

# gpu: the runtime on the CUDA base. The base image sets NVIDIA_VISIBLE_DEVICES and
# NVIDIA_DRIVER_CAPABILITIES for the NVIDIA container runtime; the driver comes from the host.
FROM ${CUDA_IMAGE} AS gpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sslmem \
 && useradd --system --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin sslmem \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=gpu-builder /app/node_modules ./node_modules
COPY --from=gpu-builder /app/dist ./dist
COPY --from=gpu-builder /app/native/build/Release/sslmem_augment.node ./native/build/Release/sslmem_augment.node
COPY package.json package-lock.json ./
COPY bin ./bin
ENV NODE_ENV=production \
    SSLMEM_HOST=0.0.0.0 \
    SSLMEM_PORT=8080 \
    SSLMEM_WORKER_HEALTH_PORT=9090 \
    SSLMEM_DATA_DIR=/data
VOLUME /data
EXPOSE 8080 9090
USER 10001:10001
# `serve` answers /livez on SSLMEM_PORT, `worker` on SSLMEM_WORKER_HEALTH_PORT: the first port that
# accepts the connection decides. No curl in the image; Node 20 has fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["node", "-e", "(async()=>{for(const p of [process.env.SSLMEM_PORT||8080,process.env.SSLMEM_WORKER_HEALTH_PORT||9090]){try{const r=await fetch('http://127.0.0.1:'+p+'/livez',{signal:AbortSignal.timeout(4000)});process.exit(r.ok?0:1)}catch{}}process.exit(1)})()"]
# tini is PID 1: it forwards SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/sslmem.js"]
CMD ["serve"]

# cpu: the runtime on Debian slim. Last in the file, so a plain `docker build .` builds it.
FROM node AS cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
 && groupadd --system --gid 10001 sslmem \
 && useradd --system --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin sslmem \
 && mkdir -p /data \
 && chown 10001:10001 /data
WORKDIR /app
COPY --from=cpu-builder /app/node_modules ./node_modules
COPY --from=cpu-builder /app/dist ./dist
COPY --from=cpu-builder /app/native/build/Release/sslmem_augment.node ./native/build/Release/sslmem_augment.node
COPY package.json package-lock.json ./
COPY bin ./bin
ENV NODE_ENV=production \
    SSLMEM_HOST=0.0.0.0 \
    SSLMEM_PORT=8080 \
    SSLMEM_WORKER_HEALTH_PORT=9090 \
    SSLMEM_DATA_DIR=/data
VOLUME /data
EXPOSE 8080 9090
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["node", "-e", "(async()=>{for(const p of [process.env.SSLMEM_PORT||8080,process.env.SSLMEM_WORKER_HEALTH_PORT||9090]){try{const r=await fetch('http://127.0.0.1:'+p+'/livez',{signal:AbortSignal.timeout(4000)});process.exit(r.ok?0:1)}catch{}}process.exit(1)})()"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/sslmem.js"]
CMD ["serve"]
