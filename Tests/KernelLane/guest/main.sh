#!/bin/bash
# Kernel lane, guest side: runs as root inside the chroot (the host's root over 9p, made writable by a
# tmpfs overlay). Loads the drivers, sets up the network, then runs Tests/KernelLane/checks/NN-*.sh
# in order. Every check prints one `PASS <name>` / `FAIL <name>: <reason>` line per assertion; the host
# collects those lines from the serial console. The last line is KERNEL-LANE-DONE.
set -uo pipefail

LANE_DIR="$LANE_REPO/Tests/KernelLane"
CHECKS_DIR="$LANE_DIR/checks"
export LANE_REPO LANE_DIR CHECKS_DIR LANE_BIN_DIR LANE_KVER LANE_BENCH_ITERATIONS
# The QEMU that runs this guest (from the host's cache), for checks that open a leased VF with a real
# QEMU inside the guest (66-attach-consumers), and its firmware directories (-L).
export QEMU="${LANE_QEMU:-}" QEMU_DATA="${LANE_QEMU_DATA:-}"
# Debian's dpdk-dev unpacked in the cache (dpdk-testpmd and its libraries), for 66-attach-consumers.
export DPDK_ROOT="${LANE_DPDK_ROOT:-}"
export SRIOVCTL="$LANE_BIN_DIR/sriovctl"
export SRIOVD="$LANE_BIN_DIR/sriovd"
export SRIOV_STATE_DIR=/tmp/sriov-state
export PYTHON=/usr/bin/python3
mkdir -p "$SRIOV_STATE_DIR"

say() { echo "kernel-lane(guest): $*"; }
t0=$(date +%s.%N)
since() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }

# Drivers: the SR-IOV PFs (nvme, igb) and their VF drivers, vfio-pci, netdevsim, the management NIC,
# the NIC without SR-IOV (e1000e).
for m in virtio_net nvme igb igbvf vfio-pci netdevsim e1000e; do
    modprobe "$m" || say "modprobe $m failed"
done
# No udev in the guest: netdev names are the kernel's (eth0, ...).

netdev_of_driver() {   # first netdev whose PCI device is bound to driver $1
    local n
    for n in /sys/class/net/*; do
        [[ -e $n/device/driver ]] || continue
        [[ $(basename "$(readlink -f "$n/device/driver")") == "$1" ]] && { basename "$n"; return 0; }
    done
    return 1
}
wait_for() {   # wait_for <seconds> <command...>
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null; do (( $(date +%s) < deadline )) || return 1; sleep 0.2; done
}

# Management NIC (virtio-net on QEMU's user network): carries the default route, like a real host's.
if wait_for 20 netdev_of_driver virtio_net; then
    mgmt=$(netdev_of_driver virtio_net)
    /usr/sbin/ip link set lo up
    /usr/sbin/ip link set "$mgmt" up
    /usr/sbin/ip addr add 10.0.2.15/24 dev "$mgmt"
    /usr/sbin/ip route add default via 10.0.2.2 dev "$mgmt"
    say "management NIC $mgmt (default route)"
else
    say "no virtio-net management NIC found"
fi
# The igb PF's link must be up for max_tx_rate (and is what an operator would have). Carrier comes
# a few seconds later (and again after every sriov_numvfs change): checks that need it wait for it
# with lane_link_up.
if wait_for 20 netdev_of_driver igb; then
    /usr/sbin/ip link set "$(netdev_of_driver igb)" up
fi

say "setup done after $(since)"
# Kernel messages would interleave with the result lines on the serial console from here on.
dmesg -n 1

matches_filter() {
    [[ -z $LANE_FILTER ]] && return 0
    local f
    for f in $LANE_FILTER; do [[ $1 == *"$f"* ]] && return 0; done
    return 1
}

ran=0
failed_any=0
for check in "$CHECKS_DIR"/[0-9][0-9]-*.sh; do
    [[ -e $check ]] || continue
    name=$(basename "$check" .sh)
    matches_filter "$name" || continue
    ran=$((ran + 1))
    say "=== $name"
    out="/tmp/lane-$name.out"
    start=$(date +%s)
    timeout --kill-after=10 "${LANE_CHECK_TIMEOUT:-240}" bash "$check" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    say "=== $name finished in $(( $(date +%s) - start ))s (exit $rc)"
    if (( rc == 124 || rc == 137 )); then
        echo "FAIL $name: timed out after ${LANE_CHECK_TIMEOUT:-240}s"
    elif ! grep -qE '^(PASS|FAIL) ' "$out"; then
        echo "FAIL $name: printed no PASS/FAIL line (exit $rc)"
    elif (( rc != 0 )) && ! grep -qE '^FAIL ' "$out"; then
        echo "FAIL $name: exited with status $rc"
    fi
    grep -qE '^FAIL ' "$out" && failed_any=1
done
(( ran > 0 )) || say "no check matched '${LANE_FILTER}'"

if (( failed_any )); then
    say "a check failed: the kernel log's tail follows in the console log (lines '  dmesg| ')"
    dmesg | tail -n 80 | sed 's/^/  dmesg| /'
fi
say "checks done after $(since)"
echo "KERNEL-LANE-DONE checks=$ran"
