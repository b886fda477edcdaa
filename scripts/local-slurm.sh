#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for dl2's `slurm` tests and for trying
# `launcher=slurm` without a cluster.
#
#   scripts/local-slurm.sh up      # install slurm-wlm + munge if missing (root), start, wait idle
#   scripts/local-slurm.sh env     # the exports that point SLURM's commands at this cluster
#   scripts/local-slurm.sh down    # stop everything and remove the state folder
#
# Everything lives in $DL2_SLURM_STATE (default /tmp/dl2-slurm): slurm.conf, the munge key and
# socket, spool folders, logs, pid files. Nothing is written to /etc. One partition, `debug`,
# with the machine's CPUs and most of its memory; no accounting database, so `sacct` is a small
# stand-in in $DL2_SLURM_STATE/bin that answers from `scontrol show job` (submitit polls it).
set -euo pipefail

STATE=${DL2_SLURM_STATE:-/tmp/dl2-slurm}
CONF=$STATE/slurm.conf
HOST=$(hostname -s)

say() { echo "local-slurm: $*" >&2; }

exports() {
  echo "export SLURM_CONF=$CONF"
  echo "export PATH=$STATE/bin:\$PATH"
}

install_if_missing() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
      && command -v munged >/dev/null; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    say "slurm-wlm and munge are missing; installing them needs root (apt-get)"; exit 1
  fi
  say "installing slurm-wlm and munge (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    slurm-wlm munge >/dev/null
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 8 / 10 ))
  cat > "$CONF" <<CONF
# written by scripts/local-slurm.sh: one node ($HOST), one partition
ClusterName=dl2local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also holds a requeued job this long before it may start again (default 120 s)
AuthInfo=socket=$STATE/munge/munge.socket.2,cred_expire=10
SlurmctldPort=${DL2_SLURM_PORT:-6817}
SlurmdPort=$(( ${DL2_SLURM_PORT:-6817} + 1 ))
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
MinJobAge=3600
KillWait=10
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
}

write_sacct() {
  # submitit asks `sacct -o JobID,State,NodeList --parsable2 -j <id> ...` for job states; without
  # an accounting database, answer from slurmctld's memory of recent jobs (MinJobAge above)
  cat > "$STATE/bin/sacct" <<'SACCT'
#!/usr/bin/env bash
ids=()
while [ $# -gt 0 ]; do
  case "$1" in -j) ids+=("$2"); shift 2;; *) shift;; esac
done
echo "JobID|State|NodeList"
for id in "${ids[@]}"; do
  scontrol show job -o "$id" 2>/dev/null | while read -r line; do
    jid=$(grep -o 'JobId=[^ ]*' <<<"$line" | cut -d= -f2)
    arr=$(grep -o 'ArrayJobId=[^ ]*' <<<"$line" | cut -d= -f2)
    task=$(grep -o 'ArrayTaskId=[^ ]*' <<<"$line" | cut -d= -f2)
    state=$(grep -o 'JobState=[^ ]*' <<<"$line" | cut -d= -f2)
    nodes=$(grep -o ' NodeList=[^ ]*' <<<"$line" | cut -d= -f2)
    [ -n "$arr" ] && [ -n "$task" ] && jid="${arr}_${task}"
    echo "$jid|$state|$nodes"
  done
done
SACCT
  chmod +x "$STATE/bin/sacct"
}

up() {
  install_if_missing
  if [ -f "$STATE/run/slurmctld.pid" ] && kill -0 "$(cat "$STATE/run/slurmctld.pid")" 2>/dev/null; then
    say "already up ($STATE)"; exports; return
  fi
  mkdir -p "$STATE"/{bin,munge,run,log,spool/ctld,spool/d}
  chmod 700 "$STATE/munge"
  write_conf
  write_sacct
  [ -f "$STATE/munge/munge.key" ] || dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$STATE/munge/munge.key"
  munged --force --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket.2" \
    --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
    --seed-file="$STATE/munge/munged.seed"
  SLURM_CONF=$CONF slurmctld
  SLURM_CONF=$CONF slurmd
  for _ in $(seq 60); do
    if SLURM_CONF=$CONF sinfo -h -o %T 2>/dev/null | grep -qx idle; then
      say "up: partition debug, node $HOST ($(nproc) CPUs); state in $STATE"
      exports
      return
    fi
    sleep 1
  done
  say "the node did not become idle in 60 s; see $STATE/log/"
  tail -5 "$STATE"/log/*.log >&2 || true
  exit 1
}

down() {
  if [ -f "$CONF" ]; then
    SLURM_CONF=$CONF scancel --full -u "$(id -un)" 2>/dev/null || true
  fi
  for name in slurmd slurmctld munged; do
    pidfile=$STATE/run/$name.pid
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$STATE"
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) exports ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
