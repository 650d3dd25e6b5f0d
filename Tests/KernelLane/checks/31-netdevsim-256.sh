#!/bin/bash
# 256 VFs on one netdevsim PF (debugfs max_vfs): `sriovctl pf show --json` reports every VF, with the
# settings the kernel holds, where `ip -d link show` sees only the first 34 ("Truncated VF list").
# Then 400 VFs, where even the reply without statistics outgrows IFLA_VFINFO_LIST's 16-bit length.
# The oracle for the VFs ip cannot show is the kernel's own RTM_GETLINK reply, parsed by lane.py.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary nsim256 "$SRIOVCTL" || exit 0
# netdevsim has no sriov_totalvfs: its limit is debugfs max_vfs (ENOMEM above it).
lane_nsim_new 31 1 300 256 || { fail nsim256-setup "cannot create netdevsim31 with 256 VFs (max_vfs 300)"; exit 0; }
lane_nsim_new 32 1 400 400 || { fail nsim400-setup "cannot create netdevsim32 with 400 VFs (max_vfs 400)"; lane_nsim_del 31; exit 0; }
"$PYTHON" "$CHECKS_DIR/py/nsim_many_vfs.py" "$(lane_nsim_netdev 31)" 256 "$(lane_nsim_netdev 32)" 400
lane_nsim_del 31
lane_nsim_del 32
