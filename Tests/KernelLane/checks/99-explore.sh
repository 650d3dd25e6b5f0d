#!/bin/bash
# TEMPORARY exploration (helper-1); to be deleted.
. "$CHECKS_DIR/lib.sh"
lane_nsim_new 21 1 400 256
pf=$(lane_nsim_netdev 21)
$IP link set dev $pf vf 255 mac 02:ff:00:00:00:ff vlan 255 qos 5 proto 802.1ad
$IP link set dev $pf vf 255 trust on spoofchk on state disable max_tx_rate 900 min_tx_rate 9
$IP link set dev $pf vf 255 query_rss on
$PYTHON - "$pf" <<'PY'
import sys, time, json
sys.path.insert(0, "/work/main/Tests/KernelLane/checks/py")
import lane
t=time.time(); n = lane.netlink_vfs(sys.argv[1]); print("took", time.time()-t)
print(n["numVFs"], len(n["vfs"]), n["declared"], n["wrapped"], n["bytes"], n["vfs"][255], n["vfs"][0])
ipv = lane.ip_vfs(sys.argv[1]); print(len(ipv), lane.ip_text_vf_lines(sys.argv[1]))
print([k for k in ipv if ipv[k] != n["vfs"][k]])
PY
echo 400 > /sys/bus/netdevsim/devices/netdevsim21/sriov_numvfs || { echo 0 > /sys/bus/netdevsim/devices/netdevsim21/sriov_numvfs; echo 400 > /sys/bus/netdevsim/devices/netdevsim21/sriov_numvfs; }
$IP link set dev $pf vf 399 mac 02:ff:00:00:01:8f vlan 399 qos 5 proto 802.1ad
$PYTHON - "$pf" <<'PY'
import sys
sys.path.insert(0, "/work/main/Tests/KernelLane/checks/py")
import lane
n = lane.netlink_vfs(sys.argv[1])
print(n["numVFs"], len(n["vfs"]), n["declared"], n["wrapped"], n["bytes"], n["vfs"][399], n["vfs"][255])
PY
lane_nsim_del 21
# switchdev
lane_nsim_new 22 1 8 0
pf=$(lane_nsim_netdev 22)
devlink dev eswitch set netdevsim/netdevsim22 mode switchdev; echo "eswitch rc=$?"
echo 4 > /sys/bus/netdevsim/devices/netdevsim22/sriov_numvfs
ls /sys/bus/netdevsim/devices/netdevsim22/net/
for n in /sys/bus/netdevsim/devices/netdevsim22/net/*; do echo "$(basename $n) $(cat $n/ifindex) $(cat $n/phys_port_name 2>&1)"; done
$IP -d link show dev $pf | grep -c 'vf '
echo 4 > /sys/bus/netdevsim/devices/netdevsim22/sriov_numvfs
for n in /sys/bus/netdevsim/devices/netdevsim22/net/*; do echo "$(basename $n) $(cat $n/ifindex) $(cat $n/phys_port_name 2>&1)"; done
echo 0 > /sys/bus/netdevsim/devices/netdevsim22/sriov_numvfs; echo 4 > /sys/bus/netdevsim/devices/netdevsim22/sriov_numvfs
for n in /sys/bus/netdevsim/devices/netdevsim22/net/*; do echo "$(basename $n) $(cat $n/ifindex) $(cat $n/phys_port_name 2>&1)"; done
# default route on nsim
$IP link set $pf up; $IP addr add 192.0.2.1/24 dev $pf; $IP route add default via 192.0.2.254 dev $pf metric 900; echo "route rc=$?"
$IP route show default; cat /sys/class/net/$pf/operstate
$IP route del default via 192.0.2.254 dev $pf metric 900
lane_nsim_del 22
# nvme override
nvme=$(lane_nvme_pf); lane_set_numvfs $nvme 2 0
vf=$(basename $(readlink $SYS_PCI/$nvme/virtfn0)); echo marker > $SYS_PCI/$vf/driver_override; cat $SYS_PCI/$vf/driver_override
echo 2 > $SYS_PCI/$nvme/sriov_numvfs; cat $SYS_PCI/$vf/driver_override
lane_set_numvfs $nvme 2 0; cat $SYS_PCI/$vf/driver_override
lane_set_numvfs $nvme 0 1
echo "PASS explore"
