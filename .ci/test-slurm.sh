#!/usr/bin/env bash
# make test-slurm: a real single-node Slurm (Debian's slurm-wlm and munge)
# started here, on localhost, from a generated slurm.conf; then the array
# extraction of deploy/slurm/extract-array.sbatch over the Fashion-MNIST
# test split in 10 shards as 4 array tasks, one of them requeued while it
# runs; `pipeline features verify` must find every shard exactly once.
# Every daemon started here is stopped on exit. About three minutes (the
# requeued task waits out Slurm's requeue delay).
set -euo pipefail
cd "$(dirname "$0")/.."
for b in slurmctld slurmd munged sbatch scontrol squeue; do
	command -v "$b" >/dev/null || { echo "test-slurm: $b not found (make deps-slurm installs slurm-wlm and munge)"; exit 1; }
done
T=$(mktemp -d /tmp/swav-slurm.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$T/state" "$T/spool" "$T/munge" "$T/out"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1 count=1024 status=none
chmod 700 "$T/munge"; chmod 400 "$T/munge/munge.key"
munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/munge.sock" \
	--pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge/seed"
pids+=("$(cat "$T/munge/munged.pid")")

cat > "$T/slurm.conf" <<CONF
ClusterName=swavtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=localhost CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 & pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 & pids+=($!)
for i in $(seq 100); do
	sinfo -h -o %T 2>/dev/null | grep -qE '^idle' && break
	sleep 0.2
done
sinfo -h -o %T | grep -qE '^idle' || { echo "test-slurm: the node never became idle"; cat "$T"/slurm*.log; exit 1; }

make -s build
bin/pipeline shards make --from fashion-mnist --split test --out "$T/shards" --shard-size 1000 >/dev/null
SHARDS="$T/shards/fmnist-test-{000000..000009}.tar"
job=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --mem=500M \
	--export=ALL,PIPELINE="$PWD/bin/pipeline",OUT="$T/out" --chdir="$PWD" --output="$T/task-%a.log" \
	deploy/slurm/extract-array.sbatch configs/extract.yaml \
	--set "data.shards=[\"$SHARDS\"]" --set extract.feature=raw --set extract.checkpoint= --set extract.batch_size=64)
echo "test-slurm: array job $job submitted"
# Requeue task 2 once it runs (as a preemption would).
for i in $(seq 300); do
	state=$(squeue -h -j "${job}_2" -o %T 2>/dev/null || true)
	[ "$state" = RUNNING ] && break
	[ -z "$state" ] && break
	sleep 0.1
done
if [ "${state:-}" = RUNNING ]; then
	scontrol requeue "${job}_2" && echo "test-slurm: task 2 requeued while running"
fi
for i in $(seq 600); do
	[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
	sleep 0.5
done
[ -z "$(squeue -h -j "$job")" ] || { echo "test-slurm: tasks still queued after 5 minutes"; squeue; exit 1; }
bin/pipeline features verify "$T"/out/task-{0,1,2,3} --data "$SHARDS"
echo "test-slurm: OK"
