#!/bin/bash
# TEMPORARY exploration (helper-1); to be deleted.
. "$CHECKS_DIR/lib.sh"
set -x
lane_nsim_new 20 1 8 4
pf=$(lane_nsim_netdev 20); echo "pf=$pf"
for w in "mac 02:00:00:00:00:01" "vlan 100 qos 3" "vlan 200 qos 1 proto 802.1ad" "spoofchk on" "trust on" "state enable" "max_tx_rate 500 min_tx_rate 100" "query_rss on"; do
  $IP link set dev $pf vf 1 $w; echo "rc=$? for $w"
done
$IP -d link show dev $pf
$IP -j -d link show dev $pf
$IP link set dev $pf vf 2 vlan 0; $IP link set dev $pf vf 3 vlan 4095; echo "rc4095=$?"; $IP link set dev $pf vf 3 vlan 10 qos 8; echo "rcqos8=$?"
$IP link set dev $pf vf 1 state auto; $IP link set dev $pf vf 1 vlan 300 proto 802.1Q; $IP -d link show dev $pf | grep 'vf 1'
echo 0 > /sys/bus/netdevsim/devices/netdevsim20/sriov_numvfs; echo 4 > /sys/bus/netdevsim/devices/netdevsim20/sriov_numvfs
echo "after cycle:"; $IP -d link show dev $pf | grep 'vf 1'
echo 4 > /sys/bus/netdevsim/devices/netdevsim20/sriov_numvfs; echo "same rc=$?"
echo 9 > /sys/bus/netdevsim/devices/netdevsim20/sriov_numvfs; echo "above rc=$?"
ls /sys/bus/netdevsim/devices/netdevsim20/ /sys/kernel/debug/netdevsim/netdevsim20/
$IP -j link show dev $pf
lane_nsim_del 20
lane_nsim_new 21 1 400 400
pf=$(lane_nsim_netdev 21)
$IP -d link show dev $pf 2>&1 | grep -c 'vf '
$IP -d link show dev $pf 2>&1 | grep -v '    vf ' | head -20
$IP -j -d link show dev $pf 2>&1 | head -c 600
lane_nsim_del 21
for i in 1 2 3 4 5; do a=$(date +%s%N); $SRIOVCTL --help >/dev/null; b=$(date +%s%N); $IP link show lo >/dev/null; c=$(date +%s%N); echo "sriovctl-help $(( (b-a)/1000000 ))ms ip $(( (c-b)/1000000 ))ms"; done
echo "PASS explore"
