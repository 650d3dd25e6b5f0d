#!/bin/bash
# VF counts on netdevsim: `sriovctl pf set-numvfs` 0 -> 4 -> 2 (through 0: the kernel answers EBUSY to
# 4 -> 2), the same count is a no-op, above debugfs max_vfs is refused with a clear message and changes
# nothing; a PF that carries a default route is refused (exit 77) unless --force.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary nsim-numvfs "$SRIOVCTL" || exit 0
lane_nsim_new 33 1 8 0 || { fail nsim-numvfs-setup "cannot create netdevsim33 (max_vfs 8)"; exit 0; }
# A second PF in switchdev mode, with 2 VFs made by the kernel: each VF has a representor netdev, which
# disappears when the VFs are disabled, so a hidden trip through 0 shows in the representors' ifindexes.
lane_nsim_new 34 1 8 0 && devlink dev eswitch set netdevsim/netdevsim34 mode switchdev \
    && echo 2 >/sys/bus/netdevsim/devices/netdevsim34/sriov_numvfs \
    || { fail nsim-numvfs-setup "cannot create netdevsim34 in switchdev mode with 2 VFs"; exit 0; }
"$PYTHON" "$CHECKS_DIR/py/nsim_numvfs.py" "$(lane_nsim_netdev 33)" netdevsim33 8 "$(lane_nsim_netdev 34)" netdevsim34
lane_nsim_del 33
lane_nsim_del 34
