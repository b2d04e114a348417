#!/usr/bin/env bash
# Builds Corral, starts a cluster on loopback (three controllers, two compute
# nodes), runs jobs, kills the leader, runs more, and shows nothing was lost.
# Usage: scripts/demo.sh [DIR]   (default /tmp/corral-demo; removed first)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/corral-demo}

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

cargo build --quiet --bin corral
corral=$PWD/target/debug/corral
if [ -f "$dir/corral.toml" ]; then "$corral" dev down --dir "$dir" >/dev/null || true; fi
rm -rf "$dir"

run "$corral" dev up --dir "$dir"
export CORRAL_CONF=$dir/corral.toml PATH=$dir/bin:$PATH

cd "$dir"
run sbatch -J hello --wrap 'echo hello from $SLURMD_NODENAME, job $SLURM_JOB_ID'
run sbatch -J steps -N2 -n4 --wrap 'srun -l hostname'
run sbatch -J held --hold --wrap hostname
sleep 2
run squeue -t all
run cat slurm-1.out
run cat slurm-2.out
run sacct
run scontrol ping
run corral status
run corral dev kill --dir "$dir" leader
run sbatch -J after-kill --wrap 'echo still here on $SLURMD_NODENAME'
sleep 2
run squeue -t all
run cat slurm-4.out
run corral status
leader_down=$(corral status | awk '$3 == "unreachable" { print $1 }')
run corral dev start --dir "$dir" "controller-$leader_down"
sleep 1
run corral status
say "the cluster is still running; stop it with: $corral dev down --dir $dir"
