"""Check 10-discovery: `sriovctl inventory --json` against sysfs, procfs and iproute2.

argv: <igb PF address> <NVMe PF address> (VFs already created by 10-discovery.sh).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
igb, nvme = sys.argv[1], sys.argv[2]
argv = [os.environ["SRIOVCTL"], "inventory", "--json", "--state-dir", os.environ["SRIOV_STATE_DIR"]]
rc, inv, problem = lane.run_json(argv)
if problem is None and rc != 0:
    problem = f"`{' '.join(argv)}` exited {rc}"
if problem is None and not (isinstance(inv, dict) and isinstance(inv.get("host"), dict)
                            and isinstance(inv.get("pfs"), list)):
    problem = "output lacks a `host` object and a `pfs` array"
if problem:
    r.fail("discovery-inventory", problem)
    sys.exit(0)
r.passed("discovery-inventory")
pfs = [p for p in inv["pfs"] if isinstance(p, dict)]

# Every SR-IOV PF the kernel has, no more, sorted by address.
problems = []
got = [p.get("pciAddress") for p in pfs]
want = lane.sriov_pfs()
if sorted(got, key=str) != want:
    problems.append(f"PFs: kernel has {want}, sriovctl lists {got}")
elif got != want:
    problems.append(f"PFs not sorted by pciAddress: {got}")
r.expect("discovery-pf-list", problems)

PF_KEYS = ("vendorID", "deviceID", "driver", "numVFs", "totalVFs", "driversAutoprobe", "numaNode", "iommuGroup")
VF_KEYS = ("pciAddress", "driver", "iommuGroup")

for label, bdf in (("igb", igb), ("nvme", nvme)):
    k = lane.pci(bdf)
    j = next((p for p in pfs if p.get("pciAddress") == bdf), None)
    if j is None:
        r.fail(f"discovery-{label}-pf", f"{bdf} is missing from the inventory")
        r.fail(f"discovery-{label}-vfs", f"{bdf} is missing from the inventory")
        continue

    problems = []
    for key in PF_KEYS:
        lane.compare(f"{bdf} {key}", k[key], j.get(key), problems)
    lane.compare(f"{bdf} interfaces", k["interfaces"], sorted(j.get("interfaces") or []), problems)
    if j.get("linkState") is not None and k["interfaces"]:
        lane.compare(f"{bdf} linkState", lane.operstate(k["interfaces"][0]), j.get("linkState"), problems)
    r.expect(f"discovery-{label}-pf", problems)

    problems = []
    jvfs = [v for v in (j.get("vfs") or []) if isinstance(v, dict)]
    idx = [v.get("index") for v in jvfs]
    if idx != sorted(idx, key=lambda i: (i is None, i)):
        problems.append(f"VFs not sorted by index: {idx}")
    by_index = {v.get("index"): v for v in jvfs}
    for kv in k["vfs"]:
        jv = by_index.pop(kv["index"], None)
        if jv is None:
            problems.append(f"VF {kv['index']} ({kv['pciAddress']}) missing")
            continue
        for key in VF_KEYS:
            lane.compare(f"VF {kv['index']} {key}", kv[key], jv.get(key), problems)
        lane.compare(f"VF {kv['index']} interfaces", kv["interfaces"], sorted(jv.get("interfaces") or []), problems)
    if by_index:
        problems.append(f"VFs the kernel does not have: {sorted(by_index, key=str)}")
    if not k["vfs"]:
        problems.append(f"precondition: the kernel shows no VFs on {bdf}")
    if label == "igb" and k["interfaces"]:
        # The kernel's netlink view of the same PF: one vfinfo entry per VF.
        rc, out, err = lane.run([lane.IP, "-j", "-d", "link", "show", "dev", k["interfaces"][0]])
        vfinfo = json.loads(out)[0].get("vfinfo_list", []) if rc == 0 else []
        lane.compare(f"{bdf} VF count (ip -d link show)", len(vfinfo), len(jvfs), problems)
    r.expect(f"discovery-{label}-vfs", problems)

# Host facts.
h = inv["host"]
problems = []
groups = os.listdir("/sys/kernel/iommu_groups") if os.path.isdir("/sys/kernel/iommu_groups") else []
lane.compare("iommuGroupsPresent", bool(groups), h.get("iommuGroupsPresent"), problems)
vfio = os.path.isdir("/sys/bus/pci/drivers/vfio-pci") or lane.run(["modinfo", "vfio-pci"])[0] == 0
lane.compare("vfioPCIAvailable", vfio, h.get("vfioPCIAvailable"), problems)
r.expect("discovery-host-iommu", problems)

problems = []
lane.compare("kernelCommandLine", lane.read("/proc/cmdline"), h.get("kernelCommandLine"), problems)
r.expect("discovery-host-cmdline", problems)

problems = []
routes = lane.default_route_interfaces()
lane.compare("defaultRouteInterfaces", routes, sorted(h.get("defaultRouteInterfaces") or []), problems)
mgmt = sorted({lane.pci_of_netdev(n) for n in routes if lane.pci_of_netdev(n)})
lane.compare("managementDevices", mgmt, sorted(h.get("managementDevices") or []), problems)
if not routes:
    problems.append("precondition: the guest has no default route")
r.expect("discovery-host-management", problems)
