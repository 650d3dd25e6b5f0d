#!/bin/bash
# Benchmark (issue 17), side by side in one boot, on igb VFs: one lease cycle (MAC + VLAN 100 +
# spoofchk on + trust off, bind to vfio-pci; release: unbind, scrub, leave unbound) done five ways:
#  floor   `sriov-bench lease-floor`: exactly the engine's host operations (netlink settings with
#          read-back, the three sysfs writes of a bind, the two of a release, the scrub), in one
#          process with no journal, book or API;
#  engine  `sriov-bench lease-engine`: the lease engine in one process (journal, book, checks; no
#          API), as sriovd runs it: what the engine adds to the floor, and the API to the engine;
#          both again with --profile: their host operations by kind, and the time outside them;
#  api     `sriov-bench daemon-load --clients 1`: a client in the guest on one kept-alive connection
#          to a sriovd started here (POST /v1/leases, then DELETE; its GET /v1/leases is left out of
#          the sum); target: within 2x of the floor; then the same against sriovd --no-host-events
#          (what following the host's events costs a cycle), with sriovd's per-step profile of each;
#          and `sriov-bench http-roundtrip`: the same client's kept-alive GET against a minimal
#          responder and against sriovd (a round trip's floor, and what sriovd's HTTP stack adds);
#  cli     `sriovctl lease acquire` + `sriovctl lease release` through that sriovd: two processes;
#          target: faster than the script;
#  direct  the same two processes with --direct (the engine in each process); target: within 1.2x of
#          cli;
#  script  what the tool replaces: 8 `ip link set ... vf` processes and the sysfs writes
#          (driver_override, drivers_probe, unbind, clear the override).
# BENCH lines only (timings on a shared 2-core machine under TCG vary: targets are judged in them, not
# by PASS/FAIL); PASS/FAIL says each way ran and left the VFs as a released lease leaves them.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

ITER=${LANE_BENCH_ITERATIONS:-21}
BENCH=$LANE_BIN_DIR/sriov-bench
require_binary bench-lease-cycle "$SRIOVCTL" || exit 0
require_binary bench-lease-cycle-daemon "$SRIOVD" || exit 0
require_binary bench-lease-cycle-sriov-bench "$BENCH" || exit 0
build=$(basename "$LANE_BIN_DIR")

lane_igb_scenario_setup bench-lease-cycle 51-bench || exit 0
sysctl -qw "net.ipv6.conf.$pf.accept_ra=0" 2>/dev/null
# VFs 0-1: sriovd's pool; 2: the --direct engine's pool; 3: the floor and the script.
pool() {   # pool <first-last>: the pool sriov-bench's client asks for ("bench")
    printf 'pools:\n  - name: bench\n    selectors:\n      - pf: %s\n        range: %s\n    on_release: leave-unbound\n    defaults: {vlan: 100, spoofchk: true, trust: false}\n' "$pf" "$1"
}
pool 0-1 >"$config"
mkdir -p "$state/direct"
pool 2-2 >"$state/direct.yaml"
direct=(--direct --config "$state/direct.yaml" --state-dir "$state/direct")
lane_start_sriovd || { fail bench-lease-cycle-setup "$lane_sriovd_error"; exit 0; }
W=$(mktemp -d)
problems=()

# ------------------------------------------------------------------------------------------ floor
"$BENCH" lease-floor --pf "$pf" --vf 3 --iterations "$ITER" >"$W/floor.out" 2>&1 || problems+=("lease-floor: $(tail -n 2 "$W/floor.out" | tr '\n' ' ')")
grep '^lease-floor:' "$W/floor.out" | sed 's/^/BENCH floor: /'
floor=$(awk '/^lease-floor: cycle:/ { for (i = 1; i <= NF; i++) if ($i == "median") print $(i + 1) }' "$W/floor.out")

# ------------------------------------------------------ the engine in this process (no API), VF 2
"$BENCH" lease-engine --config "$state/direct.yaml" --state-dir "$state/engine" --pool bench --iterations "$ITER" >"$W/engine.out" 2>&1 || problems+=("lease-engine: $(tail -n 2 "$W/engine.out" | tr '\n' ' ')")
grep '^lease-engine:' "$W/engine.out" | sed 's/^/BENCH engine: /'
engine=$(awk '/^lease-engine: cycle:/ { for (i = 1; i <= NF; i++) if ($i == "median") print $(i + 1) }' "$W/engine.out")

# The per-step profile of each (`--profile`, runs of their own so the timing wrapper stays out of the
# numbers above): every host operation by kind, and what a cycle spends outside them.
"$BENCH" lease-floor --pf "$pf" --vf 3 --iterations "$ITER" --profile >"$W/floor-profile.out" 2>&1 || problems+=("lease-floor --profile: $(tail -n 2 "$W/floor-profile.out" | tr '\n' ' ')")
grep -E '^lease-floor: (step|per cycle)' "$W/floor-profile.out" | sed 's/^lease-floor: /BENCH floor-profile: /'
"$BENCH" lease-engine --config "$state/direct.yaml" --state-dir "$state/engine" --pool bench --iterations "$ITER" --profile >"$W/engine-profile.out" 2>&1 || problems+=("lease-engine --profile: $(tail -n 2 "$W/engine-profile.out" | tr '\n' ' ')")
grep -E '^lease-engine: (step|journal|per cycle)' "$W/engine-profile.out" | sed 's/^lease-engine: /BENCH engine-profile: /'

# -------------------------------------------------------------------- api, kept-alive, in the guest
p50() { awk -v w="$2" 'index($0, w) { for (i = 1; i <= NF; i++) if ($i == "p50") print $(i + 1) }' "$1" | head -n 1; }
# profile <label> <before>: the per-step profile of the cycles since <before> (a /metrics snapshot
# taken after a warm-up, so first-request costs stay out, as the engine's --profile leaves them out),
# from sriovd's /metrics: each host operation per cycle and its mean (HostProfile), in the format of
# the engine's profile, the journal's fsyncs, and the lease operations (route to answer).
profile() {
    lane_metrics "$sock" >"$W/metrics-after"
    "$PYTHON" - "$2" "$W/metrics-after" <<'PY' | sed "s/^/BENCH $1: /"
import re, sys
def series(text, name):
    out = {}
    for m in re.finditer(r"^" + name + r"(?:\{op=\"([^\"]*)\"\})? ([0-9.e+-]+)$", text, re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out
before, after = (open(f).read() for f in sys.argv[1:3])
def delta(name):
    b, a = series(before, name), series(after, name)
    return {k: v - b.get(k, 0.0) for k, v in a.items()}
ops = "sriovd_lease_operation_duration_seconds"
counts, sums = delta(ops + "_count"), delta(ops + "_sum")
cycles = counts.get("release", 0)
if not cycles:
    print("no lease cycle since the snapshot"); sys.exit(0)
for op in sorted(counts):
    if counts[op]:
        print(f"lease operation {op}: {counts[op] / cycles:.2f} per cycle, mean {1000 * sums[op] / counts[op]:.2f} ms")
host = "sriovd_host_operation_duration_seconds"
counts, sums = delta(host + "_count"), delta(host + "_sum")
total = 0.0
for op in sorted(counts):
    if counts[op]:
        total += sums[op]
        print(f"step {op}: {counts[op] / cycles:.2f} per cycle, mean {1000 * sums[op] / counts[op]:.2f} ms, {1000 * sums[op] / cycles:.2f} ms per cycle")
fs, fsec = delta("sriovd_journal_fsyncs_total").get(""), delta("sriovd_journal_fsync_seconds_total").get("")
if fs:
    print(f"journal: {fs / cycles:.2f} fsyncs per cycle, {1000 * fsec / cycles:.2f} ms per cycle")
print(f"per cycle: host operations {1000 * total / cycles:.2f} ms ({int(cycles)} cycles after a warm-up)")
PY
}
# warm <file>: one short run (its first requests' one-time costs), then the /metrics snapshot the
# profile starts from.
warm() {
    "$BENCH" daemon-load --socket "$sock" --clients 1 --cycles 1 >/dev/null 2>&1
    lane_metrics "$sock" >"$1"
}
warm "$W/metrics-before"
"$BENCH" daemon-load --socket "$sock" --clients 1 --cycles "$ITER" >"$W/api.out" 2>&1 || problems+=("daemon-load: $(tail -n 2 "$W/api.out" | tr '\n' ' ')")
grep '^daemon-load:' "$W/api.out" | sed 's/^/BENCH api: /'
acq=$(p50 "$W/api.out" "POST /v1/leases:"); rel=$(p50 "$W/api.out" "DELETE /v1/leases/{id}:")
api=$(awk -v a="$acq" -v r="$rel" 'BEGIN { if (a != "" && r != "") printf "%.1f", a + r }')
profile profile "$W/metrics-before"
# The round trip's floor: the same raw client's kept-alive GET /v1/leases against a minimal responder
# (one thread, blocking POSIX, a fixed answer) and against this sriovd: what sriovd's HTTP stack, router
# and route add to each of a cycle's two requests, and what two requests cost at the least.
"$BENCH" http-roundtrip --socket "$sock" --requests 100 >"$W/roundtrip.out" 2>&1 || problems+=("http-roundtrip: $(tail -n 2 "$W/roundtrip.out" | tr '\n' ' ')")
grep '^http-roundtrip:' "$W/roundtrip.out" | sed 's/^http-roundtrip: /BENCH roundtrip: /'
rt_p50() { awk -v w="$1" 'index($0, w) { for (i = 1; i <= NF; i++) if ($i == "p50") print $(i + 1) }' "$W/roundtrip.out" | head -n 1; }
rt_floor=$(rt_p50 "minimal responder"); rt_sriovd=$(rt_p50 "http-roundtrip: sriovd (")

# The same against a sriovd that does not follow host events (--no-host-events): what the event
# watcher's reading of sriovd's own changes costs a cycle. Then back to the default for the rest.
restart_sriovd() {   # restart_sriovd [sriovd args...]
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    lane_start_sriovd "$@" || { problems+=("sriovd $* after a restart: $lane_sriovd_error"); return 1; }
}
if restart_sriovd --no-host-events; then
    warm "$W/metrics-before-quiet"
    "$BENCH" daemon-load --socket "$sock" --clients 1 --cycles "$ITER" >"$W/api-quiet.out" 2>&1 || problems+=("daemon-load --no-host-events: $(tail -n 2 "$W/api-quiet.out" | tr '\n' ' ')")
    grep '^daemon-load:' "$W/api-quiet.out" | sed 's/^/BENCH api-no-host-events: /'
    acq=$(p50 "$W/api-quiet.out" "POST /v1/leases:"); rel=$(p50 "$W/api-quiet.out" "DELETE /v1/leases/{id}:")
    quiet=$(awk -v a="$acq" -v r="$rel" 'BEGIN { if (a != "" && r != "") printf "%.1f", a + r }')
    echo "BENCH api-no-host-events: cycle (acquire p50 + release p50) ${quiet:-?} ms, with host events ${api:-?} ms"
    profile profile-no-host-events "$W/metrics-before-quiet"
fi
restart_sriovd

# ---------------------------------------------------------- cli and direct (two processes), script
cycle_cli() {   # cycle_cli <front door args...>: one acquire process, one release process
    local out id
    out=$("$SRIOVCTL" lease acquire --pool bench --owner bench-cli --json "$@" 2>&1) || { echo "acquire: ${out:0:200}"; return 1; }
    id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
    out=$("$SRIOVCTL" lease release "$id" "$@" 2>&1) || { echo "release: ${out:0:200}"; return 1; }
}
vf3=$(basename "$(readlink -f "$SYS_PCI/$igb/virtfn3")")
cycle_script() {   # the script sriovd replaces, on VF 3
    local d=$SYS_PCI/$vf3
    "$IP" link set dev "$pf" vf 3 mac 02:5b:00:00:00:12 && "$IP" link set dev "$pf" vf 3 vlan 100 &&
    "$IP" link set dev "$pf" vf 3 spoofchk on && "$IP" link set dev "$pf" vf 3 trust off || return 1
    [[ -e $d/driver ]] && { echo "$vf3" >"$d/driver/unbind" || return 1; }
    echo vfio-pci >"$d/driver_override" && echo "$vf3" >/sys/bus/pci/drivers_probe || return 1
    [[ $(basename "$(readlink -f "$d/driver")") == vfio-pci ]] || return 1
    echo "$vf3" >"$d/driver/unbind" && echo >"$d/driver_override" || return 1
    "$IP" link set dev "$pf" vf 3 mac 00:00:00:00:00:00 && "$IP" link set dev "$pf" vf 3 vlan 0 &&
    "$IP" link set dev "$pf" vf 3 spoofchk on && "$IP" link set dev "$pf" vf 3 trust off
}
# warm-up (page cache, each engine's first discovery)
for way in cli direct script; do
    case $way in
        cli) r=$(cycle_cli --socket "$sock") ;;
        direct) r=$(cycle_cli "${direct[@]}") ;;
        script) r=$(cycle_script 2>&1) ;;
    esac || problems+=("$way warm-up: $r")
done
for ((i = 0; i < ITER; i++)); do
    t0=$(now); cycle_cli --socket "$sock" >/dev/null || problems+=("cli cycle $i failed"); t1=$(now)
    cycle_cli "${direct[@]}" >/dev/null || problems+=("direct cycle $i failed"); t2=$(now)
    cycle_script >/dev/null 2>&1 || problems+=("script cycle $i failed"); t3=$(now)
    echo $((t1 - t0)) >>"$W/cli"; echo $((t2 - t1)) >>"$W/direct"; echo $((t3 - t2)) >>"$W/script"
done
c_med=$(median "$W/cli"); d_med=$(median "$W/direct"); s_med=$(median "$W/script")
echo "BENCH cli: sriovctl lease acquire + lease release through sriovd, two processes ($build build): $(stats "$W/cli")"
echo "BENCH direct: the same with --direct ($build build): $(stats "$W/direct")"
echo "BENCH script: 8 ip link set processes + the sysfs writes: $(stats "$W/script")"
target() {   # target <label> <met?> <detail>
    if [[ $2 == 1 ]]; then echo "BENCH target $1: met ($3)"; else echo "BENCH target $1: NOT met ($3)"; fi
}
if [[ -n $floor && -n $engine && -n $api ]]; then
    echo "BENCH decomposition: floor $floor ms; the engine in-process $engine ms ($(ratio "$engine" "$floor")x the floor); through sriovd's API $api ms ($(ratio "$api" "$engine")x the engine)"
fi
if [[ -n $floor && -n $engine && -n $rt_floor && -n $rt_sriovd ]]; then
    # 2x the floor leaves one floor's worth for everything else: what the engine adds in-process, and
    # two requests' round trips, at least the minimal responder's.
    awk -v f="$floor" -v e="$engine" -v m="$rt_floor" -v s="$rt_sriovd" 'BEGIN {
        printf "BENCH budget: 2x the floor leaves %.1f ms over it; the engine in-process adds %.1f ms, two round trips to a minimal responder %.1f ms, sriovd'"'"'s HTTP stack %.1f ms more (%.2f ms a request)\n", f, e - f, 2 * m, 2 * (s - m), s - m }'
fi
if [[ -n $floor && -n $api ]]; then
    r=$(awk -v a="$api" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')
    target "api cycle (kept-alive client, acquire p50 + release p50) within 2x of the floor" \
        "$(awk -v r="$r" 'BEGIN { print (r <= 2) ? 1 : 0 }')" "api $api ms, floor $floor ms: ${r}x"
fi
target "cli (two processes through sriovd) faster than the script" "$(awk -v c="$c_med" -v s="$s_med" 'BEGIN { print (c < s) ? 1 : 0 }')" \
    "cli $(ms "$c_med") ms, script $(ms "$s_med") ms: $(ratio "$s_med" "$c_med")x"
target "--direct within 1.2x of cli" "$(awk -v d="$d_med" -v c="$c_med" 'BEGIN { print (d <= 1.2 * c) ? 1 : 0 }')" \
    "direct $(ms "$d_med") ms, cli $(ms "$c_med") ms: $(ratio "$d_med" "$c_med")x"

# Every way left its VFs as a released lease leaves them: unbound, no override.
for n in 0 1 2 3; do
    d=$SYS_PCI/$(basename "$(readlink -f "$SYS_PCI/$igb/virtfn$n")")
    [[ -e $d/driver ]] && problems+=("VF $n is still bound to $(basename "$(readlink -f "$d/driver")")")
    [[ $(cat "$d/driver_override" 2>/dev/null) == "(null)" ]] || problems+=("VF $n keeps driver_override $(cat "$d/driver_override" 2>/dev/null)")
done
if (( ${#problems[@]} )); then fail bench-lease-cycle "$(printf '%s; ' "${problems[@]}" | cut -c1-600)"; else pass bench-lease-cycle; fi
