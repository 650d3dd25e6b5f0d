#!/bin/bash
# VF settings on netdevsim: `sriovctl vf set` of every setting (mac, vlan + qos + protocol, spoofchk,
# trust, link state, min/max tx rate, query_rss) is checked against `ip -d link show`; `vf show` and
# `pf show` agree with ip; bad input and a VF index beyond numvfs are refused and change nothing.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary nsim-vf-set "$SRIOVCTL" || exit 0
# A netdevsim PF with 4 VFs (its default max_vfs), made with the kernel directly.
lane_nsim_new 30 1 4 4 || { fail nsim-vf-set-setup "cannot create netdevsim30 with 4 VFs"; exit 0; }
pf=$(lane_nsim_netdev 30) || { fail nsim-vf-set-setup "netdevsim30 has no netdev"; exit 0; }
"$PYTHON" "$CHECKS_DIR/py/nsim_vf_set.py" "$pf" netdevsim30
lane_nsim_del 30
