"""Helpers for kernel-lane checks written in Python (the host's python3, inside the guest's chroot).

The oracle here reads the kernel (sysfs, procfs, iproute2); it never imports or mimics project code.
Every assertion prints one line: `PASS <name>` or `FAIL <name>: <reason>`.
"""
import json
import os
import re
import subprocess

SYS_PCI = "/sys/bus/pci/devices"
IP = "/usr/sbin/ip"


class Reporter:
    def __init__(self):
        self.failed = 0

    def passed(self, name):
        print(f"PASS {name}", flush=True)

    def fail(self, name, reason):
        self.failed += 1
        reason = " ".join(str(reason).split())  # one line
        if len(reason) > 600:
            reason = reason[:600] + "..."
        print(f"FAIL {name}: {reason}", flush=True)

    def expect(self, name, problems):
        """PASS when problems is empty, else FAIL with all of them joined."""
        if problems:
            self.fail(name, "; ".join(problems))
        else:
            self.passed(name)


def run(argv, timeout=120):
    """Run a command; return (exit status, stdout, stderr). Never raises for a failing command."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except FileNotFoundError as e:
        return 127, "", str(e)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout}s"


def run_json(argv, timeout=120):
    """Run a command that prints JSON. Returns (status, object or None, problem or None)."""
    rc, out, err = run(argv, timeout)
    try:
        return rc, json.loads(out), None
    except ValueError as e:
        tail = (err.strip().splitlines() or [""])[-1]
        return rc, None, f"`{' '.join(argv)}` exited {rc}, output is not JSON ({e}); stderr: {tail}"


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def link_name(path):
    """Basename of a symlink's target, or None when there is no link (e.g. no driver bound)."""
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def pci(bdf):
    """What the kernel says about one PCI device, in the inventory's vocabulary."""
    d = os.path.join(SYS_PCI, bdf)
    facts = {
        "pciAddress": bdf,
        "vendorID": read(f"{d}/vendor").removeprefix("0x"),
        "deviceID": read(f"{d}/device").removeprefix("0x"),
        "driver": link_name(f"{d}/driver"),
        "iommuGroup": int(link_name(f"{d}/iommu_group")) if link_name(f"{d}/iommu_group") else None,
        "interfaces": sorted(os.listdir(f"{d}/net")) if os.path.isdir(f"{d}/net") else [],
    }
    numa = read(f"{d}/numa_node")
    facts["numaNode"] = None if numa in (None, "-1") else int(numa)
    if os.path.exists(f"{d}/sriov_totalvfs"):
        facts["totalVFs"] = int(read(f"{d}/sriov_totalvfs"))
        facts["numVFs"] = int(read(f"{d}/sriov_numvfs"))
        facts["driversAutoprobe"] = read(f"{d}/sriov_drivers_autoprobe") == "1"
        vfs = []
        for name in os.listdir(d):
            if name.startswith("virtfn"):
                vf = pci(link_name(f"{d}/{name}"))
                vf["index"] = int(name[len("virtfn"):])
                vfs.append(vf)
        facts["vfs"] = sorted(vfs, key=lambda v: v["index"])
    return facts


def sriov_pfs():
    """Every PCI device with an SR-IOV capability (sriov_totalvfs), sorted by address."""
    return sorted(b for b in os.listdir(SYS_PCI) if os.path.exists(f"{SYS_PCI}/{b}/sriov_totalvfs"))


def pf_by_ids(vendor, device):
    for b in sriov_pfs():
        if read(f"{SYS_PCI}/{b}/vendor") == f"0x{vendor}" and read(f"{SYS_PCI}/{b}/device") == f"0x{device}":
            return b
    return None


def operstate(ifname):
    return read(f"/sys/class/net/{ifname}/operstate")


def default_route_interfaces():
    """Interfaces that carry a default route, from iproute2 (IPv4 and IPv6)."""
    names = set()
    for fam in ("-4", "-6"):
        rc, out, _ = run([IP, "-j", fam, "route", "show", "default"])
        if rc == 0 and out.strip():
            for r in json.loads(out):
                if r.get("dev"):
                    names.add(r["dev"])
    return sorted(names)


def pci_of_netdev(ifname):
    """The PCI device under a netdev (a virtio-net netdev's `device` is virtioN, its parent the PCI device)."""
    path = os.path.realpath(f"/sys/class/net/{ifname}/device")
    while path != "/":
        if re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", os.path.basename(path)):
            return os.path.basename(path)
        path = os.path.dirname(path)
    return None


def compare(what, want, got, problems):
    """Append a readable problem when want != got."""
    if want != got:
        problems.append(f"{what}: kernel says {json.dumps(want)}, sriovctl says {json.dumps(got)}")


def field(obj, key):
    """A key of a JSON object; absent and null are the same ("unknown")."""
    v = obj.get(key, None) if isinstance(obj, dict) else None
    return v
