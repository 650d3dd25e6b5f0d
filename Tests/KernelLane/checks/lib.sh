# Helpers for kernel-lane checks (bash). A check is checks/NN-name.sh; guest/main.sh runs it with
# bash, in name order, in one guest, after the drivers are loaded. Source this file first:
#     . "$CHECKS_DIR/lib.sh"
# Environment from guest/main.sh: SRIOVCTL, SRIOVD, SRIOV_STATE_DIR, PYTHON, CHECKS_DIR, LANE_REPO.
#
# Rules for checks:
# - print exactly one `PASS <assertion>` or `FAIL <assertion>: <reason>` line per assertion;
# - the oracle is the kernel, never our code: sysfs, `ip -d link show`, /dev/vfio;
# - set up the preconditions you need with the kernel directly (lane_set_numvfs, lane_nsim_new), and
#   do not rely on an earlier check's leftovers.

IP=/usr/sbin/ip        # iproute2 (never busybox's applet)
SYS_PCI=/sys/bus/pci/devices

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# require_binary <assertion> <path>: FAIL (and return 1) when a project binary is missing.
require_binary() {
    [[ -x $2 ]] && return 0
    fail "$1" "binary not found at $2; build with swift build"
    return 1
}

# lane_pf <vendor> <device>: PCI address of the SR-IOV PF with those IDs (e.g. lane_pf 8086 10c9).
lane_pf() {
    local d
    for d in "$SYS_PCI"/*; do
        [[ -e $d/sriov_totalvfs && $(<"$d/vendor") == "0x$1" && $(<"$d/device") == "0x$2" ]] || continue
        basename "$d"; return 0
    done
    return 1
}
lane_igb_pf()  { lane_pf 8086 10c9; }   # QEMU's igb (82576), behind a PCIe root port
lane_nvme_pf() { lane_pf 1b36 0010; }   # QEMU's NVMe with sriov_max_vfs=4

# lane_netdev <bdf>: the first netdev of a PCI device.
lane_netdev() {
    local n
    for n in "$SYS_PCI/$1"/net/*; do [[ -e $n ]] && { basename "$n"; return 0; }; done
    return 1
}

# lane_wait <seconds> <command...>: poll until the command succeeds.
lane_wait() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do (( $(date +%s) < deadline )) || return 1; sleep 0.1; done
}

# lane_link_up <bdf> [seconds]: wait until the PF's first netdev has carrier (operstate up). igb
# bounces its link when VFs are enabled or disabled, and refuses max_tx_rate (EINVAL) until it is up.
# lane_link_up <pf> [seconds]: waits until the PF's carrier has read 1 for 1.5 s on end. Changing
# sriov_numvfs resets igb, whose link then drops a moment later and renegotiates: a single "up" read
# right after the change can come before the drop, and a lease would then meet a PF without carrier
# (require_link refuses it; seen in 62-igb-lease-guard).
lane_link_up() {
    local ifname stable=0 deadline; ifname=$(lane_netdev "$1") || return 1
    deadline=$(( $(date +%s) + ${2:-30} ))
    while (( $(date +%s) < deadline )); do
        if [[ $(cat "/sys/class/net/$ifname/carrier" 2>/dev/null) == 1 ]]; then
            (( ++stable >= 6 )) && return 0
        else
            stable=0
        fi
        sleep 0.25
    done
    return 1
}

# lane_vf <pf> <n>: the PCI address of the PF's VF n.
lane_vf() { basename "$(readlink -f "$SYS_PCI/$1/virtfn$2")"; }
# lane_driver <bdf>: the device's driver, or "none".
lane_driver() { local d; d=$(readlink "$SYS_PCI/$1/driver" 2>/dev/null) && basename "$d" || echo none; }
# lane_leases_of <owner>: the ids of the owner's leases (through $SRIOVD_SOCKET, or sriovd's default socket).
lane_leases_of() { "$SRIOVCTL" lease list --owner "$1" 2>&1 | grep -o 'l-[0-9a-f]\{16\}'; }
# lane_vm_pool <pf>: a config whose one pool, `vm`, holds the PF's VFs 0-1, left unbound on release.
lane_vm_pool() { printf 'pools:\n  - name: vm\n    selectors:\n      - pf: %s\n        range: 0-1\n    on_release: leave-unbound\n' "$1"; }

# lane_domain_xml <name> <uuid> <vf> [emulator]: a libvirt domain carrying sriovd's metadata (pool vm)
# whose only device is <vf> as an unmanaged hostdev: what `sriovctl libvirt-hook` reads (67), and a
# tiny TCG domain (no disk, started paused) that libvirtd runs with [emulator] (69).
lane_domain_xml() {
    local dom bus slot fn
    IFS=':.' read -r dom bus slot fn <<<"$3"
    cat <<EOX
<domain type='qemu'>
  <name>$1</name>
  <uuid>$2</uuid>
  <metadata>
    <sriovd:lease xmlns:sriovd='urn:sriovd:libvirt:1' pool='vm'/>
  </metadata>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <devices>${4:+
    <emulator>$4</emulator>}
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x$dom' bus='0x$bus' slot='0x$slot' function='0x$fn'/></source>
    </hostdev>
  </devices>
</domain>
EOX
}

lane_vf_count() { local n=0 l; for l in "$SYS_PCI/$1"/virtfn*; do [[ -e $l ]] && n=$((n + 1)); done; echo "$n"; }
lane_has_vfs() { [[ $(lane_vf_count "$1") == "$2" ]]; }

# lane_set_numvfs <bdf> <n> [autoprobe 0|1]: the kernel's way, independent of our binaries: through 0
# (non-zero to non-zero is EBUSY), autoprobe set while no VFs exist, then wait for the virtfn links.
lane_set_numvfs() {
    local bdf=$1 n=$2 ap=${3:-}
    local dev=$SYS_PCI/$bdf
    if [[ $(<"$dev/sriov_numvfs") != 0 ]]; then
        echo 0 >"$dev/sriov_numvfs" || { echo "lane: $bdf: writing 0 to sriov_numvfs failed" >&2; return 1; }
    fi
    if [[ -n $ap ]]; then
        echo "$ap" >"$dev/sriov_drivers_autoprobe" || { echo "lane: $bdf: sriov_drivers_autoprobe=$ap failed" >&2; return 1; }
    fi
    if (( n > 0 )); then
        echo "$n" >"$dev/sriov_numvfs" || { echo "lane: $bdf: writing $n to sriov_numvfs failed" >&2; return 1; }
    fi
    lane_wait 30 lane_has_vfs "$bdf" "$n" || { echo "lane: $bdf: $n virtfn links did not appear" >&2; return 1; }
}

# netdevsim (VF netlink without PCI): lane_nsim_new <id> <ports> [max_vfs] [num_vfs]; lane_nsim_del <id>.
lane_nsim_new() {
    local id=$1 ports=$2 max=${3:-} num=${4:-0}
    [[ -e /sys/bus/netdevsim/devices/netdevsim$id ]] && lane_nsim_del "$id"
    echo "$id $ports" >/sys/bus/netdevsim/new_device || return 1
    lane_wait 10 test -e "/sys/bus/netdevsim/devices/netdevsim$id/net" || return 1
    if [[ -n $max ]]; then echo "$max" >"/sys/kernel/debug/netdevsim/netdevsim$id/max_vfs" || return 1; fi
    if (( num > 0 )); then echo "$num" >"/sys/bus/netdevsim/devices/netdevsim$id/sriov_numvfs" || return 1; fi
}
lane_nsim_del() { echo "$1" >/sys/bus/netdevsim/del_device; }
lane_nsim_netdev() { ls "/sys/bus/netdevsim/devices/netdevsim$1/net" 2>/dev/null | head -n 1; }

# lane_igb_scenario_setup <assertion> <state-prefix>: for a check that leases igb VFs both ways (see
# lane_scenario_both_ways). Sets igb (the PF's PCI address), pf (its netdev), state (a fresh directory
# under SRIOV_STATE_DIR), config, sock, log and pid (the sriovd it will start), puts the PF back to 0
# VFs when the check ends, and leaves the PF with 4 unbound VFs. FAIL <assertion>-setup (and return 1)
# when any of it cannot be done.
lane_igb_scenario_setup() {
    local check=$1
    igb=$(lane_igb_pf) || { fail "$check-setup" "no igb PF (8086:10c9) in the guest"; return 1; }
    state=$(mktemp -d "$SRIOV_STATE_DIR/$2.XXXXXX")
    config="$state/sriovd.yaml"
    sock="$state/sriovd.sock"
    log="$state/sriovd.log"
    pid=""
    trap lane_igb_scenario_cleanup EXIT
    trap 'exit 143' TERM
    lane_set_numvfs "$igb" 0 1 || { fail "$check-setup" "cannot reset igb PF $igb"; return 1; }
    lane_set_numvfs "$igb" 4 0 || { fail "$check-setup" "cannot create 4 VFs on igb PF $igb"; return 1; }
    lane_link_up "$igb" || echo "lane: igb PF link is not up" >&2
    pf=$(lane_netdev "$igb") || { fail "$check-setup" "igb PF $igb has no netdev"; return 1; }
}

lane_igb_scenario_cleanup() {
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    lane_set_numvfs "$igb" 0 1 || echo "lane: igb $igb still has $(lane_vf_count "$igb") VFs" >&2
}

# lane_scenario_both_ways <assertion>: runs the check's `scenario <name> <front door args...>` twice,
# on the configuration in $config: in-process (`scenario direct --direct ...`, on a state directory
# made here, since in-process commands never create one), then through a sriovd started on $sock
# (`scenario sriovd --socket $sock`); FAIL <assertion>-sriovd when that sriovd does not answer.
lane_scenario_both_ways() {
    mkdir -p "$state/direct"
    scenario direct --direct --config "$config" --state-dir "$state/direct"
    if lane_start_sriovd; then
        scenario sriovd --socket "$sock"
    else
        fail "$1-sriovd" "$lane_sriovd_error"
    fi
}

# lane_start_sriovd [sriovd args...]: starts sriovd in the background on $state/daemon, $config and
# $sock, its output appended to $log (`--log-level warning` unless the args give one), sets $pid,
# and waits (60 s at most) until it answers `pool list`. Returns 1 when it does not, with the reason
# (the log's last lines) in $lane_sriovd_error. Typical use:
#     lane_start_sriovd --consumer-grace 3 || { fail <assertion>-setup "$lane_sriovd_error"; exit 0; }
lane_start_sriovd() {
    local level=(--log-level warning) a
    for a in "$@"; do [[ $a == --log-level* ]] && level=(); done
    "$SRIOVD" --state-dir "$state/daemon" --config "$config" --socket "$sock" ${level[@]+"${level[@]}"} "$@" >>"$log" 2>&1 &
    pid=$!
    lane_sriovd_error=
    lane_wait 60 "$SRIOVCTL" pool list --socket "$sock" && return 0
    lane_sriovd_error="sriovd did not answer on $sock within 60 s: $(tail -n 3 "$log" | tr '\n' ' ')"
    return 1
}

# lane_function <vendor> <device>: PCI address of a function with those IDs and without SR-IOV.
lane_function() {
    local d
    for d in "$SYS_PCI"/*; do
        [[ ! -e $d/sriov_totalvfs && $(<"$d/vendor") == "0x$1" && $(<"$d/device") == "0x$2" ]] || continue
        basename "$d"; return 0
    done
    return 1
}

# lane_e1000e_check <name> <state prefix>: the setup of a check on the guest's e1000e NIC without SR-IOV
# (QEMU's 82574L, on root port rp3): sriovctl and sriovd present, the NIC's address in $nic and its
# sysfs directory in $dev, a fresh state directory (lane_daemon_files <state prefix>). Returns 1 after
# a FAIL (<name> or <name>-setup) when something is missing.
lane_e1000e_check() {
    require_binary "$1" "$SRIOVCTL" || return 1
    require_binary "$1-daemon" "$SRIOVD" || return 1
    nic=$(lane_function 8086 10d3) || { fail "$1-setup" "no e1000e NIC (8086:10d3) without SR-IOV in the guest; run.sh attaches one on rp3"; return 1; }
    dev=$SYS_PCI/$nic
    lane_daemon_files "$2"
}

# lane_devices_pool <pool> <bdf>: a config whose one pool, <pool>, leases <bdf> whole (`devices:`).
lane_devices_pool() { printf 'pools:\n  - name: %s\n    selectors:\n      - devices: ["%s"]\n' "$1" "$2"; }

# lane_rebind_host_driver <bdf> <driver>: unless <driver> has <bdf> already, unbinds it, clears its
# driver_override and has the kernel probe it again: the kernel's way, independent of our binaries.
lane_rebind_host_driver() {
    local dev=$SYS_PCI/$1
    [[ $(lane_driver "$1") == "$2" ]] && return 0
    [[ -e $dev/driver ]] && echo "$1" >"$dev/driver/unbind"
    echo >"$dev/driver_override"
    echo "$1" >/sys/bus/pci/drivers_probe
}

# lane_daemon_files <prefix>: a fresh state directory under SRIOV_STATE_DIR in $state, and the paths of
# the sriovd that lane_start_sriovd starts there: $config, $sock, $log ($pid empty until it runs).
lane_daemon_files() {
    state=$(mktemp -d "$SRIOV_STATE_DIR/$1.XXXXXX")
    config="$state/sriovd.yaml"
    sock="$state/sriovd.sock"
    log="$state/sriovd.log"
    pid=""
}

# lane_give_back <bdf> <host driver> <host-use>: for a check's EXIT trap, whatever happened: stops the
# sriovd in $pid and, unless <host driver> has <bdf>, rebinds it (lane_rebind_host_driver) and waits
# 30 s for <host-use> (a command that succeeds once the host has the device's netdev, disk...).
lane_give_back() {
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    [[ $(lane_driver "$1") == "$2" ]] && return 0
    lane_rebind_host_driver "$1" "$2"
    lane_wait 30 "$3" || echo "lane: $1 is not back in the host's use ($3) after rebinding $2 (driver $(lane_driver "$1"))" >&2
}

# lane_qemu_info_pci <spec> [runner...]: the lane's QEMU ($QEMU, firmware from $QEMU_DATA), paused, with
# no devices but those of <spec> (`sriovctl lease show --format qemu`, pasted as an operator does),
# answers `info pci` and quits; its output on stdout, its exit status returned, 120 s at most.
# [runner...] starts QEMU (e.g. setpriv, to run it as a VM's user).
lane_qemu_info_pci() {
    local spec=$1 firmware=() d; shift
    for d in $QEMU_DATA; do firmware+=(-L "$d"); done
    # shellcheck disable=SC2086 # the spec is a list of arguments, as an operator pastes it
    printf 'info pci\nquit\n' | timeout 120 "$@" "$QEMU" "${firmware[@]}" -machine q35 -accel tcg -m 64 -nodefaults \
        -no-user-config -display none -S -monitor stdio $spec 2>&1
}

# lane_whole_device_cycle <assertion> <pool> <bdf> <host driver> <vendor:device> <host-use> [while-leased]:
# one lease of <bdf> whole from <pool>, a `devices:` pool of the sriovd on $sock (lane_start_sriovd),
# checked with sysfs and QEMU. <host-use> is a command (a function of the check) that prints what the
# host driver gives the host (its netdev, its block device) and fails when there is none.
#   <assertion>-acquire   vfio-pci has <bdf>, /dev/vfio/<group> is a character device, <host-use> fails;
#   [while-leased <id>]   the check's own assertions on the leased device, if it names a command;
#   <assertion>-qemu      the lane's QEMU, run with exactly `sriovctl lease show <id> --format qemu`, shows
#                         <vendor:device> as sriov0 in `info pci`;
#   <assertion>-release   released: <host driver> has <bdf> again, driver_override is cleared,
#                         /dev/vfio/<group> is gone and <host-use> succeeds (within 30 s).
# Returns 1, after FAIL <assertion>-acquire, when the lease cannot be acquired (nothing else runs).
lane_whole_device_cycle() {
    local check=$1 pool=$2 bdf=$3 driver=$4 ids=$5 host_use=$6 while_leased=${7:-}
    local dev=$SYS_PCI/$3 group out rc id now args qout
    group=$(basename "$(readlink -f "$dev/iommu_group")")
    # acquire
    out=$("$SRIOVCTL" lease acquire --pool "$pool" --owner "vm-$pool" --json --socket "$sock" 2>&1); rc=$?
    id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
    if [[ $rc != 0 || -z $id ]]; then
        fail "$check-acquire" "lease acquire --pool $pool exited $rc: ${out:0:400}"
        return 1
    fi
    now=$(lane_driver "$bdf")
    if [[ $now == vfio-pci && -c /dev/vfio/$group ]] && ! "$host_use" >/dev/null; then
        pass "$check-acquire"
    else
        fail "$check-acquire" "after acquire: driver $now, /dev/vfio/$group $( [[ -e /dev/vfio/$group ]] && echo exists || echo missing), host still has $("$host_use" || echo nothing)"
    fi
    [[ -n $while_leased ]] && "$while_leased" "$id"
    # QEMU opens it
    if [[ -z ${QEMU:-} || ! -x $QEMU ]]; then
        fail "$check-qemu" "the lane's QEMU is not visible in the guest (QEMU='${QEMU:-}')"
    elif ! args=$("$SRIOVCTL" lease show "$id" --format qemu --socket "$sock" 2>&1); then
        fail "$check-qemu" "lease show $id --format qemu: $args"
    else
        qout=$(lane_qemu_info_pci "$args"); rc=$?
        echo "lane: $check-qemu: $QEMU ... $args exited $rc"
        if [[ $rc == 0 && $args == "-device vfio-pci,host=$bdf,id=sriov0" && $qout == *"PCI device $ids"* && $qout == *'id "sriov0"'* ]]; then
            pass "$check-qemu"
        else
            fail "$check-qemu" "QEMU with '$args' exited $rc; info pci: $(tr '\n' ' ' <<<"${qout:0:600}")"
        fi
    fi
    # release
    out=$("$SRIOVCTL" lease release "$id" --socket "$sock" 2>&1); rc=$?
    if [[ $rc == 0 ]] && lane_wait 30 "$host_use" && [[ $(lane_driver "$bdf") == "$driver" && ! -e /dev/vfio/$group \
        && -z $(tr -d '\n' <"$dev/driver_override" | sed 's/(null)//') ]]; then
        pass "$check-release"
    else
        fail "$check-release" "release exited $rc (${out:0:200}); driver $(lane_driver "$bdf"), override '$(<"$dev/driver_override")', host has $("$host_use" || echo nothing), /dev/vfio/$group $( [[ -e /dev/vfio/$group ]] && echo exists || echo gone)"
    fi
    return 0
}

# lane_metrics <socket>: sriovd's GET /metrics on its Unix socket (HTTP/1.1, Connection: close),
# headers included, on stdout.
lane_metrics() {
    "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: sriovd\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
sys.stdout.write(data.decode("utf-8", "replace"))' "$1"
}

# Benchmark helpers (50-bench-netlink, 51-bench-lease-cycle): wall-clock samples in nanoseconds.
now() { date +%s%N; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
# stats <file of nanosecond samples>: "median <ms> p90 <ms> min <ms>"
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        p = v[int(NR * 0.9 + 0.999)]; if (p == "") p = v[NR]
        printf "median %.1f ms, p90 %.1f ms, min %.1f ms (n=%d)", m / 1e6, p / 1e6, v[1] / 1e6, NR }'
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
