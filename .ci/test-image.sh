#!/usr/bin/env bash
# make test-image: runs the image of `make image` (bin/image/pipeline.oci.tar)
# with podman, or with umoci + bwrap where podman cannot run, and checks:
#   1. `pipeline version` inside lists oneDNN, OpenBLAS and libjpeg-turbo;
#   2. a short extraction inside the container, against a versitygw on the
#      host, gives the same rows (`features digest`) as the host binary;
#   3. the image pushes to, and pulls back from, a loopback docker-registry.
# Podman here gets its own storage under a temporary folder and the two
# settings this VM needs (docs/container-image.md): default_ulimits and
# runtime = "runc". Every daemon it starts is stopped on exit.
set -euo pipefail
IMAGE=${IMAGE:-ghcr.io/swavgo/pipeline:latest}
IMAGE_OUT=${IMAGE_OUT:-bin/image}
ARCHIVE=$IMAGE_OUT/pipeline.oci.tar
[ -f "$ARCHIVE" ] || { echo "test-image: $ARCHIVE missing: run make image" >&2; exit 1; }
[ -x bin/pipeline ] || { echo "test-image: bin/pipeline missing: run make image (it builds it)" >&2; exit 1; }
T=$(mktemp -d /var/tmp/swav-test-image-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	[ -n "${PODMAN_OK:-}" ] && "${PODMAN[@]}" system reset -f >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 150); do curl -s --noproxy "*" -o /dev/null "$1" && return 0; sleep 0.2; done; echo "test-image: $1 never answered" >&2; tail -5 "$T"/*.log >&2; return 1; }

# --- how to run the image ---------------------------------------------------
cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$T/containers.conf
PODMAN=(podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none)
RUNNER=""
mkdir -p "$T/work" && chown 65532:65532 "$T/work"
if [ "${TEST_IMAGE_RUNNER:-}" != bwrap ] && command -v podman >/dev/null &&
	"${PODMAN[@]}" load -q -i "$ARCHIVE" >/dev/null 2>"$T/podman.err" &&
	"${PODMAN[@]}" run --rm --network none "$IMAGE" version >/dev/null 2>>"$T/podman.err"; then
	RUNNER=podman PODMAN_OK=1
else
	[ -s "$T/podman.err" ] && { echo "test-image: podman cannot run here, using umoci + bwrap:"; tail -3 "$T/podman.err"; }
	skopeo copy -q "oci-archive:$ARCHIVE" "oci:$T/layout:img"
	umoci unpack --image "$T/layout:img" "$T/bundle" >/dev/null
	RUNNER=bwrap
fi
# in_image ARGS...: the image's entrypoint with ARGS, as its user, the host's
# loopback reachable, the AWS_* variables passed on.
in_image() {
	local envs=()
	for v in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL; do envs+=(--env "$v=${!v:-}"); done
	if [ "$RUNNER" = podman ]; then
		"${PODMAN[@]}" run --rm --network host -v "$T/work:/work" "${envs[@]}" "$IMAGE" "$@"
	else
		local setenv=()
		for v in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL; do setenv+=(--setenv "$v" "${!v:-}"); done
		bwrap --bind "$T/bundle/rootfs" / --dev /dev --proc /proc --tmpfs /tmp --bind "$T/work" /work \
			--unshare-user --unshare-pid --unshare-ipc --uid 65532 --gid 65532 --chdir /work --clearenv \
			--setenv PATH /usr/local/bin:/usr/bin:/bin --setenv HOME /work "${setenv[@]}" \
			/usr/local/bin/pipeline "$@"
	fi
}
echo "test-image: running $IMAGE with $RUNNER"

# --- 1. the engines ----------------------------------------------------------
version=$(in_image version)
echo "$version" | sed 's/^/  /'
for want in "oneDNN" "OpenBLAS" "libjpeg-turbo"; do
	grep -q "$want" <<<"$version" || { echo "test-image: pipeline version inside the image does not list $want" >&2; exit 1; }
done

# --- 2. the same rows as the host binary -------------------------------------
port=$(free_port)
export AWS_ACCESS_KEY_ID=swavimage$RANDOM$RANDOM AWS_SECRET_ACCESS_KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$port
VERSITYGW=${VERSITYGW:-$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")}
mkdir -p "$T/s3" "$T/meta"
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
	"$VERSITYGW" --port "127.0.0.1:$port" --region us-east-1 posix --sidecar "$T/meta" "$T/s3" >"$T/versitygw.log" 2>&1 &
pids+=($!)
wait_http "$AWS_ENDPOINT_URL/"
bin/pipeline shards make --from fashion-mnist --split test --out s3://fmnist/shards --shard-size 500 --create-bucket >/dev/null
SETS=(--set 'data.shards.0=s3://fmnist/shards/fmnist-test-{000000..000001}.tar' --set extract.checkpoint=init
	--set extract.arch=small --set train.model.arch=small --set extract.batch_size=64 --set progress=log)
bin/pipeline run configs/extract.yaml "${SETS[@]}" --set out="$T/host-run" --set extract.output=s3://fmnist/host >"$T/host.log" 2>&1 ||
	{ tail -20 "$T/host.log" >&2; exit 1; }
cp configs/extract.yaml "$T/work/extract.yaml"
in_image run /work/extract.yaml "${SETS[@]}" --set out=/work/run --set extract.output=s3://fmnist/image >"$T/image.log" 2>&1 ||
	{ tail -20 "$T/image.log" >&2; exit 1; }
host=$(bin/pipeline features digest s3://fmnist/host)
image=$(bin/pipeline features digest s3://fmnist/image)
echo "  host:  $host"
echo "  image: $image"
grep -qE '^rows [1-9][0-9]* sha256 [0-9a-f]{64}$' <<<"$host" || { echo "test-image: features digest printed no digest (bin/pipeline older than the image?)" >&2; exit 1; }
[ "$host" = "$image" ] || { echo "test-image: the image's rows differ from the host binary's" >&2; exit 1; }
for log in "$T/host.log" "$T/image.log"; do
	grep -qE '^wrote 2 shard files; 0 already written by another attempt$' "$log" ||
		{ echo "test-image: no summary line in $log" >&2; tail -5 "$log" >&2; exit 1; }
done

# --- 3. push to a loopback registry -------------------------------------------
rport=$(free_port)
cat >"$T/registry.yml" <<CONF
version: 0.1
storage: {filesystem: {rootdirectory: $T/registry}}
http: {addr: 127.0.0.1:$rport}
CONF
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$rport/v2/"
ref=127.0.0.1:$rport/swavgo/pipeline:test
skopeo copy -q --dest-tls-verify=false "oci-archive:$ARCHIVE" "docker://$ref"
skopeo inspect --tls-verify=false "docker://$ref" | grep -q '"Entrypoint"\|"Architecture"' ||
	{ echo "test-image: the pushed image does not inspect" >&2; exit 1; }
skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$T/pulled:img"
echo "test-image: pushed and pulled back $ref"
echo "test-image: OK ($RUNNER)"
