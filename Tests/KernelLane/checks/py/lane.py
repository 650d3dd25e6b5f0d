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


# --- VF settings, as the kernel reports them ------------------------------------------------------
# Two independent readers, both in sriovctl's vocabulary (mac, vlan, qos, vlanProto, spoofCheck,
# trust, linkState, minTxRate, maxTxRate, queryRSS): iproute2 (`ip -j -d link show`, which loses the
# VFs past the 16-bit IFLA_VFINFO_LIST wrap), and a raw RTM_GETLINK of our own with
# RTEXT_FILTER_SKIP_STATS that walks the VF entries to the end of the message (for large PFs).
VF_FIELDS = ("mac", "vlan", "qos", "vlanProto", "spoofCheck", "trust", "linkState", "minTxRate",
             "maxTxRate", "queryRSS")


def ip_vfs(ifname):
    """{vf index: settings} from `ip -j -d link show dev <ifname>`; None when ip fails."""
    rc, out, err = run([IP, "-j", "-d", "link", "show", "dev", ifname])
    if rc != 0:
        return None
    vfs = {}
    for e in json.loads(out)[0].get("vfinfo_list", []):
        vlan = (e.get("vlan_list") or [{}])[0]
        rate = e.get("rate") or {}
        vfs[e["vf"]] = {
            "mac": e.get("address"),
            "vlan": vlan.get("vlan", 0), "qos": vlan.get("qos", 0),
            "vlanProto": vlan.get("protocol", "802.1Q"),
            "spoofCheck": e.get("spoofchk"), "trust": e.get("trust"),
            "linkState": e.get("link_state"),
            "minTxRate": rate.get("min_tx", 0), "maxTxRate": rate.get("max_tx", e.get("tx_rate", 0)),
            "queryRSS": e.get("query_rss_en"),
        }
    return vfs


def ip_text_vf_lines(ifname):
    """(number of `vf N` lines in `ip -d link show`, whether ip said "Truncated VF list")."""
    rc, out, err = run([IP, "-d", "link", "show", "dev", ifname])
    lines = sum(1 for line in out.splitlines() if re.match(r"\s+vf \d+ ", line))
    return lines, "Truncated VF list" in out + err


def netlink_vfs(ifname):
    """The kernel's own VF list for one link, read with RTM_GETLINK + IFLA_EXT_MASK
    (RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS), received whole (size peeked with MSG_TRUNC).

    Returns {"numVFs": IFLA_NUM_VF, "vfs": {index: settings}, "declared": entries inside the
    IFLA_VFINFO_LIST nest's own 16-bit length, "wrapped": whether entries lie past it, "bytes": size}.
    The entries are walked from the start of the nest to the end of the message, so none is lost.
    """
    import socket
    import struct
    ifindex = int(read(f"/sys/class/net/{ifname}/ifindex"))
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)   # NETLINK_ROUTE
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((0, 0))
        ext_mask = 1 | 8                                        # RTEXT_FILTER_VF | SKIP_STATS
        attr = struct.pack("=HHI", 8, 29, ext_mask)             # IFLA_EXT_MASK
        body = struct.pack("=BxHiII", 0, 0, ifindex, 0, 0) + attr
        s.send(struct.pack("=IHHII", 16 + len(body), 18, 1, 1, 0) + body)   # RTM_GETLINK, NLM_F_REQUEST
        size = s.recv_into(bytearray(16), 16, socket.MSG_PEEK | socket.MSG_TRUNC)
        msg = s.recv(size)
    finally:
        s.close()
    mlen, mtype = struct.unpack_from("=IH", msg, 0)
    if mtype == 2:                                              # NLMSG_ERROR
        raise OSError(-struct.unpack_from("=i", msg, 16)[0], f"RTM_GETLINK {ifname}")
    end = min(mlen, len(msg))
    pos = 16 + 16                                               # nlmsghdr + ifinfomsg
    num_vfs, vfs, declared, wrapped = None, {}, 0, False
    while pos + 4 <= end:
        alen, atype = struct.unpack_from("=HH", msg, pos)
        atype &= 0x3fff
        if alen < 4:
            break
        if atype == 21:                                         # IFLA_NUM_VF
            num_vfs = struct.unpack_from("=I", msg, pos + 4)[0]
        elif atype == 22:                                       # IFLA_VFINFO_LIST
            nest_end = pos + alen
            p = pos + 4
            while p + 4 <= end and len(vfs) < (num_vfs or 0):
                elen, etype = struct.unpack_from("=HH", msg, p)
                if (etype & 0x3fff) != 1 or elen < 4:           # IFLA_VF_INFO
                    break
                vf = _vf_info(msg, p + 4, p + elen)
                vfs[vf.pop("index")] = vf
                if p + elen <= nest_end:
                    declared += 1
                else:
                    wrapped = True
                p += (elen + 3) & ~3
            break                                               # what follows the list is not needed
        pos += (alen + 3) & ~3
    return {"numVFs": num_vfs, "vfs": vfs, "declared": declared, "wrapped": wrapped, "bytes": len(msg)}


def _vf_info(msg, pos, end):
    import struct
    u32 = lambda off: struct.unpack_from("=I", msg, off)[0]    # noqa: E731
    flag = lambda off: None if u32(off) == 0xFFFFFFFF else u32(off) != 0   # noqa: E731 (-1: not reported)
    vf = {"index": None, "mac": None, "vlan": 0, "qos": 0, "vlanProto": "802.1Q", "spoofCheck": None,
          "trust": None, "linkState": None, "minTxRate": 0, "maxTxRate": 0, "queryRSS": None}
    while pos + 4 <= end:
        alen, atype = struct.unpack_from("=HH", msg, pos)
        atype &= 0x3fff
        v = pos + 4
        if atype == 1:                                          # IFLA_VF_MAC {vf, mac[32]}
            vf["index"] = u32(v)
            vf["mac"] = ":".join(f"{b:02x}" for b in msg[v + 4:v + 10])
        elif atype == 2:                                        # IFLA_VF_VLAN {vf, vlan, qos}
            vf["vlan"], vf["qos"] = u32(v + 4), u32(v + 8)
        elif atype == 12:                                       # IFLA_VF_VLAN_LIST
            ilen = struct.unpack_from("=H", msg, v)[0]
            if ilen >= 4 + 14:                                  # IFLA_VF_VLAN_INFO {vf, vlan, qos, be16 proto}
                vf["vlan"], vf["qos"] = u32(v + 8), u32(v + 12)
                proto = struct.unpack_from("!H", msg, v + 16)[0]
                # A VF whose VLAN was never set reports protocol 0 (netdevsim): the kernel's default is 802.1Q.
                vf["vlanProto"] = {0: "802.1Q", 0x8100: "802.1Q", 0x88A8: "802.1ad"}.get(proto, hex(proto))
        elif atype == 4:                                        # IFLA_VF_SPOOFCHK {vf, setting}
            vf["spoofCheck"] = flag(v + 4)
        elif atype == 5:                                        # IFLA_VF_LINK_STATE {vf, state}
            vf["linkState"] = {0: "auto", 1: "enable", 2: "disable"}.get(u32(v + 4), str(u32(v + 4)))
        elif atype == 6:                                        # IFLA_VF_RATE {vf, min, max}
            vf["minTxRate"], vf["maxTxRate"] = u32(v + 4), u32(v + 8)
        elif atype == 7:                                        # IFLA_VF_RSS_QUERY_EN {vf, setting}
            vf["queryRSS"] = flag(v + 4)
        elif atype == 9:                                        # IFLA_VF_TRUST {vf, setting}
            vf["trust"] = flag(v + 4)
        pos += (alen + 3) & ~3
    return vf


# Commands that go through the front door (sriovd's socket by default): in-process unless told otherwise.
FRONT_DOOR = (("vf", "set"), ("pf", "set-numvfs"), ("vf", "unquarantine"), ("lease",), ("pool",), ("audit",))


def argv_for(args):
    """sriovctl's argv with the lane's state directory, and --direct for a front-door command that names
    neither --socket nor --direct."""
    door = any(tuple(args[:len(p)]) == p for p in FRONT_DOOR) and "--socket" not in args and "--direct" not in args
    return [os.environ["SRIOVCTL"], *args, *(["--direct"] if door else []), "--state-dir", os.environ["SRIOV_STATE_DIR"]]


def sriovctl(*args, timeout=120):
    """Run sriovctl with the lane's state directory; (exit status, stdout, stderr)."""
    return run(argv_for(args), timeout)


def sriovctl_json(*args, timeout=120):
    """Run a sriovctl command that prints JSON; (exit status, object or None, problem or None)."""
    argv = argv_for(args)
    rc, obj, problem = run_json(argv, timeout)
    if problem is None and rc != 0:
        problem = f"`{' '.join(argv)}` exited {rc}"
    return rc, obj, problem


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def vf_settings(obj):
    """The settings fields of one of sriovctl's VF objects."""
    return {k: obj.get(k) for k in VF_FIELDS} if isinstance(obj, dict) else None


def diff_settings(label, want, got):
    """Readable differences between two settings dicts (kernel first)."""
    if got is None:
        return [f"{label}: missing"]
    return [f"{label} {k}: kernel says {json.dumps(want.get(k))}, sriovctl says {json.dumps(got.get(k))}"
            for k in VF_FIELDS if want.get(k) != got.get(k)]
