# The pipeline binary in a small Debian image: libjpeg-turbo, OpenBLAS and
# oneDNN (all loaded with dlopen at start-up; without them the binary falls
# back to the standard library decoder, gonum and its own convolutions), a
# non-root user, the version as a label.   docker build --build-arg VERSION=$(git describe --tags --always) -t ghcr.io/swavgo/pipeline:TAG .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath \
      -ldflags "-s -w -X github.com/swavgo/swav/pipeline.Version=${VERSION}" \
      -o /out/pipeline ./cmd/pipeline

FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="swavgo pipeline" \
      org.opencontainers.image.description="SwAV pre-training, feature extraction and evaluation as a staged data pipeline" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/swavgo/swav"
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libturbojpeg0 libdnnl2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/pipeline /usr/local/bin/pipeline
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pipeline"]
CMD ["version"]
