#!/bin/bash
# sriovd on a real kernel: `sriovd apply` creates the configured igb VFs (autoprobe off); sriovd serves
# the lease API on its Unix socket; `sriovctl --socket` leases a VF (bound to vfio-pci in sysfs, with
# /dev/vfio/<group>, its VLAN in `ip -d link show`), reports problems with the engine's exit codes,
# releases it; SIGTERM stops sriovd cleanly (exit 0, socket removed). In between, a "reboot" (VFs
# through 0, back unbound): `sriovd apply` puts the leased VF back on vfio-pci with its VLAN, and the
# restarted sriovd finds nothing to quarantine. The oracle is sysfs, /dev/vfio and iproute2.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary daemon "$SRIOVCTL" || exit 0
require_binary daemon "$SRIOVD" || exit 0
igb=$(lane_igb_pf) || { fail daemon-setup "no igb PF (8086:10c9) in the guest"; exit 0; }
state="$SRIOV_STATE_DIR/70-daemon"
config="$state.yaml"
sock="$state/run/sriovd.sock"
log="$state.log"
pid=

stop_daemon() {   # stop_daemon: SIGTERM, wait; sets rc to sriovd's exit status
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"; rc=$?
    pid=
}

cleanup() {
    local ids id problems=()
    [[ -n $pid ]] && { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; problems+=("sriovd was still running"); }
    if [[ -e $config ]]; then
        ids=$("$SRIOVCTL" lease list --json --direct --config "$config" --state-dir "$state" 2>/dev/null |
            grep -o '"id" : "l-[0-9a-f]*"' | grep -o 'l-[0-9a-f]*')
        for id in $ids; do
            "$SRIOVCTL" lease release "$id" --direct --config "$config" --state-dir "$state" >/dev/null 2>&1 ||
                problems+=("lease release $id failed")
        done
    fi
    lane_set_numvfs "$igb" 0 1 || problems+=("igb $igb still has $(lane_vf_count "$igb") VFs")
    rm -rf "$state" "$config" "$log"
    if (( ${#problems[@]} )); then fail daemon-cleanup "${problems[*]}"; else pass daemon-cleanup; fi
}
trap cleanup EXIT
trap 'exit 143' TERM

lane_set_numvfs "$igb" 0 1 || { fail daemon-setup "cannot remove the VFs of igb PF $igb"; exit 0; }
pf=$(lane_netdev "$igb") || { fail daemon-setup "igb PF $igb has no netdev"; exit 0; }
rm -rf "$state"; mkdir -p "$state"
cat >"$config" <<EOC
# Written by Tests/KernelLane/checks/70-daemon.sh
pfs:
  - pf: $pf
    num_vfs: 2
    autoprobe: false
pools:
  - name: lane-daemon
    selectors:
      - pf: $pf
        range: 0-1
    defaults:
      vlan: 100
    policy:
      vlans: ["100"]
    on_release: leave-unbound
EOC

# --- sriovd apply: the configured VF count, autoprobe off; a dry run and a second run change nothing.
out=$("$SRIOVD" apply --dry-run --state-dir "$state" --config "$config" 2>&1); rc=$?
if [[ $rc == 0 && $(lane_vf_count "$igb") == 0 && $out == *"would set autoprobe on -> off, VFs 0 -> 2"* ]]; then
    pass daemon-apply-dry-run
else
    fail daemon-apply-dry-run "exit $rc, $(lane_vf_count "$igb") VFs (want 0): $out"
fi
out=$("$SRIOVD" apply --state-dir "$state" --config "$config" 2>&1); rc=$?
problems=()
[[ $rc == 0 ]] || problems+=("exit $rc: $out")
lane_wait 30 lane_has_vfs "$igb" 2 || problems+=("$(lane_vf_count "$igb") virtfn links, want 2")
[[ $(<"$SYS_PCI/$igb/sriov_numvfs") == 2 ]] || problems+=("sriov_numvfs $(<"$SYS_PCI/$igb/sriov_numvfs")")
[[ $(<"$SYS_PCI/$igb/sriov_drivers_autoprobe") == 0 ]] || problems+=("sriov_drivers_autoprobe is not 0")
for l in "$SYS_PCI/$igb"/virtfn*; do [[ -e $l/driver ]] && problems+=("$(basename "$(readlink "$l")") is bound to $(basename "$(readlink "$l/driver")")"); done
if (( ${#problems[@]} )); then fail daemon-apply "${problems[*]}"; else pass daemon-apply; fi
out=$("$SRIOVD" apply --state-dir "$state" --config "$config" 2>&1); rc=$?
if [[ $rc == 0 && $out == *"0 changed"* ]]; then pass daemon-apply-idempotent; else fail daemon-apply-idempotent "exit $rc: $out"; fi
lane_link_up "$igb" || echo "lane: igb PF link is not up" >&2

start_daemon() {   # start_daemon <assertion>: sriovd on the real host, up to 60 s to listen
    "$SRIOVD" --state-dir "$state" --config "$config" --socket "$sock" --log-level warning >>"$log" 2>&1 &
    pid=$!
    if lane_wait 60 "$SRIOVCTL" pool list --socket "$sock"; then
        pass "$1"
    else
        fail "$1" "sriovd did not answer on $sock within 60 s: $(tail -n 3 "$log" | tr '\n' ' ')"
        return 1
    fi
}
start_daemon daemon-start || exit 0

# vf_state <pci>: "driver override vfio-node-kind group" (read with <<<: the guest has no /dev/fd for <(...))
vf_state() {
    local d=$SYS_PCI/$1 drv=none ovr group=none node=absent
    [[ -e $d/driver ]] && drv=$(basename "$(readlink "$d/driver")")
    ovr=$(<"$d/driver_override")
    [[ -e $d/iommu_group ]] && group=$(basename "$(readlink "$d/iommu_group")")
    [[ -c /dev/vfio/$group ]] && node=char
    echo "$drv ${ovr:-(null)} $node $group"
}
# vf_vlan <index>: the VF's VLAN as the PF reports it (ip -j -d link show)
vf_vlan() {
    "$IP" -j -d link show dev "$pf" | "$PYTHON" -c '
import json, sys
vfs = json.load(sys.stdin)[0].get("vfinfo_list", [])
vf = [v for v in vfs if v.get("vf") == int(sys.argv[1])]
print(vf[0].get("vlan_list", [{}])[0].get("vlan", 0) if vf else "missing")' "$1"
}

# --- lease acquire through the socket
lease_json=$("$SRIOVCTL" lease acquire --socket "$sock" --pool lane-daemon --owner vm-lane --request-id lane-70 --json 2>"$state.err"); rc=$?
read -r id vf index group vfio <<<"$(echo "$lease_json" | "$PYTHON" -c '
import json, sys
try:
    l = json.load(sys.stdin); v = l["vfs"][0]
    print(l["id"], v["pciAddress"], v["index"], v.get("iommuGroup"), v.get("vfioDevice"))
except Exception as e:
    print("none none none none none")')"
if [[ $rc == 0 && $id == l-* ]]; then pass daemon-acquire; else fail daemon-acquire "exit $rc: $(cat "$state.err")"; exit 0; fi
read -r drv ovr node sysgroup <<<"$(vf_state "$vf")"
if [[ $drv == vfio-pci && $ovr == vfio-pci && $node == char && $sysgroup == "$group" && $vfio == "/dev/vfio/$group" ]]; then
    pass daemon-acquire-vfio
else
    fail daemon-acquire-vfio "$vf: driver $drv, driver_override $ovr, /dev/vfio/$sysgroup $node; lease says group $group, $vfio"
fi
vlan=$(vf_vlan "$index")
if [[ $vlan == 100 ]]; then pass daemon-acquire-vlan; else fail daemon-acquire-vlan "ip shows VLAN $vlan on $pf VF $index, want 100"; fi

listed=$(SRIOVD_SOCKET=$sock "$SRIOVCTL" lease list 2>&1); rc=$?
if [[ $rc == 0 && $listed == *"$id  vm-lane  lane-daemon  active  $vf"* ]]; then pass daemon-list; else fail daemon-list "exit $rc: $listed"; fi

# --- problems come back as the engine's errors and exit codes; no daemon is said so
err=$("$SRIOVCTL" lease acquire --socket "$sock" --pool nope --owner vm-lane 2>&1 >/dev/null); rc=$?
if [[ $rc == 66 && $err == "sriovctl: error: no pool named 'nope'"* ]]; then pass daemon-unknown-pool; else fail daemon-unknown-pool "exit $rc: $err"; fi
err=$("$SRIOVCTL" lease list --socket "$state/none.sock" 2>&1 >/dev/null); rc=$?
if [[ $rc == 69 && $err == *"no sriovd is answering on $state/none.sock"*"--direct"* ]]; then pass daemon-no-daemon; else fail daemon-no-daemon "exit $rc: $err"; fi
err=$("$SRIOVCTL" lease list --direct --config "$config" --state-dir "$state" 2>&1 >/dev/null); rc=$?
if [[ $rc == 75 ]]; then pass daemon-direct-locked-out; else fail daemon-direct-locked-out "exit $rc (want 75, the state directory is sriovd's): $err"; fi

# --- SIGTERM: clean exit, socket removed
stop_daemon
if [[ $rc == 0 && ! -e $sock ]]; then pass daemon-sigterm; else fail daemon-sigterm "exit $rc, socket $( [[ -e $sock ]] && echo left behind || echo removed): $(tail -n 3 "$log" | tr '\n' ' ')"; fi

# --- a "reboot": the VFs go and come back unbound with their settings reset; apply restores the lease
lane_set_numvfs "$igb" 0 && lane_set_numvfs "$igb" 2
read -r drv ovr node sysgroup <<<"$(vf_state "$vf")"
[[ $drv == none ]] || echo "lane: after the VFs came back, $vf is bound to $drv" >&2
lane_link_up "$igb" || echo "lane: igb PF link is not up" >&2
out=$("$SRIOVD" apply --state-dir "$state" --config "$config" 2>&1); rc=$?
read -r drv ovr node sysgroup <<<"$(vf_state "$vf")"
vlan=$(vf_vlan "$index")
if [[ $rc == 0 && $drv == vfio-pci && $node == char && $vlan == 100 && $out == *"lease $id VF $vf"*"bound to vfio-pci"* ]]; then
    pass daemon-apply-restores-lease
else
    fail daemon-apply-restores-lease "exit $rc, $vf driver $drv, /dev/vfio/$sysgroup $node, VLAN $vlan: $out"
fi

start_daemon daemon-restart || exit 0
pools=$("$SRIOVCTL" pool list --json --socket "$sock" 2>&1 | "$PYTHON" -c '
import json, sys
try:
    r = json.load(sys.stdin); p = [p for p in r["pools"] if p["name"] == "lane-daemon"][0]
    print(p["total"], p["free"], p["leased"], p["quarantined"], len(r["quarantine"]))
except Exception as e:
    print("unreadable", e)')
shown=$("$SRIOVCTL" lease show "$id" --socket "$sock" 2>&1)
if [[ $pools == "2 1 1 0 0" && $shown == "lease $id  owner vm-lane  pool lane-daemon  active"* && $shown != *"problem:"* ]]; then
    pass daemon-restart-no-drift
else
    fail daemon-restart-no-drift "pool lane-daemon total/free/leased/quarantined, quarantine: $pools (want 2 1 1 0 0); lease show: $shown"
fi

# --- release through the socket
out=$("$SRIOVCTL" lease release "$id" --socket "$sock" 2>&1); rc=$?
read -r drv ovr node sysgroup <<<"$(vf_state "$vf")"
if [[ $rc == 0 && $out == "released $id (1 VF returned to pool lane-daemon)" && $drv == none && $ovr == "(null)" && $node == absent ]]; then
    pass daemon-release
else
    fail daemon-release "exit $rc: $out; $vf driver $drv, driver_override $ovr, /dev/vfio/$sysgroup $node"
fi
stop_daemon
if [[ $rc == 0 && ! -e $sock ]]; then pass daemon-sigterm-after-release; else fail daemon-sigterm-after-release "exit $rc: $(tail -n 3 "$log" | tr '\n' ' ')"; fi
