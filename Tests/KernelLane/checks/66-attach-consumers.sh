#!/bin/bash
# Attach specs proven by their consumers, not compared as text: an igb VF leased through sriovd is
# opened by a real QEMU (the lane's own QEMU 10, run inside the guest, paused) using exactly the
# arguments of `sriovctl lease show <id> --format qemu`, and `info pci` in its monitor shows the VF
# (vendor 8086, device 10ca: the 82576 VF); libvirt's own validator (virt-xml-validate, Debian's
# libvirt-clients, against libvirt's RelaxNG schema) accepts a domain carrying both libvirt forms of
# the lease (`--format libvirt` and `--format libvirt-interface`); Debian's dpdk-testpmd (dpdk-dev,
# unpacked into the lane's cache by run.sh) starts on the leased VF with exactly the EAL arguments of
# `--format dpdk` and reports the port with igb's VF driver.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary attach-consumers "$SRIOVCTL" || exit 0
require_binary attach-consumers-daemon "$SRIOVD" || exit 0

lane_igb_scenario_setup attach-consumers 66-attach || exit 0
sysctl -qw "net.ipv6.conf.$pf.accept_ra=0" 2>/dev/null
lane_vm_pool "$pf" >"$config"

lane_start_sriovd || { fail attach-consumers-setup "$lane_sriovd_error"; exit 0; }
out=$("$SRIOVCTL" lease acquire --pool vm --owner vm-attach --json --socket "$sock" 2>&1); rc=$?
id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
vf=$(grep -o '"pciAddress" : "[0-9a-f:.]*"' <<<"$out" | head -n 1 | grep -o '[0-9a-f]\{4\}:[0-9a-f:.]*')
if [[ $rc != 0 || -z $id || -z $vf ]]; then
    fail attach-consumers-setup "lease acquire exited $rc: ${out:0:300}"
    exit 0
fi

# ---------------------------------------------------------------------------------- QEMU opens it
qemu_check() {
    local args rc out firmware=() d
    if [[ -z ${QEMU:-} || ! -x $QEMU ]]; then
        fail attach-qemu "the lane's QEMU is not visible in the guest (QEMU='${QEMU:-}')"
        return
    fi
    args=$("$SRIOVCTL" lease show "$id" --format qemu --socket "$sock" 2>&1) || { fail attach-qemu "lease show --format qemu: $args"; return; }
    for d in $QEMU_DATA; do firmware+=(-L "$d"); done
    # Paused (-S): QEMU opens /dev/vfio/<group>, maps the guest's memory for the device's DMA and
    # realizes the device, which is what a VM start needs from the lease; no guest code runs.
    # shellcheck disable=SC2086 # the spec is a list of arguments, as an operator pastes it
    out=$(printf 'info pci\nquit\n' | timeout 120 "$QEMU" "${firmware[@]}" -machine q35 -accel tcg -m 64 -nodefaults \
        -no-user-config -display none -S -monitor stdio $args 2>&1); rc=$?
    echo "lane: attach-qemu: $QEMU ... $args exited $rc"
    if [[ $rc == 0 && $out == *"PCI device 8086:10ca"* && $out == *'id "sriov0"'* ]]; then
        pass attach-qemu
    else
        fail attach-qemu "QEMU with '$args' exited $rc; info pci: $(tr '\n' ' ' <<<"${out:0:600}")"
    fi
}

# ------------------------------------------------------------------- libvirt's schema accepts both
libvirt_check() {
    local hostdev iface xml="$state/domain.xml" out rc
    if ! command -v virt-xml-validate >/dev/null; then
        fail attach-libvirt-schema "virt-xml-validate is not installed on the host (libvirt-clients)"
        return
    fi
    hostdev=$("$SRIOVCTL" lease show "$id" --format libvirt --socket "$sock" 2>&1) || { fail attach-libvirt-schema "--format libvirt: $hostdev"; return; }
    iface=$("$SRIOVCTL" lease show "$id" --format libvirt-interface --socket "$sock" 2>&1) || { fail attach-libvirt-schema "--format libvirt-interface: $iface"; return; }
    cat >"$xml" <<EOX
<domain type='kvm'>
  <name>sriovd-lane</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
$hostdev
$iface
  </devices>
</domain>
EOX
    out=$(virt-xml-validate "$xml" domain 2>&1); rc=$?
    echo "lane: attach-libvirt-schema: $out"
    if [[ $rc == 0 ]]; then pass attach-libvirt-schema; else fail attach-libvirt-schema "virt-xml-validate exited $rc: ${out:0:400}"; fi
}

# ----------------------------------------------------------------- DPDK drives it from user space
dpdk_check() {
    local lib pmds args out rc
    if [[ -z ${DPDK_ROOT:-} || ! -x $DPDK_ROOT/usr/bin/dpdk-testpmd ]]; then
        fail attach-dpdk "dpdk-testpmd is not in the lane's cache (DPDK_ROOT='${DPDK_ROOT:-}'; run.sh downloads Debian's dpdk-dev)"
        return
    fi
    lib=$DPDK_ROOT/usr/lib/x86_64-linux-gnu
    pmds=$(ls -d "$lib"/dpdk/pmds-* 2>/dev/null | head -n 1)
    # EAL loads plugins only from directories no one else can write to, up to /: the lane's cache may
    # sit under /tmp (a fresh clone there, as CI makes), so the two it needs are copied to one of ours.
    # (The PCI bus is not one of them: testpmd links librte_bus_pci itself, and a second copy would
    # register the bus twice.)
    local own; own=$(mktemp -d /root/sriovd-dpdk-plugins.XXXXXX)
    plugin() {   # Debian names them .so.<ABI>
        local f; f=$(ls "$pmds/librte_$1.so".* 2>/dev/null | head -n 1) || return 1
        cp -L "$f" "$own/" && echo "$own/$(basename "$f")"
    }
    args=$("$SRIOVCTL" lease show "$id" --format dpdk --socket "$sock" 2>&1) || { fail attach-dpdk "lease show --format dpdk: $args"; return; }
    # No hugepages (--no-huge, IOVA as virtual addresses, which vfio maps as they are), two cores (main and
    # one forwarding core, which testpmd requires), only
    # the ring mempool and igb's VF driver loaded as plugins.
    # shellcheck disable=SC2086 # the EAL arguments are a list, as an operator pastes them
    out=$(printf 'show port info 0\nquit\n' | LD_LIBRARY_PATH="$lib:$DPDK_ROOT/lib/x86_64-linux-gnu" timeout 300 \
        "$DPDK_ROOT/usr/bin/dpdk-testpmd" -l 0-1 -n 1 --no-huge -m 256 --iova-mode=va --file-prefix sriovd-lane \
        -d "$(plugin mempool_ring)" -d "$(plugin net_e1000)" $args \
        -- -i --total-num-mbufs=2048 --disable-link-check 2>&1); rc=$?
    echo "lane: attach-dpdk: dpdk-testpmd ... $args exited $rc; $(grep -E 'Driver name|Device name|^Port 0:' <<<"$out" | tr '\n' ' ')"
    if [[ $rc == 0 && $out == *"Driver name: net_e1000_igb_vf"* && $out == *"Device name: $vf"* ]]; then
        pass attach-dpdk
    else
        fail attach-dpdk "dpdk-testpmd with '$args' exited $rc: $(tail -n 15 <<<"$out" | tr '\n' ' ')"
    fi
}

qemu_check
libvirt_check
dpdk_check
out=$("$SRIOVCTL" lease release "$id" --socket "$sock" 2>&1) || fail attach-consumers-release "lease release: ${out:0:300}"
