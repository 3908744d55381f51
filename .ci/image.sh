#!/usr/bin/env bash
# make image: the runtime image without a Docker daemon. A Debian bookworm
# minbase from Debian's packages (debootstrap) with the runtime packages of
# deploy/image/runtime-packages.txt (the Dockerfile installs the same list),
# the binary of `make build` (bin/pipeline), a non-root user (65532) and the
# Dockerfile's entrypoint, assembled as an OCI image with umoci and exported
# with skopeo as $IMAGE_OUT/pipeline.oci.tar (oci-archive) and
# $IMAGE_OUT/pipeline.docker.tar (docker-archive), both tagged $IMAGE.
# Needs root (debootstrap) and the apt mirror; about a minute.
set -euo pipefail
IMAGE=${IMAGE:-ghcr.io/swavgo/pipeline:latest}
IMAGE_OUT=${IMAGE_OUT:-bin/image}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BIN=${BIN:-bin/pipeline}
[ "$(id -u)" = 0 ] || { echo "make image: debootstrap needs root (run it as root or with sudo)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "make image: $BIN missing: run make build" >&2; exit 1; }
for t in debootstrap umoci skopeo; do
	command -v "$t" >/dev/null || { echo "make image: $t missing: run make deps-image" >&2; exit 1; }
done
packages=$(grep -v '^#' deploy/image/runtime-packages.txt | paste -sd, -)
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
work=$(mktemp -d /var/tmp/swav-image-XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "image: debootstrap minbase bookworm + $packages"
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log" >&2; exit 1; }
# A runtime image: no package caches, lists or logs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
install -m 0755 "$BIN" "$rootfs/usr/local/bin/pipeline"
echo 'nonroot:x:65532:65532:swav pipeline:/work:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
echo 'nonroot:x:65532:' >>"$rootfs/etc/group"
install -d -o 65532 -g 65532 "$rootfs/work"

echo "image: OCI layout with umoci"
layout=$work/oci
umoci init --layout "$layout"
umoci new --image "$layout:build"
umoci unpack --image "$layout:build" "$work/bundle" >/dev/null
rm -rf "$work/bundle/rootfs"
mv "$rootfs" "$work/bundle/rootfs"
umoci repack --image "$layout:build" "$work/bundle"
umoci config --image "$layout:build" \
	--config.user 65532:65532 --config.workingdir /work \
	--config.entrypoint /usr/local/bin/pipeline --config.cmd version \
	--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--config.label org.opencontainers.image.title="swavgo pipeline" \
	--config.label org.opencontainers.image.version="$version" \
	--config.label org.opencontainers.image.source=https://github.com/swavgo/swav \
	--architecture amd64 --os linux
umoci gc --layout "$layout"

mkdir -p "$IMAGE_OUT"
rm -f "$IMAGE_OUT/pipeline.oci.tar" "$IMAGE_OUT/pipeline.docker.tar"
skopeo copy -q "oci:$layout:build" "oci-archive:$IMAGE_OUT/pipeline.oci.tar:$IMAGE"
skopeo copy -q "oci:$layout:build" "docker-archive:$IMAGE_OUT/pipeline.docker.tar:$IMAGE"
echo "image: $IMAGE ($version)"
ls -l "$IMAGE_OUT"/pipeline.*.tar
