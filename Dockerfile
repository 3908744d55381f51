# The pipeline binary in a small Debian image: libjpeg-turbo, OpenBLAS and
# oneDNN (all loaded with dlopen at start-up; without them the binary falls
# back to the standard library decoder, gonum and its own convolutions), a
# non-root user, the version as a label.   docker build --build-arg VERSION=$(git describe --tags --always) -t ghcr.io/swavgo/pipeline:TAG .
# Without a Docker daemon, `make image` builds the same image from Debian
# packages (debootstrap) around the binary of `make build`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath \
      -ldflags "-s -w -X github.com/swavgo/swav/internal/buildinfo.Version=${VERSION}" \
      -o /out/pipeline ./cmd/pipeline

FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="swavgo pipeline" \
      org.opencontainers.image.description="SwAV pre-training, feature extraction and evaluation as a staged data pipeline" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/swavgo/swav"
# The same runtime packages as `make image` (one list, both recipes).
COPY deploy/image/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && grep -v '^#' /tmp/runtime-packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /out/pipeline /usr/local/bin/pipeline
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pipeline"]
CMD ["version"]
