#!/usr/bin/env bash
# sriovd under load: 64 concurrent API clients on its Unix socket doing acquire + GET /v1/leases +
# release, with the fsync'd journal on the machine's disk, against a generated simulated host; then
# sriovd's idle RSS. Not a test: it prints numbers (Docs/Performance.md).
#
#   swift build -c release --product sriovd --product sriov-bench   (or: swift build -c release)
#   Benchmarks/daemon-load.sh [--pfs 16] [--vfs 256] [--clients 64] [--cycles 6400]
set -euo pipefail
BIN=${SRIOV_BIN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.build/release}
STATE=${SRIOV_BENCH_STATE:-/var/tmp/sriov-bench-daemon}
pfs=16 vfs=256 clients=64 cycles=6400
while (($#)); do
    case $1 in
        --pfs) pfs=$2 ;; --vfs) vfs=$2 ;; --clients) clients=$2 ;; --cycles) cycles=$2 ;;
        *) echo "usage: $0 [--pfs N] [--vfs N] [--clients N] [--cycles N]" >&2; exit 64 ;;
    esac
    shift 2
done
for b in sriovd sriov-bench; do
    [[ -x $BIN/$b ]] || { echo "daemon-load: $BIN/$b not built; run: swift build -c release" >&2; exit 1; }
done
"$BIN/sriov-bench" daemon-prepare --state-dir "$STATE" --pfs "$pfs" --vfs "$vfs"
sock=$STATE/sriovd.sock
"$BIN/sriovd" --simulated --state-dir "$STATE" --config "$STATE/bench.yaml" --socket "$sock" --log-level warning &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { echo "daemon-load: sriovd did not start" >&2; exit 1; }
sleep 1
rss() { awk '/^VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status"; }
echo "daemon-load: sriovd idle after start-up, $((pfs * vfs)) VFs: RSS $(rss)"
"$BIN/sriov-bench" daemon-load --socket "$sock" --clients "$clients" --cycles "$cycles"
sleep 2
echo "daemon-load: sriovd idle after the load: RSS $(rss)"
