#!/bin/bash
# A whole device whose release fails is quarantined, and `vf unquarantine` gives it back, on the real
# kernel: the guest's e1000e NIC (no SR-IOV) is leased whole through sriovd; with the e1000e module
# unloaded the release cannot rebind it, so sriovd quarantines it (and says why); unquarantine then
# refuses while no driver binds it (after unbinding from vfio-pci and probing for real); with the NIC
# parked on vfio-pci by hand and e1000e loaded again, unquarantine unbinds, probes, and e1000e takes
# it with its netdev; the next lease gets it. The oracle is sysfs and `sriovctl pool list`. e1000e is
# loaded and bound to the NIC when the check ends, whatever happened.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

lane_e1000e_check whole-quarantine 68-whole-quarantine || exit 0

nic_netdev() { lane_netdev "$nic"; }
override() { tr -d '\n' <"$dev/driver_override" | sed 's/(null)//'; }
# quarantined_count: the QUARANTINED column of the pool's row in `sriovctl pool list`.
quarantined_count() { "$SRIOVCTL" pool list --socket "$sock" 2>/dev/null | awk '$1 == "nic" { print $5 }'; }
# Whatever happened: sriovd stopped, e1000e loaded again, and the NIC back on it with its netdev.
cleanup() { modprobe e1000e 2>/dev/null; lane_give_back "$nic" e1000e nic_netdev; }
trap cleanup EXIT
trap 'exit 143' TERM

modprobe e1000e 2>/dev/null
lane_rebind_host_driver "$nic" e1000e
lane_wait 30 nic_netdev || { fail whole-quarantine-setup "e1000e NIC $nic (driver $(lane_driver "$nic")) has no netdev"; exit 0; }
lane_devices_pool nic "$nic" >"$config"
lane_start_sriovd || { fail whole-quarantine-setup "$lane_sriovd_error"; exit 0; }

out=$("$SRIOVCTL" lease acquire --pool nic --owner vm-q --json --socket "$sock" 2>&1); rc=$?
id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
if [[ $rc != 0 || -z $id || $(lane_driver "$nic") != vfio-pci ]]; then
    fail whole-quarantine-setup "lease acquire exited $rc (driver $(lane_driver "$nic")): ${out:0:400}"
    exit 0
fi

# ------------------------------------------------------------- a release that cannot rebind e1000e
if ! modprobe -r e1000e 2>"$state/modprobe.err"; then
    fail whole-quarantine-setup "modprobe -r e1000e: $(<"$state/modprobe.err")"
    exit 0
fi
out=$("$SRIOVCTL" lease release "$id" --socket "$sock" 2>&1); rc=$?
if [[ $rc == 0 && $out == *"released $id (1 device returned to pool nic)"* \
    && $out == *"quarantined $nic: release of lease $id failed: device $nic did not rebind to its host driver e1000e"* \
    && $(lane_driver "$nic") == none && $(quarantined_count) == 1 ]]; then
    pass whole-quarantine-release
else
    fail whole-quarantine-release "release exited $rc, driver $(lane_driver "$nic"), quarantined $(quarantined_count): ${out:0:400}"
fi

# ------------------------------------------------------------------- unquarantine with no driver
out=$("$SRIOVCTL" vf unquarantine "$nic" --socket "$sock" 2>&1); rc=$?
if [[ $rc != 0 && $out == *"device $nic stays quarantined"*"has no driver after drivers_probe"* \
    && $(lane_driver "$nic") == none && $(quarantined_count) == 1 ]]; then
    pass whole-quarantine-no-driver
else
    fail whole-quarantine-no-driver "unquarantine without e1000e exited $rc, driver $(lane_driver "$nic"), quarantined $(quarantined_count): ${out:0:400}"
fi

# --------------------------------------------- parked on vfio-pci, e1000e back: unquarantine returns it
echo vfio-pci >"$dev/driver_override"
echo "$nic" >/sys/bus/pci/drivers_probe
modprobe e1000e
parked=$(lane_driver "$nic")
out=$("$SRIOVCTL" vf unquarantine "$nic" --socket "$sock" 2>&1); rc=$?
if [[ $parked == vfio-pci && $rc == 0 && $out == "$nic: scrubbed and back in pool nic" ]] && lane_wait 30 nic_netdev \
    && [[ $(lane_driver "$nic") == e1000e && -z $(override) && $(quarantined_count) == 0 ]]; then
    pass whole-quarantine-returned
else
    fail whole-quarantine-returned "parked on $parked; unquarantine exited $rc (${out:0:300}); driver $(lane_driver "$nic"), override '$(override)', netdev $(lane_netdev "$nic" || echo missing), quarantined $(quarantined_count)"
fi

# --------------------------------------------------------------------------- leasable again
out=$("$SRIOVCTL" lease acquire --pool nic --owner vm-q2 --json --socket "$sock" 2>&1); rc=$?
id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
now=$(lane_driver "$nic")
rel=$("$SRIOVCTL" lease release "${id:-none}" --socket "$sock" 2>&1); rrc=$?
if [[ $rc == 0 && $now == vfio-pci && $rrc == 0 ]] && lane_wait 30 nic_netdev && [[ $(lane_driver "$nic") == e1000e ]]; then
    pass whole-quarantine-leasable
else
    fail whole-quarantine-leasable "acquire exited $rc (driver then $now): ${out:0:200}; release exited $rrc: ${rel:0:200}"
fi
