"""Check 41-nvme-numvfs: `sriovctl pf set-numvfs` on the NVMe PF (PCI, no netdev), sysfs as the oracle.

argv: <NVMe PF address> (no VFs, autoprobe on).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
bdf = sys.argv[1]
dev = f"{lane.SYS_PCI}/{bdf}"


def kernel_view(n, autoprobe, problems):
    k = lane.pci(bdf)
    lane.compare("sriov_numvfs", n, k["numVFs"], problems)
    lane.compare("virtfn links", n, len(k["vfs"]), problems)
    lane.compare("sriov_drivers_autoprobe", autoprobe, k["driversAutoprobe"], problems)
    return k


def inventory_agrees(k, problems):
    rc, inv, problem = lane.sriovctl_json("inventory", "--json")
    if problem:
        problems.append(problem)
        return
    j = next((p for p in inv.get("pfs") or [] if isinstance(p, dict) and p.get("pciAddress") == bdf), None)
    if j is None:
        problems.append(f"{bdf} is not in the inventory")
        return
    lane.compare("inventory numVFs", k["numVFs"], j.get("numVFs"), problems)
    lane.compare("inventory driversAutoprobe", k["driversAutoprobe"], j.get("driversAutoprobe"), problems)
    want = [(v["index"], v["pciAddress"], v["driver"], v["iommuGroup"]) for v in k["vfs"]]
    got = [(v.get("index"), v.get("pciAddress"), v.get("driver"), v.get("iommuGroup"))
           for v in j.get("vfs") or [] if isinstance(v, dict)]
    lane.compare("inventory VFs (index, address, driver, IOMMU group)", want, got, problems)


rc, out, err = lane.sriovctl("pf", "set-numvfs", bdf, "3", "--autoprobe", "off", timeout=120)
problems = []
if rc != 0:
    problems.append(f"`sriovctl pf set-numvfs {bdf} 3 --autoprobe off` exited {rc}: {lane.last_line(err)!r}")
elif "3 VFs (was 0)" not in lane.last_line(out):
    problems.append(f"the last stdout line {lane.last_line(out)!r} does not say '3 VFs (was 0)'")
k = kernel_view(3, False, problems)
bound = [f"{v['pciAddress']} -> {v['driver']}" for v in k["vfs"] if v["driver"]]
if bound:
    problems.append(f"VFs born with a driver despite --autoprobe off: {bound}")
if len({v["iommuGroup"] for v in k["vfs"]}) != len(k["vfs"]):
    problems.append(f"VFs share IOMMU groups: {[v['iommuGroup'] for v in k['vfs']]}")
r.expect("nvme-set-numvfs-3-autoprobe-off", problems)

problems = []
inventory_agrees(k, problems)
r.expect("nvme-inventory-lists-vfs", problems)

# The same count again: nothing is torn down. A VF re-created by a trip through 0 loses its
# driver_override; the marker names no driver, so nothing binds.
vf0 = k["vfs"][0]["pciAddress"] if k["vfs"] else None
problems = []
if vf0:
    with open(f"{lane.SYS_PCI}/{vf0}/driver_override", "w") as f:
        f.write("sriov-lane-marker")
    rc, out, err = lane.sriovctl("pf", "set-numvfs", bdf, "3", "--autoprobe", "off")
    if rc != 0:
        problems.append(f"`sriovctl pf set-numvfs {bdf} 3 --autoprobe off` (already 3) exited {rc}: {lane.last_line(err)!r}")
    kernel_view(3, False, problems)
    override = lane.read(f"{lane.SYS_PCI}/{vf0}/driver_override")
    if override != "sriov-lane-marker":
        problems.append(f"{vf0} driver_override is {override!r}: the VFs were disabled and re-created")
    else:
        with open(f"{lane.SYS_PCI}/{vf0}/driver_override", "w") as f:
            f.write("\n")
else:
    problems.append("precondition: no VF to mark")
r.expect("nvme-set-numvfs-same-is-noop", problems)

# Above sriov_totalvfs: the kernel would answer ERANGE. Refused with the limit named, and (separately)
# the 3 VFs must still be there: going through 0 first would have destroyed them for nothing.
total = lane.pci(bdf)["totalVFs"]
rc, out, err = lane.sriovctl("pf", "set-numvfs", bdf, str(total + 1))
problems = []
if rc == 0:
    problems.append(f"`sriovctl pf set-numvfs {bdf} {total + 1}` (sriov_totalvfs {total}) exited 0")
elif "error:" not in err.lower() or str(total + 1) not in err or str(total) not in err.replace(str(total + 1), ""):
    problems.append(f"the message does not name {total + 1} and the limit {total}: {lane.last_line(err)!r}")
print(f"lane: `sriovctl pf set-numvfs {bdf} {total + 1}` (3 VFs, totalvfs {total}): exit {rc}, sysfs "
      f"sriov_numvfs now {lane.read(f'{dev}/sriov_numvfs')}; stderr: {' | '.join(err.strip().splitlines())[:400]!r}",
      flush=True)
r.expect("nvme-set-numvfs-above-total", problems)
problems = []
lane.compare("sriov_numvfs after the refused change (it had 3)", 3, int(lane.read(f"{dev}/sriov_numvfs")), problems)
r.expect("nvme-set-numvfs-above-total-keeps-vfs", problems)
if int(lane.read(f"{dev}/sriov_numvfs")) != 3:          # precondition for what follows, with the kernel
    with open(f"{dev}/sriov_numvfs", "w") as f:
        f.write("0")
    with open(f"{dev}/sriov_numvfs", "w") as f:
        f.write("3")

rc, out, err = lane.sriovctl("pf", "set-numvfs", bdf, "0", timeout=120)
problems = []
if rc != 0:
    problems.append(f"`sriovctl pf set-numvfs {bdf} 0` exited {rc}: {lane.last_line(err)!r}")
elif "0 VFs (was 3)" not in lane.last_line(out):
    problems.append(f"the last stdout line {lane.last_line(out)!r} does not say '0 VFs (was 3)'")
k = kernel_view(0, False, problems)
r.expect("nvme-set-numvfs-0", problems)
problems = []
inventory_agrees(k, problems)
r.expect("nvme-inventory-after-0", problems)
