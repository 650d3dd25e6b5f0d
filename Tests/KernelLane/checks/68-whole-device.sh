#!/bin/bash
# Whole-device passthrough on the real kernel: the guest's NVMe controller (QEMU's nvme with SR-IOV,
# no VFs, one namespace) is leased whole from a `devices:` pool through sriovd: the nvme driver is
# unbound (its namespace's block device goes), vfio-pci is bound and /dev/vfio/<group> exists; the lane's
# QEMU, run in the guest paused with exactly `sriovctl lease show <id> --format qemu`, shows the
# controller in `info pci`; `pf set-numvfs` on the leased PF is refused, even with --force; on release
# nvme is bound again and the namespace is back as a block device. The oracle is sysfs and QEMU. The
# controller is put back on nvme when the check ends, whatever happened. Then leased again for a VM
# user (--device-user/--device-group): /dev/vfio/<group> is theirs, QEMU opens it as that user.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary whole-device "$SRIOVCTL" || exit 0
require_binary whole-device-daemon "$SRIOVD" || exit 0
nvme=$(lane_nvme_pf) || { fail whole-device-setup "no NVMe PF (1b36:0010) in the guest"; exit 0; }
dev=$SYS_PCI/$nvme
lane_daemon_files 68-whole

# The namespace's block device (nvme0n1, ...), if any. The controller is in an NVMe subsystem, so with
# native multipath the disk is the subsystem's head (nvme0n1); the controller's own path (nvme0c0n1)
# is hidden and has no device node. The guest has no other NVMe.
namespace_of() {
    local b n
    for b in /sys/block/nvme*; do
        n=$(basename "$b")
        [[ -e $b && $n =~ ^nvme[0-9]+n[0-9]+$ ]] && { echo "$n"; return 0; }
    done
    return 1
}

# Whatever happened: sriovd stopped, the controller off vfio-pci, override cleared, nvme bound.
cleanup() { lane_give_back "$nvme" nvme namespace_of; }
trap cleanup EXIT
trap 'exit 143' TERM

# Precondition, set with the kernel: no VFs, nvme bound, the namespace present.
lane_set_numvfs "$nvme" 0 1 || { fail whole-device-setup "cannot reset NVMe PF $nvme to 0 VFs"; exit 0; }
lane_rebind_host_driver "$nvme" nvme
if ! lane_wait 30 namespace_of; then
    fail whole-device-setup "NVMe $nvme (driver $(lane_driver "$nvme")) has no namespace block device; run.sh attaches one (nvme-ns)"
    exit 0
fi
ns=$(namespace_of)
group=$(basename "$(readlink -f "$dev/iommu_group")")
echo "lane: whole-device: $nvme (namespace $ns, IOMMU group $group)"

lane_devices_pool disk "$nvme" >"$config"
lane_start_sriovd || { fail whole-device-setup "$lane_sriovd_error"; exit 0; }

# The lease engine is the one door: no VF-count change under a PF leased whole, not even forced.
numvfs_refused() {
    local force out rc
    for force in "" --force; do
        out=$("$SRIOVCTL" pf set-numvfs "$nvme" 1 $force --socket "$sock" 2>&1); rc=$?
        if [[ $rc != 0 && $out == *"leased whole"* && $(<"$dev/sriov_numvfs") == 0 && $(lane_driver "$nvme") == vfio-pci ]]; then
            pass "whole-device-numvfs-refused${force:+-force}"
        else
            fail "whole-device-numvfs-refused${force:+-force}" "pf set-numvfs $nvme 1 $force exited $rc (sriov_numvfs $(<"$dev/sriov_numvfs")): ${out:0:300}"
        fi
    done
}

# Acquire (nvme lets go, the namespace goes), the numvfs refusals while leased, QEMU opens the
# controller, release (nvme and the namespace are back).
lane_whole_device_cycle whole-device disk "$nvme" nvme 1b36:0010 namespace_of numvfs_refused || exit 0
# The namespace reads again: its first sector through the block layer (devtmpfs makes the node).
back=$(namespace_of)
if [[ -n $back && -b /dev/$back ]] && dd if="/dev/$back" of=/dev/null bs=512 count=1 2>/dev/null; then
    pass whole-device-namespace-reads
else
    fail whole-device-namespace-reads "after release: namespace ${back:-missing}, /dev/${back:-?} cannot be read"
fi

# ------------------------------------------------------------- /dev/vfio for the VM's user (item 3)
# Leased again for a VM that runs as uid 64055, gid 107 (numbers: the guest's passwd need not know
# them): /dev/vfio/<group> is theirs (0660) while leased, the same QEMU opens the controller as that
# user (setpriv; locked memory raised first, as libvirt does for its unprivileged QEMU), and on release
# the node goes with vfio-pci and nvme is back.
out=$("$SRIOVCTL" lease acquire --pool disk --owner vm-disk-user --device-user 64055 --device-group 107 --json --socket "$sock" 2>&1); rc=$?
id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
if [[ $rc != 0 || -z $id ]]; then
    fail whole-device-owner "lease acquire --device-user 64055 --device-group 107 exited $rc: ${out:0:400}"
    exit 0
fi
owner=$(stat -c '%u %g %a %F' "/dev/vfio/$group" 2>&1)
if [[ $owner == "64055 107 660 character special file" ]]; then
    pass whole-device-owner
else
    fail whole-device-owner "/dev/vfio/$group after acquire with --device-user 64055 --device-group 107: $owner"
fi
if [[ -n ${QEMU:-} && -x $QEMU ]]; then
    args=$("$SRIOVCTL" lease show "$id" --format qemu --socket "$sock" 2>&1)
    qout=$(ulimit -l unlimited; lane_qemu_info_pci "$args" setpriv --reuid=64055 --regid=107 --clear-groups); rc=$?
    echo "lane: whole-device-owner-qemu: setpriv --reuid=64055 --regid=107 $QEMU ... $args exited $rc"
    if [[ $rc == 0 && $qout == *"PCI device 1b36:0010"* ]]; then
        pass whole-device-owner-qemu
    else
        fail whole-device-owner-qemu "QEMU as uid 64055 with '$args' exited $rc: $(tr '\n' ' ' <<<"${qout:0:600}")"
    fi
fi
out=$("$SRIOVCTL" lease release "$id" --socket "$sock" 2>&1); rc=$?
if [[ $rc == 0 && ! -e /dev/vfio/$group ]] && lane_wait 30 namespace_of && [[ $(lane_driver "$nvme") == nvme ]]; then
    pass whole-device-owner-release
else
    fail whole-device-owner-release "release exited $rc (${out:0:200}); /dev/vfio/$group: $(stat -c '%u %g %a' "/dev/vfio/$group" 2>&1); driver $(lane_driver "$nvme")"
fi
