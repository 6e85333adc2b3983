# syntax=docker/dockerfile:1
# Tideway controller image. Build: docker build -t tideway:0.1.0 .
# The production stage is exercised without Docker by test/integration/production-start.test.ts.

# --- build: compile the TypeScript ---------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- production dependencies only ---------------------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM node:20-bookworm-slim
# git + ssh: the controller shells out to git; tini: PID 1 that forwards SIGTERM to node, so the
# controller drains in-flight work, and reaps the git/ssh children.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git openssh-client tini ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --gid 10001 tideway \
  && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin tideway \
  && mkdir -p /var/cache/tideway \
  && chown 10001:10001 /var/cache/tideway

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./

# Read-only root filesystem: the only writes go to /var/cache/tideway (git clone, ssh's
# known_hosts) and /tmp (HOME: git's config lookups); mount both as volumes in Kubernetes.
# The V8 flags keep the heap small and V8 to one helper thread, and MALLOC_ARENA_MAX stops
# glibc from keeping a malloc arena per thread (docs/performance.md has the measurements).
ENV NODE_ENV=production \
    HOME=/tmp \
    TIDEWAY_GIT_CACHE_DIR=/var/cache/tideway \
    TIDEWAY_LISTEN=:8080 \
    NODE_OPTIONS="--max-semi-space-size=1 --max-old-space-size=80 --v8-pool-size=1" \
    MALLOC_ARENA_MAX=2
VOLUME ["/var/cache/tideway", "/tmp"]
USER 10001:10001
EXPOSE 8080

# No curl in the slim image: node itself asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/main.js"]
CMD ["run"]
