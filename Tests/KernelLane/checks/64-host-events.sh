#!/bin/bash
# sriovd follows the host (issue 13 items 1-2): with sriovd running on the igb PF, changes made behind
# its back with the kernel's own tools are seen within 2 s through uevents and RTNLGRP_LINK:
# - `ip link set <pf> vf N vlan 7` on a leased VF: `lease.drift` is emitted (sriovctl events) and, with
#   `on_drift: restore`, `ip -d link show` shows the leased VLAN again; with `report` the lease shows
#   the drift (condition drifted, the change in its problems) and the VF keeps VLAN 7;
# - `echo 0 > sriov_numvfs`: the lease on it is `lost`; `echo 4 > sriov_numvfs`: `pool list` shows the
#   new VFs.
# The oracle is the kernel (`ip -j -d link show`, sysfs). netdevsim VFs have no PCI function and cannot
# be leased, so drift on leases is an igb check; the netlink parsers' bytes are unit-tested.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary host-events "$SRIOVCTL" || exit 0
require_binary host-events-daemon "$SRIOVD" || exit 0

lane_igb_scenario_setup host-events 64-events || exit 0
sysctl -qw "net.ipv6.conf.$pf.accept_ra=0" 2>/dev/null
events_pid=""
trap 'kill $events_pid 2>/dev/null; lane_igb_scenario_cleanup' EXIT

# kernel_vlan <index>: the VF's VLAN as `ip -j -d link show` reports it (0 when untagged).
kernel_vlan() {
    "$IP" -j -d link show dev "$pf" | "$PYTHON" -c '
import json, sys
vf = [v for v in json.load(sys.stdin)[0].get("vfinfo_list", []) if v.get("vf") == int(sys.argv[1])]
print(vf[0].get("vlan_list", [{}])[0].get("vlan", 0) if vf else "missing")' "$1"
}

# lease_field <id> <field>: a field of `lease show --format json` (problems joined with " | ").
lease_field() {
    "$SRIOVCTL" lease show "$1" --format json --socket "$sock" 2>/dev/null | "$PYTHON" -c '
import json, sys
l = json.load(sys.stdin)
v = l.get(sys.argv[1])
print(" | ".join(v) if isinstance(v, list) else ("" if v is None else v))' "$2"
}

# pool_present <pool>: the pool's VFs present on the host, as `pool list --json` reports them.
pool_present() {
    "$SRIOVCTL" pool list --json --socket "$sock" 2>/dev/null | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
pools = d.get("pools", d) if isinstance(d, dict) else d
p = [p for p in pools if p["name"] == sys.argv[1]][0]
print(p["free"] + p["leased"] + p["quarantined"])' "$1"
}

# event_after <on_drift> <type> <t0>: seconds from t0 to the `time` sriovd journaled the first event of
# that type with (its own clock: when it acted, not when this script looked), or "none".
event_after() {
    "$PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("type") == sys.argv[2]:
        print(round(e["time"] - float(sys.argv[3]), 3)); break
else: print("none")' "$state/events-$1.log" "$2" "$3"
}

# within_2s <seconds or none>
within_2s() { [[ $1 != none ]] && "$PYTHON" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2 else 1)" "$1"; }

vlan_is()    { [[ $(kernel_vlan "$1") == "$2" ]]; }
lease_is()   { [[ $(lease_field "$1" condition) == "$2" ]]; }
pool_has()   { [[ $(pool_present "$1") == "$2" ]]; }

# start_sriovd <on_drift> <events>: sriovd on a fresh state directory, the whole PF as pool `ev`, with an event
# follower writing to $state/events-<on_drift>.log.
start_sriovd() {
    cat >"$config" <<EOC
pools:
  - name: ev
    selectors:
      - pf: $pf
    policy:
      vlans: ["100"]
    on_drift: $1
EOC
    "$SRIOVD" --state-dir "$state/daemon-$1" --config "$config" --socket "$sock" --log-level notice >>"$log" 2>&1 &
    pid=$!
    lane_wait 60 "$SRIOVCTL" pool list --socket "$sock" || { fail "host-events-$1" "sriovd did not answer on $sock: $(tail -n 3 "$log" | tr '\n' ' ')"; return 1; }
    # The follower exits after the events the scenario expects (acquired, drift[, lost]): its output
    # goes to a file, block-buffered, so it is complete only once it has exited.
    "$SRIOVCTL" events --json --count "$2" --socket "$sock" >"$state/events-$1.log" 2>&1 &
    events_pid=$!
    sleep 0.5  # the follower's subscription is open before the changes below
}

# events_seen <on_drift> <type>: the follower has exited and printed an event of that type.
events_seen() { ! kill -0 "$events_pid" 2>/dev/null && grep -Eq "\"type\" ?: ?\"$2\"" "$state/events-$1.log"; }

stop_sriovd() {
    kill $events_pid 2>/dev/null; wait $events_pid 2>/dev/null; events_pid=""
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
}

# acquire: a lease with VLAN 100 from pool ev; sets id and idx.
acquire() {
    local out
    out=$("$SRIOVCTL" lease acquire --pool ev --owner vnf-ev --vlan 100 --json --socket "$sock" 2>&1)
    id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
    idx=$(grep -o '"index" : [0-9]*' <<<"$out" | head -n 1 | grep -o '[0-9]*$')
    [[ -n $id && -n $idx ]] || { echo "lane: lease acquire failed: ${out:0:300}" >&2; return 1; }
}

# restore
if start_sriovd restore 2 && acquire; then
    problems=()
    [[ $(kernel_vlan "$idx") == 100 ]] || problems+=("the lease did not set VLAN 100 (ip shows $(kernel_vlan "$idx"))")
    t0=$(date +%s.%N)
    "$IP" link set "$pf" vf "$idx" vlan 7
    lane_wait 2 vlan_is "$idx" 100 || problems+=("ip -d link show has VLAN $(kernel_vlan "$idx") on VF $idx, not the leased 100, 2 s after")
    restored=$("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))")
    lane_wait 2 events_seen restore lease.drift || problems+=("no lease.drift event within 2 s: $(tail -c 300 "$state/events-restore.log")")
    seen=$(event_after restore lease.drift "$t0")
    within_2s "$seen" || problems+=("lease.drift journaled $seen s after the change, not within 2 s")
    echo "lane: host-events (restore): $id VF $idx of $pf: vlan 7 set by ip; lease.drift journaled after $seen s; VLAN $(kernel_vlan "$idx") again when looked at after $restored s; event: $(grep -Eo '"changes" ?: ?[^]]*]' "$state/events-restore.log" | head -n 1)"
    grep -Eq '"action" ?: ?"restore"' "$state/events-restore.log" || problems+=("the lease.drift event has no action restore")
    "$SRIOVCTL" lease release "$id" --socket "$sock" >/dev/null 2>&1 || problems+=("release failed")
    if (( ${#problems[@]} )); then fail host-events-restore "$(printf '%s; ' "${problems[@]}")"; else pass host-events-restore; fi
    stop_sriovd
else
    fail host-events-restore "setup failed: $(tail -n 3 "$log" | tr '\n' ' ')"
    stop_sriovd
fi

# report, then the VFs vanish and come back
if start_sriovd report 3 && acquire; then
    problems=()
    t_report=$(date +%s.%N)
    "$IP" link set "$pf" vf "$idx" vlan 7
    lane_wait 2 lease_is "$id" drifted
    echo "lane: host-events (report): $id VF $idx of $pf: vlan 7 set by ip, lease $(lease_field "$id" condition) when looked at after $("$PYTHON" -c "import time; print(round(time.time() - $t_report, 2))") s"
    condition=$(lease_field "$id" condition)
    [[ $condition == drifted ]] || problems+=("lease condition is '$condition', not drifted")
    [[ $(lease_field "$id" problems) == *"vlan 100 -> 7 (report)"* ]] || problems+=("lease problems do not show the drift: $(lease_field "$id" problems)")
    [[ $(kernel_vlan "$idx") == 7 ]] || problems+=("report changed the host: VF $idx has VLAN $(kernel_vlan "$idx")")
    if (( ${#problems[@]} )); then fail host-events-report "$(printf '%s; ' "${problems[@]}")"; else pass host-events-report; fi

    problems=()
    w0=$(date +%s.%N)
    echo 0 >"$SYS_PCI/$igb/sriov_numvfs"
    # The write returns once the driver has changed the VFs (seconds under TCG): timed from then.
    t0=$(date +%s.%N)
    took=$("$PYTHON" -c "print(round($t0 - $w0, 2))")
    lane_wait 2 lease_is "$id" lost ||
        problems+=("lease is '$(lease_field "$id" condition)' 2 s after sriov_numvfs=0, not lost")
    echo "lane: host-events (lost): the write took $took s; lease $(lease_field "$id" condition) after $("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))") s"
    lane_wait 2 events_seen report lease.lost || problems+=("no lease.lost event: $(tail -c 300 "$state/events-report.log")")
    # The follower has exited: the drift of the report scenario must be in its output too.
    events_seen report lease.drift || problems+=("no lease.drift event for the report scenario: $(tail -c 300 "$state/events-report.log")")
    grep -Eq '"action" ?: ?"report"' "$state/events-report.log" || problems+=("the lease.drift event has no action report")
    drift_seen=$(event_after report lease.drift "$t_report")
    lost_seen=$(event_after report lease.lost "$t0")
    within_2s "$lost_seen" || problems+=("lease.lost journaled $lost_seen s after the write returned, not within 2 s")
    echo "lane: host-events (report): lease.drift journaled after $drift_seen s; (lost): lease.lost journaled $lost_seen s after the write returned"
    within_2s "$drift_seen" || problems+=("report: lease.drift journaled $drift_seen s after the change, not within 2 s")
    if (( ${#problems[@]} )); then fail host-events-lost "$(printf '%s; ' "${problems[@]}")"; else pass host-events-lost; fi

    problems=()
    w0=$(date +%s.%N)
    echo 4 >"$SYS_PCI/$igb/sriov_numvfs"
    # The write returns once the driver has changed the VFs (seconds under TCG): timed from then.
    t0=$(date +%s.%N)
    took=$("$PYTHON" -c "print(round($t0 - $w0, 2))")
    lane_wait 2 pool_has ev 4 || problems+=("pool ev shows $(pool_present ev) VFs 2 s after sriov_numvfs=4, not 4")
    echo "lane: host-events (new VFs): the write took $took s; pool ev counts $(pool_present ev) after $("$PYTHON" -c "import time; print(round(time.time() - $t0, 2))") s"
    echo "lane: host-events: after 0 -> 4 VFs: $("$SRIOVCTL" pool list --socket "$sock" 2>&1 | tr '\n' ' ')"
    if (( ${#problems[@]} )); then fail host-events-new-vfs "$(printf '%s; ' "${problems[@]}")"; else pass host-events-new-vfs; fi
    "$SRIOVCTL" lease release "$id" --socket "$sock" >/dev/null 2>&1
    stop_sriovd
else
    fail host-events-report "setup failed: $(tail -n 3 "$log" | tr '\n' ' ')"
    stop_sriovd
fi
