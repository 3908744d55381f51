# SwAV pipeline. On a fresh Debian machine: `make quickstart` runs the main job,
# `make test` runs the tests; each installs what it needs first (`make deps`).
SHELL := /bin/bash
GO ?= go
BIN := bin/pipeline
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)
# Every cgo build has the oneDNN engine (internal/dnnl vendors its headers and
# opens libdnnl.so.2 at run time): `go build ./cmd/pipeline` is `make build`.

# The image `make image` builds and the Kubernetes manifests run.
IMAGE ?= ghcr.io/swavgo/pipeline:latest
export IMAGE

.PHONY: deps deps-slurm deps-image image test-image build test test-race test-slurm soak fuzz golden bench bench-ingest bench-augment bench-train bench-extract bench-weights quickstart gpu-check clean

deps: ## install apt packages, versitygw and Go modules (idempotent)
	bash .ci/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/pipeline

test: deps ## the test suite (what CI runs)
	$(GO) test -count=1 -timeout 20m ./...

test-race: deps
	$(GO) test -count=1 -race -timeout 30m ./pipeline/... ./configs/... ./ingest/... ./stages/...

deps-slurm: ## slurm-wlm and munge for make test-slurm (not needed by make test)
	SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; dpkg -s slurm-wlm munge >/dev/null 2>&1 || $$SUDO apt-get install -y -qq slurm-wlm munge

test-slurm: deps deps-slurm ## a real single-node Slurm: array extraction with a requeued task, then features verify (about three minutes)
	bash .ci/test-slurm.sh

deps-image: ## debootstrap, umoci, skopeo, podman, bubblewrap, runc and docker-registry for make image / test-image (not needed by make test)
	SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; dpkg -s debootstrap umoci skopeo podman bubblewrap runc docker-registry >/dev/null 2>&1 || \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap umoci skopeo podman bubblewrap runc docker-registry

image: deps deps-image build ## the runtime image without a Docker daemon (debootstrap + umoci), exported to bin/image/pipeline.{oci,docker}.tar as $(IMAGE); needs root (about a minute)
	bash .ci/image.sh

test-image: deps-image ## run the image of make image: engines inside, an extraction against a host versitygw equal to the host binary's, a push to a loopback registry (about a minute)
	bash .ci/test-image.sh

soak: deps ## one epoch of Fashion-MNIST from S3 through 5% injected faults, killed twice and resumed, against a clean run (about 7 minutes)
	SWAV_SOAK=1 $(GO) test -count=1 -timeout 30m -run '^TestSoak$$' -v ./stages/train

fuzz: ## every go test -fuzz target for FUZZTIME each (default 1m); crashers land in testdata/fuzz
	bash .ci/fuzz.sh

golden: build ## check the SwAV maths against the reference's golden values
	$(BIN) golden ../shared/swav/golden.json

quickstart: deps build ## the main job on its embedded default
	$(BIN) run

bench: bench-ingest bench-augment bench-train bench-extract bench-weights

bench-ingest: deps build
	$(BIN) bench ingest

bench-augment: deps build
	$(BIN) bench augment

bench-train: deps build
	$(BIN) bench train

bench-extract: deps build
	$(BIN) bench extract

bench-weights: deps build ## ResNet-50 load time and peak memory (zip, legacy, safetensors) against torch.load
	$(BIN) bench weights

gpu-check: ## on the GPU machine: build, conformance test and SwAV step benchmark against PyTorch
	bash .ci/gpu-check.sh

clean:
	rm -rf bin
