#!/bin/bash
# Discovery: `sriovctl inventory --json` lists the real igb and NVMe PFs and their VFs exactly as the
# kernel does (addresses, virtfn links, drivers, IOMMU groups, numvfs/totalvfs, autoprobe), and the
# host facts (IOMMU groups, vfio-pci, command line, default-route NIC).
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary discovery-inventory "$SRIOVCTL" || exit 0
igb=$(lane_igb_pf) || { fail discovery-setup "no igb PF (8086:10c9) in the guest"; exit 0; }
nvme=$(lane_nvme_pf) || { fail discovery-setup "no NVMe PF (1b36:0010) in the guest"; exit 0; }

# Preconditions, with the kernel directly: all 7 igb VFs with autoprobe on (igbvf binds them and
# creates netdevs), 4 NVMe VFs with autoprobe off (born unbound).
lane_set_numvfs "$igb" 7 1 || { fail discovery-setup "cannot create 7 VFs on igb PF $igb"; exit 0; }
lane_set_numvfs "$nvme" 4 0 || { fail discovery-setup "cannot create 4 VFs on NVMe PF $nvme"; exit 0; }
igbvf_netdevs() { local l; for l in "$SYS_PCI/$igb"/virtfn*; do [[ -d $l/net ]] || return 1; done; }
lane_wait 20 igbvf_netdevs || echo "lane: not every igb VF has a netdev yet" >&2
# igb resets its link when VFs are enabled: compare linkState once it has settled.
lane_link_up "$igb" || echo "lane: igb PF link is not up" >&2

exec "$PYTHON" "$CHECKS_DIR/py/discovery.py" "$igb" "$nvme"
