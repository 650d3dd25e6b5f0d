#!/bin/bash
# Leases on real SR-IOV devices, in-process (`--direct`; 70-daemon does the same through sriovd's socket):
# `sriovctl lease acquire` on igb VFs (one of them bound to igbvf first)
# and NVMe VFs binds them to vfio-pci (sysfs driver + driver_override, /dev/vfio/<group>), the igb VF
# settings show in `ip -d link show`; a new sriovctl process lists the same leases; release scrubs,
# unbinds (or rebinds the host driver) and removes /dev/vfio/<group>; bad requests bind nothing.
# The oracle is sysfs, /dev/vfio and iproute2.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary leases "$SRIOVCTL" || exit 0
igb=$(lane_igb_pf) || { fail leases-setup "no igb PF (8086:10c9) in the guest"; exit 0; }
nvme=$(lane_nvme_pf) || { fail leases-setup "no NVMe PF (1b36:0010) in the guest"; exit 0; }
config="$SRIOV_STATE_DIR/60-leases.yaml"

cleanup() {
    # leases.py releases what it acquired; this is for a crash or a timeout in between.
    local ids id problems=()
    if [[ -e $config ]]; then
        ids=$("$SRIOVCTL" lease list --json --direct --config "$config" --state-dir "$SRIOV_STATE_DIR" 2>/dev/null |
            grep -o '"id" : "l-[0-9a-f]*"' | grep -o 'l-[0-9a-f]*')
        for id in $ids; do
            "$SRIOVCTL" lease release "$id" --direct --config "$config" --state-dir "$SRIOV_STATE_DIR" >/dev/null 2>&1 ||
                problems+=("lease release $id failed")
        done
        [[ -z $ids ]] || echo "lane: cleanup released leftover leases: $ids" >&2
    fi
    lane_set_numvfs "$igb" 0 1 || problems+=("igb $igb still has $(lane_vf_count "$igb") VFs")
    lane_set_numvfs "$nvme" 0 1 || problems+=("NVMe $nvme still has $(lane_vf_count "$nvme") VFs")
    rm -f "$config"
    if (( ${#problems[@]} )); then fail leases-cleanup "${problems[*]}"; else pass leases-cleanup; fi
}
trap cleanup EXIT
trap 'exit 143' TERM

# The kernel's way: 4 igb VFs and 3 NVMe VFs, born unbound (autoprobe off).
lane_set_numvfs "$igb" 4 0 || { fail leases-setup "cannot create 4 VFs on igb PF $igb"; exit 0; }
lane_set_numvfs "$nvme" 3 0 || { fail leases-setup "cannot create 3 VFs on NVMe PF $nvme"; exit 0; }
# igb VF 3 on igbvf (autoprobe on for this one probe only), so acquire has a host driver to unbind.
vf3=$(basename "$(readlink "$SYS_PCI/$igb/virtfn3")")
echo 1 >"$SYS_PCI/$igb/sriov_drivers_autoprobe"
echo "$vf3" >/sys/bus/pci/drivers_probe
echo 0 >"$SYS_PCI/$igb/sriov_drivers_autoprobe"
lane_wait 10 test -e "$SYS_PCI/$vf3/driver" || echo "lane: igb VF $vf3 did not bind to igbvf" >&2
lane_link_up "$igb" || echo "lane: igb PF link is not up" >&2
pf=$(lane_netdev "$igb") || { fail leases-setup "igb PF $igb has no netdev"; exit 0; }

# Pools: igb VFs 0-2 (VLAN policy, defaults, MACs under 52:54:00, left unbound on release), igb VF 3
# (the host driver back on release), NVMe VFs 0-2 by the PF's PCI address (it has no netdev).
cat >"$config" <<EOF
# Written by Tests/KernelLane/checks/60-leases.sh
pools:
  - name: lane-igb
    selectors:
      - pf: $pf
        range: 0-2
    defaults:
      vlan: 100
      qos: 0
      spoofchk: true
      trust: false
    policy:
      vlans: ["100", "200-299"]
      allow_trust: true
      allow_spoofchk_off: true
      allow_mac: true
      mac_prefixes: ["52:54:00"]
    on_release: leave-unbound
  - name: lane-igb-host
    selectors:
      - vfs: "$pf#3"
    on_release: rebind-host-driver
  - name: lane-nvme
    selectors:
      - vfs: "$nvme#0-2"
    on_release: leave-unbound
EOF

"$PYTHON" "$CHECKS_DIR/py/leases.py" "$igb" "$pf" "$nvme" "$config"
