#!/bin/bash
# VF counts on a PCI PF without a netdev: `sriovctl pf set-numvfs <nvme> 3 --autoprobe off` creates 3
# driverless VFs that `sriovctl inventory --json` lists; the same count again is a no-op (a VF's
# driver_override survives); 0 removes them. The oracle is sysfs.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary nvme-numvfs "$SRIOVCTL" || exit 0
nvme=$(lane_nvme_pf) || { fail nvme-numvfs-setup "no NVMe PF (1b36:0010) in the guest"; exit 0; }
# Start from no VFs with autoprobe on, so --autoprobe off has something to change.
lane_set_numvfs "$nvme" 0 1 || { fail nvme-numvfs-setup "cannot reset NVMe PF $nvme"; exit 0; }
"$PYTHON" "$CHECKS_DIR/py/nvme_numvfs.py" "$nvme"
lane_set_numvfs "$nvme" 0 1
