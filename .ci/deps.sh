#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine. Idempotent:
# it checks before it installs, so a second run takes a second.
set -euo pipefail
APT_PACKAGES=(libturbojpeg0-dev libopenblas-dev libdnnl2 pkg-config dataset-fashion-mnist python3-torch python3-torchvision python3-pil python3-yaml prometheus-pushgateway)
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	echo "deps: installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
GOBIN="$(go env GOPATH)/bin"
VERSITYGW_VERSION=v1.8.0
# `versitygw --version` prints no version when built with go install: read the module version.
if ! [ -x "$GOBIN/versitygw" ] || ! go version -m "$GOBIN/versitygw" 2>/dev/null | grep -q "versitygw[[:space:]]*$VERSITYGW_VERSION"; then
	echo "deps: installing versitygw $VERSITYGW_VERSION"
	go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi
go mod download
