# syntax=docker/dockerfile:1
#
# The bookstore service image: a static Go binary on distroless, run as nonroot (65532).
#
# Build:  docker build -t bookstore .        (or: podman build --format docker -t bookstore .)
# The build stage runs on the builder's own platform and cross-compiles for the target,
# so `--platform linux/amd64` on an arm laptop does not emulate the Go compiler.
#
# Only ./service is built: the module's one go.mod also lists the Pulumi SDKs, and
# `go build` of one package fetches just the modules that package imports (plus go.mod
# files for the graph: 35 modules, 11 MB), where `go mod download` would fetch every SDK.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# Empty means the toolchain's default proxy. The e2e tests pass a file:// proxy made of the
# host's module cache and build with --network=none.
ARG GOPROXY=
WORKDIR /src
COPY go.mod go.sum ./
COPY service/ ./service/
# The cache mounts keep downloaded modules and compiled packages between builds; they are
# not part of any layer. -tags noembedded leaves the in-memory go-mysql-server engine out
# (about 45 MB): the container always has a real database.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -tags noembedded -trimpath -buildvcs=false -ldflags "-s -w" -o /out/app/bookstore ./service \
 && mkdir -p /out/app/shared

FROM gcr.io/distroless/static-debian12:nonroot
# The binary is root-owned and read-only to the service; only /app/shared is writable.
COPY --from=build /out/app/bookstore /app/bookstore
COPY --from=build --chown=65532:65532 /out/app/shared /app/shared
USER 65532:65532
WORKDIR /app
ENV PORT=5000 SHARED_DIR=/app/shared
EXPOSE 5000
VOLUME /app/shared
# No shell or curl in the image: the binary GETs its own /healthz and exits 0 or 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/app/bookstore", "healthcheck"]
ENTRYPOINT ["/app/bookstore"]
