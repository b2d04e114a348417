#!/usr/bin/env bash
# A private, real Slurm 22.05 on this machine, for side-by-side benchmarks
# (`corral bench ... --slurm-conf DIR/slurm.conf`).
#
#   scripts/slurm-bench/slurm-bench.sh start DIR [--cpus N]   # install if missing, configure, start, wait for the node
#   scripts/slurm-bench/slurm-bench.sh stop DIR               # kill the daemons this script started (by their pids)
#   scripts/slurm-bench/slurm-bench.sh env DIR                # prints `export SLURM_CONF=DIR/slurm.conf`
#
# Everything lives under DIR: munge's key, socket, pid and log; slurm.conf;
# slurmctld's state, slurmd's spool, both logs and pid files. The daemons
# are started by hand in the foreground mode (-D) in the background, their
# pids written to DIR/pids/, and `stop` kills exactly those. The ports are
# chosen free at start (SlurmctldPort, SlurmdPort), so a Slurm someone else
# runs on the usual 6817/6818 is not disturbed, and every client finds this
# one through SLURM_CONF (munge through AuthInfo=socket=...).
#
# One controller and one node (this host, 127.0.0.1) claiming --cpus CPUs
# (default 24, the CPUs of `corral bench drain`'s 3 agents x 8) whatever the
# machine has (SlurmdParameters=config_overrides). No accounting storage and
# no slurmdbd; finished jobs go to a text job-completion log
# (JobCompType=jobcomp/filetxt, DIR/log/jobcomp.log, end times to the second).
# Jobs get one CPU each (select/cons_tres, CR_CPU).
# SchedulerParameters is not set: Slurm's defaults (backfill) apply.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR [--cpus N] | stop DIR | env DIR" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
shift 2
cpus=24
while [ $# -gt 0 ]; do
    case $1 in
        --cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
        *) echo "$0: unknown option $1" >&2; usage ;;
    esac
done
case $cpus in ''|*[!0-9]*) echo "$0: --cpus must be a positive number, not '$cpus'" >&2; exit 2 ;; esac

install_if_missing() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    echo "installing slurmctld slurmd slurm-client munge with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {
    local pidfile=$1
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

stop() {
    local name pidfile pid
    for name in slurmd slurmctld munged; do
        pidfile=$dir/pids/$name
        if running "$pidfile"; then
            pid=$(cat "$pidfile")
            kill "$pid"
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
            echo "stopped $name ($pid)"
        fi
        rm -f "$pidfile"
    done
}

start() {
    install_if_missing
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for name in munged slurmctld slurmd; do
        if running "$dir/pids/$name"; then
            echo "$0: $name of $dir is already running (pid $(cat "$dir/pids/$name")); stop it first" >&2
            exit 1
        fi
    done
    rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/pids"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/pids" "$dir/jobs"
    chmod 700 "$dir/munge"
    if [ ! -f "$dir/munge/munge.key" ]; then
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 400 "$dir/munge/munge.key"

    local host ctld_port slurmd_port
    host=$(hostname -s)
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

    cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-bench/slurm-bench.sh for a benchmark; not for production.
ClusterName=corralbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/log/slurmctld.pid
SlurmdPidFile=$dir/log/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
SlurmdParameters=config_overrides
# One CPU per job, memory not allocated (Slurm's default, select/linear,
# gives each job the whole node).
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxJobCount=200000
# Ended jobs leave slurmctld's memory after 10 s (default 300 s), so one
# benchmark's jobs do not stay in the next one's squeue.
MinJobAge=10
MpiDefault=none
SwitchType=switch/none
# SchedulerParameters is left at Slurm's default.
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=bench Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" --foreground --num-threads=4 \
        >>"$dir/log/munged.out" 2>&1 &
    echo $! >"$dir/pids/munged"
    for _ in $(seq 100); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
    [ -S "$dir/munge/munge.socket" ] || { echo "$0: munged did not start; see $dir/log/munged.out and $dir/munge/munged.log" >&2; stop; exit 1; }

    export SLURM_CONF=$dir/slurm.conf
    setsid slurmctld -D -c -i -f "$SLURM_CONF" >>"$dir/log/slurmctld.out" 2>&1 </dev/null &
    echo $! >"$dir/pids/slurmctld"
    sleep 1
    setsid slurmd -D -f "$SLURM_CONF" >>"$dir/log/slurmd.out" 2>&1 </dev/null &
    echo $! >"$dir/pids/slurmd"

    local state=""
    for _ in $(seq 600); do
        state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
        case $state in idle*) break ;; esac
        for name in slurmctld slurmd; do
            if ! running "$dir/pids/$name"; then
                echo "$0: $name exited; see $dir/log/$name.log and $dir/log/$name.out" >&2
                stop
                exit 1
            fi
        done
        sleep 0.1
    done
    case $state in
        idle*) ;;
        *) echo "$0: node $host is '$state', not idle, after 60 s; see $dir/log/" >&2; stop; exit 1 ;;
    esac
    echo "Slurm $(sinfo -V | awk '{print $2}') up in $dir: slurmctld pid $(cat "$dir/pids/slurmctld") on port $ctld_port, slurmd pid $(cat "$dir/pids/slurmd") on port $slurmd_port, node $host with $cpus CPUs"
    echo "export SLURM_CONF=$SLURM_CONF"
}

case $action in
    start) start ;;
    stop) dir=$(cd "$dir" 2>/dev/null && pwd) || { echo "$0: no directory $2" >&2; exit 1; }; stop ;;
    env) echo "export SLURM_CONF=$(cd "$dir" && pwd)/slurm.conf" ;;
    *) usage ;;
esac
