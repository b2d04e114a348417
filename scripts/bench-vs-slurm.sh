#!/usr/bin/env bash
# Corral against real Slurm 22.05 on this machine, in one run.
#
#   scripts/bench-vs-slurm.sh OUTDIR [--rounds 3] [--queue-sizes 1000,3000,10000]
#                                    [--big-queue 100000] [--no-schedule]
#                                    [--fill-tasks 256] [--corral PATH]
#
# Builds Corral (release), starts a private Slurm (scripts/slurm-bench/
# slurm-bench.sh, one node claiming 24 CPUs: the CPUs of drain's 3 agents x 8),
# then for each round runs every workload on Corral and, right after, on
# Slurm, so both see the same load from whatever else runs on the machine:
# submit-latency, submit-throughput (K = 1, 2, 4, 8), drain (1,000 jobs) and
# queue (--queue-sizes pending held jobs). Each Corral run gets a fresh
# three-controller dev cluster. `uptime` is recorded before every workload
# (OUTDIR/uptime.log). Then `corral bench schedule` at a few sizes (jobs at
# 5,000 nodes, nodes at 100,000 jobs); with --big-queue N, one more queue
# run at N pending jobs per system (filling Slurm with 100,000 jobs takes
# about 10 minutes here); and
# scripts/slurm-bench/report.py writes OUTDIR/table.md and OUTDIR/charts/.
# Slurm is stopped at the end (only the daemons slurm-bench.sh started).
# --corral PATH uses that corral binary instead of building the release one;
# --fill-tasks is Corral's queue fill concurrency (calls in flight).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [--rounds N] [--queue-sizes LIST] [--big-queue N] [--no-schedule]" >&2; exit 2; }
out=$1
shift
rounds=3
queue_sizes=1000,3000,10000
big_queue=
schedule=yes
corral=
fill_tasks=256
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=${2:?}; shift 2 ;;
        --queue-sizes) queue_sizes=${2:?}; shift 2 ;;
        --big-queue) big_queue=${2:?}; shift 2 ;;
        --no-schedule) schedule=; shift ;;
        --corral) corral=${2:?}; shift 2 ;;
        --fill-tasks) fill_tasks=${2:?}; shift 2 ;;
        *) echo "$0: unknown option $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -z "$corral" ]; then
    (cd "$root" && cargo build --release -p corral-cli)
    corral=$root/target/release/corral
fi
slurm_dir=$out/slurm
conf=$slurm_dir/slurm.conf
"$root/scripts/slurm-bench/slurm-bench.sh" start "$slurm_dir" --cpus 24
trap '"$root/scripts/slurm-bench/slurm-bench.sh" stop "$slurm_dir"' EXIT

{
    echo "# $(date -u +%FT%TZ) $(uname -sr), nproc $(nproc), $(free -h | awk '/^Mem:/ {print "memory " $2}')"
    echo "# corral $(git -C "$root" rev-parse --short HEAD) ($corral), $(sinfo -V 2>/dev/null || true)"
} >"$out/machine.txt"

note() {
    local line
    line="$(date -u +%T) $* | $(uptime)"
    echo "$line" | tee -a "$out/uptime.log"
}

# corral_and_slurm ROUND_DIR NAME ARGS...: the workload on a fresh Corral
# cluster, then on Slurm. A failed run is noted in uptime.log (and has no
# report, or one that says what failed) and the rounds go on.
corral_and_slurm() {
    local dir=$1 name=$2
    shift 2
    note "round ${dir##*/} $name corral"
    "$corral" bench "$name" --dir "$dir/corral-$name" "$@" --out "$dir/bench-$name-corral.json" \
        || note "FAILED: round ${dir##*/} $name corral (exit $?)"
    note "round ${dir##*/} $name slurm"
    "$corral" bench "$name" --dir "$dir" --slurm-conf "$conf" "$@" --out "$dir/bench-$name-slurm.json" \
        || note "FAILED: round ${dir##*/} $name slurm (exit $?)"
}

for round in $(seq "$rounds"); do
    dir=$out/round-$round
    rm -rf "$dir"
    mkdir -p "$dir"
    corral_and_slurm "$dir" submit-latency --count 200 --repeat 1
    corral_and_slurm "$dir" submit-throughput --concurrency 1,2,4,8 --jobs-per-worker 50 --repeat 1
    corral_and_slurm "$dir" drain --jobs 1000 --repeat 1
    corral_and_slurm "$dir" queue --sizes "$queue_sizes" --repeat 5 --fill-tasks "$fill_tasks"
done

if [ -n "$schedule" ]; then
    dir=$out/schedule
    mkdir -p "$dir"
    for jobs in 10000 30000 100000; do
        note "schedule --jobs $jobs --nodes 5000"
        "$corral" bench schedule --jobs "$jobs" --nodes 5000 --repeat 5 --out "$dir/bench-schedule-j$jobs-n5000.json"
    done
    for nodes in 500 1000 2000; do
        note "schedule --jobs 100000 --nodes $nodes"
        "$corral" bench schedule --jobs 100000 --nodes "$nodes" --repeat 5 --out "$dir/bench-schedule-j100000-n$nodes.json"
    done
fi

if [ -n "$big_queue" ]; then
    dir=$out/big-queue
    rm -rf "$dir"
    mkdir -p "$dir"
    corral_and_slurm "$dir" queue --sizes "$big_queue" --repeat 5 --fill-tasks "$fill_tasks"
fi

python3 "$root/scripts/slurm-bench/report.py" "$out" --charts "$out/charts"
echo "table: $out/table.md; charts: $out/charts/; reports: $out/round-*/"
