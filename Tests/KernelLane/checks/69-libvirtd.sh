#!/bin/bash
# The libvirt hook under the real libvirtd: Debian's libvirtd (libvirt-daemon and
# libvirt-daemon-driver-qemu, installed on the host by run.sh) runs in the guest with sriovctl
# installed as /etc/libvirt/hooks/qemu (a link named `qemu`, as the guide installs it) and sriovd on
# its default socket. `virsh start --paused` of a domain whose <hostdev managed='no'> names igb VF 0
# of pool vm runs the hook's `prepare begin`: one lease, consumer libvirt:<uuid>, the VF on vfio-pci,
# and libvirt's QEMU (the lane's QEMU 10) holds the VF (vfio-pci, 8086:10ca, in `info qtree`); the
# lease outlives sriovd's consumer grace because libvirtd's own run-state file names the running QEMU;
# `virsh destroy` runs `release end`: no lease, the VF off vfio-pci, `lease check` clean. A domain
# whose hostdev is VF 3 (not in the pool) does not start: virsh's error carries the hook's reason, and
# nothing is leased. And a domain without sriovd's metadata naming pool VF 1 (on no driver) is refused
# by libvirt itself: the hook's lease is what makes an unmanaged hostdev startable.
#
# libvirtd runs in the foreground of this check with a private libvirtd.conf (no polkit: auth none on
# its socket) and the guest's /etc/libvirt/qemu.conf (the guest's /etc is a tmpfs overlay; removed
# at the end). What qemu.conf turns off, and why:
# - user/group root, dynamic_ownership 0, remember_owner 0, security_driver "none": QEMU runs as root
#   like everything in the lane (the /dev/vfio ownership hand-over is 68's subject), the guest has no
#   AppArmor, and the overlay root need not carry libvirt's ownership xattrs;
# - namespaces []: no private /dev for QEMU (it would need libvirt to populate it; not under test);
# - cgroup_controllers []: the guest mounts no cgroup file system, and there is no systemd/machined;
# - stdio_handler "file": no virtlogd in the guest;
# - seccomp_sandbox 0: not under test, and one less thing to differ from 66-attach-consumers' QEMU;
# - relaxed_acs_check 1: QEMU's PCIe root port has no ACS capability, which libvirt's strict check
#   would refuse for the VF behind it (the emulated IOMMU still gives every VF its own group).
# libvirtd resolves its build's QEMU user (libvirt-qemu) at startup even when qemu.conf says root, and
# that user comes from libvirt-daemon-system (not installed: it brings systemd units and a default
# network): the check adds it to the guest's /etc/passwd and /etc/group, and puts them back after.
# The domain has <acpi/>: without it libvirt 9.0 passes -no-acpi, which QEMU 10 no longer has.
# The domain is type 'qemu' (TCG: the guest has no /dev/kvm) and its emulator is a two-line wrapper
# that runs the lane's QEMU with its firmware directories (-L), as 66-attach-consumers does.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary libvirtd "$SRIOVCTL" || exit 0
require_binary libvirtd-daemon "$SRIOVD" || exit 0
LIBVIRTD=/usr/sbin/libvirtd
if [[ ! -x $LIBVIRTD ]] || ! command -v virsh >/dev/null; then
    fail libvirtd-setup "libvirtd or virsh is not installed on the host (libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients: run.sh installs them)"
    exit 0
fi
if [[ -z ${QEMU:-} || ! -x $QEMU ]]; then
    fail libvirtd-setup "the lane's QEMU is not visible in the guest (QEMU='${QEMU:-}')"
    exit 0
fi

lane_igb_scenario_setup libvirtd 69-libvirtd || exit 0
sysctl -qw "net.ipv6.conf.$pf.accept_ra=0" 2>/dev/null
lvpid=""
hooks=/etc/libvirt/hooks
qemuconf=/etc/libvirt/qemu.conf
cleanup69() {
    virsh -c qemu:///system destroy vm-libvirtd >/dev/null 2>&1
    [[ -n $lvpid ]] && { kill "$lvpid" 2>/dev/null; wait "$lvpid" 2>/dev/null; }
    rm -f "$hooks/qemu" "$qemuconf"
    [[ -e $state/passwd.orig ]] && cat "$state/passwd.orig" >/etc/passwd
    [[ -e $state/group.orig ]] && cat "$state/group.orig" >/etc/group
    lane_igb_scenario_cleanup
}
trap cleanup69 EXIT
lane_vm_pool "$pf" >"$config"
# The default socket and libvirt run-state directory: the hook is a bare link, run by libvirtd with
# libvirt's own short environment (no SRIOVD_SOCKET), exactly as on a host.
sock=/run/sriovd/sriovd.sock
mkdir -p /run/sriovd
lane_start_sriovd --log-level info --consumer-grace 3 || { fail libvirtd-setup "$lane_sriovd_error"; exit 0; }
export SRIOVD_SOCKET=$sock

# ------------------------------------------------------------------------------ libvirtd, the hook
if ! getent passwd libvirt-qemu >/dev/null; then
    cp /etc/passwd "$state/passwd.orig"
    echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >>/etc/passwd
fi
if ! getent group libvirt-qemu >/dev/null; then
    cp /etc/group "$state/group.orig"
    echo 'libvirt-qemu:x:64055:' >>/etc/group
fi
mkdir -p "$hooks"
ln -sfn "$SRIOVCTL" "$hooks/qemu"   # before libvirtd starts: it looks for hooks once, at startup
cat >"$qemuconf" <<'EOC'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
seccomp_sandbox = 0
relaxed_acs_check = 1
EOC
lvlog="$state/libvirtd.log"
cat >"$state/libvirtd.conf" <<EOC
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$lvlog"
EOC
emulator="$state/qemu-lane"
{
    echo '#!/bin/sh'
    printf 'exec %q' "$QEMU"
    for d in $QEMU_DATA; do printf ' -L %q' "$d"; done
    echo ' "$@"'
} >"$emulator"
chmod 0755 "$emulator"

VIRSH=(virsh -q -c qemu:///system)
t0=$(date +%s)
"$LIBVIRTD" --config "$state/libvirtd.conf" >>"$state/libvirtd.stdout" 2>&1 &
lvpid=$!
if ! lane_wait 60 "${VIRSH[@]}" uri; then
    fail libvirtd-setup "libvirtd did not answer within 60 s: $(tail -n 5 "$lvlog" "$state/libvirtd.stdout" 2>/dev/null | tr '\n' ' ')"
    exit 0
fi
echo "lane: libvirtd answered after $(( $(date +%s) - t0 )) s"

lvtail() { tail -n 8 "$lvlog" 2>/dev/null | tr '\n' ' ' | cut -c1-600; }

vf0=$(lane_vf "$igb" 0); vf3=$(lane_vf "$igb" 3)
uuid=5d0f3c2b-9e1a-4b7c-8d6e-1f2a3b4c5d69
lane_domain_xml vm-libvirtd "$uuid" "$vf0" "$emulator" >"$state/vm-libvirtd.xml"
lane_domain_xml vm-outside 0a0b0c0d-0000-4000-8000-000000000069 "$vf3" "$emulator" >"$state/vm-outside.xml"

# Defining makes libvirtd probe the emulator's capabilities (QMP, under TCG in TCG: the slow part).
t0=$(date +%s)
out=$("${VIRSH[@]}" define "$state/vm-libvirtd.xml" 2>&1 && "${VIRSH[@]}" define "$state/vm-outside.xml" 2>&1); rc=$?
echo "lane: libvirtd-define: exit $rc after $(( $(date +%s) - t0 )) s: $out"
if [[ $rc == 0 ]]; then
    pass libvirtd-define
else
    fail libvirtd-define "virsh define exited $rc: ${out:0:400}; libvirtd log: $(lvtail)"
    exit 0
fi

# ------------------------------------------------------------------ start: the hook's prepare leases
t0=$(date +%s)
out=$("${VIRSH[@]}" start --paused vm-libvirtd 2>&1); rc=$?
echo "lane: libvirtd-start: exit $rc after $(( $(date +%s) - t0 )) s: $out"
id=$(lane_leases_of vm-libvirtd)
state_now=$("${VIRSH[@]}" domstate vm-libvirtd 2>&1)
if [[ $rc == 0 && $(wc -w <<<"$id") == 1 && $(lane_driver "$vf0") == vfio-pci && $state_now == paused ]] \
    && "$SRIOVCTL" lease show "$id" 2>&1 | grep -q "consumer libvirt:$uuid"; then
    pass libvirtd-start-leases
else
    fail libvirtd-start-leases "virsh start exit $rc (${out:0:300}), state '$state_now', leases '$id', $vf0 on $(lane_driver "$vf0"); libvirtd log: $(lvtail)"
fi

# QEMU, started by libvirtd, holds the VF: a vfio-pci device for the VF's host address, the 82576 VF
# (8086:10ca). `info qtree`, not `info pci`: libvirt puts the device behind a pcie-root-port, and in a
# paused QEMU no firmware has numbered the bridges yet, so `info pci` does not reach it.
out=$("${VIRSH[@]}" qemu-monitor-command --hmp vm-libvirtd 'info qtree' 2>&1); rc=$?
dev=$(awk '/dev: vfio-pci, id "hostdev0"/ { on = 1; print; next } on && /dev: / { exit } on' <<<"$out")
echo "lane: libvirtd-qemu-has-vf: $(grep -E 'dev: vfio-pci|host = |pci id' <<<"$dev" | tr -s ' \n' ' ')"
if [[ $rc == 0 && $dev == *"host = \"$vf0\""* && $dev == *"pci id 8086:10ca"* ]]; then
    pass libvirtd-qemu-has-vf
else
    fail libvirtd-qemu-has-vf "info qtree exit $rc: $(tr -s ' \n' ' ' <<<"${dev:-${out:0:600}}" | cut -c1-600)"
fi

# libvirtd's own run-state file (/run/libvirt/qemu/vm-libvirtd.xml, QEMU's pid) keeps the lease's
# consumer alive past sriovd's 3 s grace.
sleep 10
kept=$(lane_leases_of vm-libvirtd)
if [[ -n $id && $kept == "$id" && -e /run/libvirt/qemu/vm-libvirtd.xml ]]; then
    pass libvirtd-consumer-alive
else
    fail libvirtd-consumer-alive "lease '$kept' 10 s later (was '$id'); run-state: $(ls /run/libvirt/qemu 2>&1 | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- destroy: the hook's release releases
out=$("${VIRSH[@]}" destroy vm-libvirtd 2>&1); rc=$?
check=$("$SRIOVCTL" lease check 2>&1); crc=$?
echo "lane: libvirtd-destroy: exit $rc: $out; lease check: $crc"
if [[ $rc == 0 && -z $(lane_leases_of vm-libvirtd) && $(lane_driver "$vf0") != vfio-pci && $crc == 0 ]] \
    && "$SRIOVCTL" audit 2>&1 | grep "lease.release" | grep -q "$id"; then
    pass libvirtd-destroy-releases
else
    fail libvirtd-destroy-releases "virsh destroy exit $rc (${out:0:200}), leases '$(lane_leases_of vm-libvirtd)', $vf0 on $(lane_driver "$vf0"), lease check $crc: ${check:0:300}"
fi

# ------------------------------------------------- a hostdev outside the pool: the start is refused
out=$("${VIRSH[@]}" start --paused vm-outside 2>&1); rc=$?
echo "lane: libvirtd-refused: exit $rc: $(tr '\n' ' ' <<<"$out")"
state_now=$("${VIRSH[@]}" domstate vm-outside 2>&1)
if [[ $rc != 0 && $out == *"$vf3 is not in pool vm"* && -z $(lane_leases_of vm-outside) && $(lane_driver "$vf3") != vfio-pci \
    && $state_now == "shut off" && -z $("$SRIOVCTL" lease list 2>&1 | grep -o 'l-[0-9a-f]\{16\}') ]]; then
    pass libvirtd-refused
else
    fail libvirtd-refused "virsh start exit $rc (${out:0:400}), state '$state_now', leases: $("$SRIOVCTL" lease list 2>&1 | tr '\n' ' ' | cut -c1-200), $vf3 on $(lane_driver "$vf3")"
fi

# -------------------------------------------- without the hook's lease, libvirt itself refuses the VF
# The same domain without sriovd's metadata (the hook leaves it alone) naming pool VF 1, which is on no
# driver: libvirt starts an unmanaged hostdev only once it is on a stub driver (vfio-pci), so what lets
# the first start go on is the hook's lease.
sed '/sriovd:lease/d; s/vm-libvirtd/vm-nohook/; s/<uuid>.*<\/uuid>/<uuid>0a0b0c0d-0000-4000-8000-000000000169<\/uuid>/' \
    "$state/vm-libvirtd.xml" >"$state/vm-nohook.xml"
vf1=$(lane_vf "$igb" 1)
sed -i "s/function='0x[0-7]'/function='0x${vf1##*.}'/; s/slot='0x[0-9a-f]*'/slot='0x$(cut -d: -f3 <<<"${vf1%.*}")'/" "$state/vm-nohook.xml"
out=$("${VIRSH[@]}" define "$state/vm-nohook.xml" 2>&1 && "${VIRSH[@]}" start --paused vm-nohook 2>&1); rc=$?
echo "lane: libvirtd-needs-hook: exit $rc: $(tr '\n' ' ' <<<"$out")"
if [[ $rc != 0 && $out == *"Unmanaged PCI device $vf1 must be manually detached from the host"* \
    && -z $("$SRIOVCTL" lease list 2>&1 | grep -o 'l-[0-9a-f]\{16\}') && $(lane_driver "$vf1") == none ]]; then
    pass libvirtd-needs-hook
else
    fail libvirtd-needs-hook "virsh start exit $rc (${out:0:400}), $vf1 on $(lane_driver "$vf1")"
fi
"${VIRSH[@]}" undefine vm-libvirtd >/dev/null 2>&1
"${VIRSH[@]}" undefine vm-outside >/dev/null 2>&1
"${VIRSH[@]}" undefine vm-nohook >/dev/null 2>&1
