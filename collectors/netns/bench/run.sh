#!/usr/bin/env bash
# Discovery benchmark (docs/performance.md): 500 network namespaces held
# by 5,000 processes (10 per namespace, `unshare -n`), then `netlens netns`
# side by side with `lsns -t net` in one hyperfine run (whole process vs
# whole process, -N: no shell). Needs root, hyperfine, util-linux.
# Usage: run.sh [NAMESPACES] [PROCS_PER_NAMESPACE]
set -euo pipefail
N=${1:-500}
P=${2:-10}
cd "$(dirname "$0")/../../.."
tmp=$(mktemp -d)
CGO_ENABLED=0 go build -o "$tmp/netlens" .
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
for ((i = 0; i < N; i++)); do
	# Each namespace: one process group of P sleeps (the group is killed at the end).
	setsid unshare -n sh -c "for j in \$(seq 2 $P); do sleep 3600 & done; exec sleep 3600" </dev/null >/dev/null 2>&1 &
	pids+=($!)
done
# Wait until every namespace has its processes (bounded: 60 s).
for ((t = 0; t < 600; t++)); do
	have=$(lsns -t net -n -o NS | wc -l)
	procs=$(ps -e --no-headers | wc -l)
	if ((have > N && procs >= N * P)); then break; fi
	sleep 0.1
done
echo "namespaces: $(lsns -t net -n -o NS | wc -l), processes: $(ps -e --no-headers | wc -l)"
"$tmp/netlens" netns --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("netlens lists", len(d["namespaces"]), "namespaces")'
hyperfine -N --warmup 3 --runs "${RUNS:-15}" --export-markdown "$tmp/result.md" \
	'lsns -t net' \
	"$tmp/netlens netns --brief" \
	"$tmp/netlens netns"
cat "$tmp/result.md"
cleanup
trap - EXIT
# The switch and the all-namespaces view, in-process (nsbench makes its
# own namespaces and connections).
CGO_ENABLED=0 go build -o /tmp/nsbench.$$ ./collectors/netns/bench/nsbench
/tmp/nsbench.$$ switch -conns 5000 -runs "${RUNS_SWITCH:-9}"
# The all-namespaces view twice: on this host as it is (other namespaces,
# other processes), then alone (a PID namespace of its own, so /proc
# lists only its processes, and a /run/netns of its own).
/tmp/nsbench.$$ all -ns 500 -conns 10 -ticks "${TICKS:-15}"
unshare --pid --fork --mount --mount-proc sh -c \
	"mount -t tmpfs tmpfs /run/netns && exec /tmp/nsbench.$$ all -ns 500 -conns 10 -ticks ${TICKS:-15}"
rm -f /tmp/nsbench.$$
