#!/usr/bin/env bash
# sriovd under load: 64 concurrent API clients on its Unix socket doing acquire + GET /v1/leases +
# release, with the fsync'd journal on the machine's disk, against a generated simulated host (its
# sysfs-shaped tree on tmpfs, as sysfs is in memory); then sriovd's idle RSS. Not a test: it prints
# numbers (Docs/Performance.md).
#
#   swift build -c release --product sriovd && swift build -c release --product sriov-bench   (or: swift build -c release)
#   Benchmarks/daemon-load.sh [--pfs 16] [--vfs 256] [--clients 64] [--cycles 6400] [--rate N]
#                             [--connection keep-alive|per-request] [--client raw|typed] [--samples FILE]
#                             [--host-dir DIR] [--no-host-events]
#
# Without --rate: closed loop (each client starts a cycle when its last one ends): the capacity.
# --rate N: open loop, N cycles/s offered in total over the clients, latency from each cycle's
# intended start. --connection per-request: a connection per request (as sriovctl), instead of one
# kept-alive connection per client. --client typed: DaemonClient decoding every lease document (as
# sriovctl), instead of checking status and lease id only. --samples FILE: every cycle's intended
# start and latency (ms), one line each. --host-dir: where the simulated host's
# tree goes (default /dev/shm/sriov-bench-daemon-host; $STATE/simulated-host puts it on the
# journal's disk). SRIOV_EMULATE_FSYNC_US=n (exported) emulates a slower disk: sriovd's journal fsyncs
# and the printed fsync probe take at least n µs each.
set -euo pipefail
BIN=${SRIOV_BIN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.build/release}
STATE=${SRIOV_BENCH_STATE:-/var/tmp/sriov-bench-daemon}
pfs=16 vfs=256 clients=64 cycles=6400
load_args=() prepare_args=()
usage() { echo "usage: $0 [--pfs N] [--vfs N] [--clients N] [--cycles N] [--rate N] [--connection keep-alive|per-request] [--client raw|typed] [--samples FILE] [--host-dir DIR] [--no-host-events]" >&2; exit 64; }
sriovd_args=()
while (($#)); do
    if [[ $1 == --no-host-events ]]; then sriovd_args+=("$1"); shift; continue; fi
    (($# >= 2)) || usage
    case $1 in
        --pfs) pfs=$2 ;; --vfs) vfs=$2 ;; --clients) clients=$2 ;; --cycles) cycles=$2 ;;
        --rate|--connection|--client|--samples) load_args+=("$1" "$2") ;;
        --host-dir) prepare_args+=("$1" "$2") ;;
        *) usage ;;
    esac
    shift 2
done
for b in sriovd sriov-bench; do
    [[ -x $BIN/$b ]] || { echo "daemon-load: $BIN/$b not built; run: swift build -c release" >&2; exit 1; }
done
"$BIN/sriov-bench" daemon-prepare --state-dir "$STATE" --pfs "$pfs" --vfs "$vfs" ${prepare_args[@]+"${prepare_args[@]}"}
sock=$STATE/sriovd.sock
"$BIN/sriovd" --simulated --state-dir "$STATE" --config "$STATE/bench.yaml" --socket "$sock" --log-level warning ${sriovd_args[@]+"${sriovd_args[@]}"} &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { echo "daemon-load: sriovd did not start" >&2; exit 1; }
sleep 1
rss() { awk '/^VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status"; }
# user and system ticks, then context switches (voluntary, involuntary) summed over sriovd's threads.
sriovd_usage() { awk '{ printf "%s %s ", $14, $15 }' "/proc/$pid/stat"; cat /proc/"$pid"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ { v += $2 } /^nonvoluntary_ctxt_switches/ { n += $2 } END { print v, n }'; }
echo "daemon-load: sriovd idle after start-up, $((pfs * vfs)) VFs: RSS $(rss)"
usage0=$(sriovd_usage)
"$BIN/sriov-bench" daemon-load --socket "$sock" --clients "$clients" --cycles "$cycles" ${load_args[@]+"${load_args[@]}"}
usage1=$(sriovd_usage)
ticks=$(getconf CLK_TCK)
# Per cycle: the measured cycles plus each client's warm-up cycle.
awk -v a="$usage0" -v b="$usage1" -v t="$ticks" -v c="$(( cycles / clients * clients + clients ))" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    cpu = (y[1] + y[2] - x[1] - x[2]) / t
    printf "daemon-load: sriovd CPU during the load: %.2f s, %.2f ms per cycle\n", cpu, cpu * 1000 / c
    printf "daemon-load: sriovd per cycle: user %.2f ms + system %.2f ms; context switches %.1f voluntary, %.1f involuntary\n",
        (y[1] - x[1]) / t * 1000 / c, (y[2] - x[2]) / t * 1000 / c, (y[3] - x[3]) / c, (y[4] - x[4]) / c }'
sleep 2
echo "daemon-load: sriovd idle after the load: RSS $(rss)"
