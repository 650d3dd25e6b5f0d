#!/bin/bash
# VF settings on igb (QEMU's 82576): mac, vlan + qos, spoofchk, trust and max_tx_rate through
# `sriovctl vf set`, checked against `ip -d link show`; link state (EOPNOTSUPP) and min_tx_rate
# (EINVAL) fail with sriovd's explanations and change nothing; `vf show` / `pf show` agree with ip
# and sysfs.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary igb-vf-set "$SRIOVCTL" || exit 0
igb=$(lane_igb_pf) || { fail igb-vf-set-setup "no igb PF (8086:10c9) in the guest"; exit 0; }
# 4 VFs, born unbound (autoprobe off): the settings live in the PF, igbvf is not needed for them.
lane_set_numvfs "$igb" 4 0 || { fail igb-vf-set-setup "cannot create 4 VFs on igb PF $igb"; exit 0; }
# Enabling VFs resets igb's link; max_tx_rate is EINVAL until carrier is back.
lane_link_up "$igb" || echo "lane: igb PF link is not up; max_tx_rate will fail" >&2
"$PYTHON" "$CHECKS_DIR/py/igb_vf_set.py" "$igb" "$(lane_netdev "$igb")"
lane_set_numvfs "$igb" 0 1
