#!/bin/bash
# A NIC without SR-IOV leased whole on the real kernel: the guest's e1000e (QEMU's 82574L, no
# sriov_totalvfs, on a root port of its own) is listed by `sriovctl inventory --json` apart from the
# PFs, pooled with `devices:` and leased through sriovd: e1000e is unbound (its netdev goes), vfio-pci
# is bound and /dev/vfio/<group> exists; the lane's QEMU, run in the guest paused with exactly
# `sriovctl lease show <id> --format qemu`, shows the NIC in `info pci`; on release e1000e is bound
# again and its netdev is back. A config naming the management NIC (virtio-net, default route) in
# devices: is refused and changes nothing. The oracle is sysfs, /proc/net/route and QEMU. The NIC is
# put back on e1000e when the check ends, whatever happened.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

lane_e1000e_check whole-nic 68-whole-nic || exit 0

# The NIC's netdev, printed; fails while e1000e does not have it.
nic_netdev() { lane_netdev "$nic"; }
# The PCI function under the interface carrying the default route (the kernel's answer).
management_function() {
    local iface
    iface=$(awk '$2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route)
    [[ -n $iface ]] || return 1
    readlink -f "/sys/class/net/$iface/device" | tr '/' '\n' | grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -n 1
}

# Whatever happened: sriovd stopped, the NIC off vfio-pci, override cleared, e1000e bound.
cleanup() { lane_give_back "$nic" e1000e nic_netdev; }
trap cleanup EXIT
trap 'exit 143' TERM

# Precondition, set with the kernel: e1000e bound, its netdev present.
lane_rebind_host_driver "$nic" e1000e
if ! lane_wait 30 nic_netdev; then
    fail whole-nic-setup "e1000e NIC $nic (driver $(lane_driver "$nic")) has no netdev"
    exit 0
fi
netdev=$(lane_netdev "$nic")
group=$(basename "$(readlink -f "$dev/iommu_group")")
mgmt=$(management_function) || { fail whole-nic-setup "no default route in /proc/net/route"; exit 0; }
echo "lane: whole-nic: $nic ($netdev, IOMMU group $group); management NIC $mgmt"

# ---------------------------------------------------------------------------------------- discovery
# Listed in `functions` (not in `pfs`) with what sysfs says; the management NIC is listed and marked.
"$SRIOVCTL" inventory --json >"$state/inventory.json" 2>&1; rc=$?
verdict=$("$PYTHON" - "$state/inventory.json" "$nic" "$netdev" "$group" "$mgmt" 2>&1 <<'EOP'
import json, sys
path, nic, netdev, group, mgmt = sys.argv[1:6]
inv = json.load(open(path))
problems = []
if any(pf["pciAddress"] == nic for pf in inv["pfs"]):
    problems.append(f"{nic} is listed as an SR-IOV PF")
fns = {f["pciAddress"]: f for f in inv.get("functions", [])}
f = fns.get(nic)
if f is None:
    problems.append(f"{nic} is not in functions ({sorted(fns)})")
else:
    want = {"driver": "e1000e", "interfaces": [netdev], "iommuGroup": int(group), "vendorID": "8086", "deviceID": "10d3", "isManagement": False}
    for k, v in want.items():
        if f.get(k) != v:
            problems.append(f"functions[{nic}].{k} is {f.get(k)!r}, sysfs says {v!r}")
    if not (f.get("classCode") or "").startswith("0x02"):
        problems.append(f"functions[{nic}].classCode is {f.get('classCode')!r}")
m = fns.get(mgmt)
if m is None or not m.get("isManagement"):
    problems.append(f"the management NIC {mgmt} is not listed as a management function: {m!r}")
if mgmt not in inv["host"].get("managementDevices", []):
    problems.append(f"host.managementDevices lacks {mgmt}")
print("; ".join(problems) or "ok")
EOP
)
if [[ $rc == 0 && $verdict == ok ]]; then
    pass whole-nic-inventory
else
    fail whole-nic-inventory "sriovctl inventory --json exited $rc: ${verdict:0:400}"
fi
table=$("$SRIOVCTL" inventory 2>&1)
if [[ $table == *"NICs without SR-IOV"* && $table == *"$nic"* ]]; then
    pass whole-nic-inventory-table
else
    fail whole-nic-inventory-table "sriovctl inventory does not show $nic in its section: ${table:0:400}"
fi

# ------------------------------------------------------------------- the management NIC is refused
lane_devices_pool mgmt "$mgmt" >"$config"
out=$(timeout 60 "$SRIOVD" --state-dir "$state/refused" --config "$config" --socket "$state/refused.sock" --log-level warning 2>&1); rc=$?
if [[ $rc != 0 && $rc != 124 && $out == *"$mgmt"*"is the management NIC"* && $(lane_driver "$mgmt") == virtio-pci ]] \
    && [[ -n $(awk '$2 == "00000000" && $8 == "00000000"' /proc/net/route) ]]; then
    pass whole-nic-management-refused
else
    fail whole-nic-management-refused "sriovd with devices: [$mgmt] exited $rc (driver now $(lane_driver "$mgmt")): ${out:0:400}"
fi

lane_devices_pool nic "$nic" >"$config"
lane_start_sriovd || { fail whole-nic-setup "$lane_sriovd_error"; exit 0; }

# Acquire (e1000e lets go, its netdev goes), QEMU opens the NIC, release (e1000e and the netdev are back).
lane_whole_device_cycle whole-nic nic "$nic" e1000e 8086:10d3 nic_netdev || exit 0
