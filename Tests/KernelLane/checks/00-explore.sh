set -x
lspci 2>/dev/null | head; 
for d in /sys/bus/pci/devices/*; do echo "$(basename $d) $(cat $d/vendor) $(cat $d/device) drv=$(basename $(readlink $d/driver) 2>/dev/null) grp=$(basename $(readlink $d/iommu_group)) tot=$(cat $d/sriov_totalvfs 2>/dev/null)"; done
ls /sys/class/net; /usr/sbin/ip -br link; /usr/sbin/ip route
ls /sys/kernel/iommu_groups | wc -l; ls /dev/vfio
dmesg | grep -iE 'DMAR|remap|iommu' | head -20
igb=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/device)" = 0x10c9 ] && [ -e $d/sriov_totalvfs ] && echo $d; done)
nv=$(for d in /sys/bus/pci/devices/*; do [ "$(cat $d/device)" = 0x0010 ] && [ -e $d/sriov_totalvfs ] && echo $d; done)
echo igb=$igb nv=$nv
time (echo 7 > $igb/sriov_numvfs)
ls -la $igb/ | grep virtfn
time (echo 4 > $nv/sriov_numvfs)
sleep 2
for d in /sys/bus/pci/devices/*; do echo "$(basename $d) $(cat $d/vendor) $(cat $d/device) drv=$(basename $(readlink $d/driver) 2>/dev/null) grp=$(basename $(readlink $d/iommu_group)) tot=$(cat $d/sriov_totalvfs 2>/dev/null)"; done
/usr/sbin/ip -d link show | head -60
time /usr/bin/python3 -c 'print(1)'
time /root/.pyenv/shims/python3 -c 'print(1)' 
dmesg | tail -30
echo PASS explore
