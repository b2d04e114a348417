#!/usr/bin/env bash
# Builds Corral, starts a three-controller cluster on loopback, submits jobs,
# kills the leader, submits again, and shows that nothing was lost.
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

run sbatch --hold -J first --wrap hostname
run sbatch --hold -J second --wrap hostname
run scontrol ping
run corral status
run corral dev kill --dir "$dir" leader
run sbatch --hold -J after-kill --wrap hostname
run squeue
run corral status
leader_down=$(corral status | awk '$3 == "unreachable" { print $1 }')
run corral dev start --dir "$dir" "controller-$leader_down"
sleep 1
run corral status
say "the cluster is still running; stop it with: $corral dev down --dir $dir"
