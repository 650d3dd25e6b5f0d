"""Check 60-leases: `sriovctl lease acquire/list/check/release` on igb and NVMe VFs, with sysfs
(driver, driver_override, iommu_group), /dev/vfio and `ip -j -d link show` as the oracle.

argv: <igb PF address> <its netdev> <NVMe PF address> <config file>
(igb: 4 VFs, autoprobe off, VF 3 on igbvf, link up; NVMe: 3 VFs, autoprobe off; the config's pools are
lane-igb = igb VFs 0-2, lane-igb-host = igb VF 3 with rebind-host-driver, lane-nvme = NVMe VFs 0-2.)
"""
import json
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
igb, pf, nvme, config = sys.argv[1:5]
SYS = lane.SYS_PCI
ZERO_MACS = ("00:00:00:00:00:00", "02:00:00:00:00:00")   # scrubbed (the second if the driver refuses zero)
SCRUBBED = {"vlan": 0, "qos": 0, "spoofCheck": True, "trust": False, "maxTxRate": 0}
POOLS = {"lane-igb": (igb, [0, 1, 2]), "lane-igb-host": (igb, [3]), "lane-nvme": (nvme, [0, 1, 2])}
acquired = {}                                            # lease id -> the acquire's JSON


def ctl(*args, timeout=120):
    """In-process (--direct, added by lane.sriovctl) on the lane's state directory with this check's pools."""
    return lane.sriovctl(*args, "--config", config, timeout=timeout)


def ctl_json(*args, timeout=120):
    return lane.sriovctl_json(*args, "--config", config, timeout=timeout)


def cmd(args):
    return "`sriovctl " + " ".join(args) + "`"


def vf_address(pf_bdf, index):
    return lane.link_name(f"{SYS}/{pf_bdf}/virtfn{index}")


def override(bdf):
    v = lane.read(f"{SYS}/{bdf}/driver_override")
    return None if v in (None, "", "(null)") else v


def group_of(bdf):
    g = lane.link_name(f"{SYS}/{bdf}/iommu_group")
    return int(g) if g is not None else None


def vf_state(bdf):
    """What sysfs says about one VF: driver, driver_override, IOMMU group, netdevs."""
    return {"driver": lane.link_name(f"{SYS}/{bdf}/driver"), "override": override(bdf), "group": group_of(bdf),
            "net": sorted(os.listdir(f"{SYS}/{bdf}/net")) if os.path.isdir(f"{SYS}/{bdf}/net") else []}


def pool_vfs():
    """Every pool VF: address -> (pool, PF, index)."""
    out = {}
    for pool, (pf_bdf, indexes) in POOLS.items():
        for i in indexes:
            out[vf_address(pf_bdf, i)] = (pool, pf_bdf, i)
    return out


def vfio_nodes():
    try:
        return sorted(n for n in os.listdir("/dev/vfio") if n != "vfio")
    except FileNotFoundError:
        return []


def host_view():
    """The kernel's whole picture for 'nothing changed' comparisons."""
    return {"vfs": {a: vf_state(a) for a in pool_vfs()}, "ip": lane.ip_vfs(pf), "dev-vfio": vfio_nodes()}


def view_changes(before, after):
    out = []
    for a in sorted(before["vfs"]):
        if before["vfs"][a] != after["vfs"].get(a):
            out.append(f"{a}: {json.dumps(before['vfs'][a])} -> {json.dumps(after['vfs'].get(a))}")
    for vf in sorted(before["ip"] or {}):
        for k in lane.VF_FIELDS:
            if (before["ip"] or {})[vf][k] != ((after["ip"] or {}).get(vf) or {}).get(k):
                out.append(f"ip {pf} vf {vf} {k}: {json.dumps(before['ip'][vf][k])} -> "
                           f"{json.dumps(((after['ip'] or {}).get(vf) or {}).get(k))}")
    if before["dev-vfio"] != after["dev-vfio"]:
        out.append(f"/dev/vfio: {before['dev-vfio']} -> {after['dev-vfio']}")
    return out


def vfio_node_problems(group, problems, label):
    """/dev/vfio/<group> must be a character device with the numbers of /sys/class/vfio/<group>/dev."""
    path = f"/dev/vfio/{group}"
    try:
        st = os.stat(path)
    except OSError as e:
        problems.append(f"{label}: {path} does not exist ({e.strerror})")
        return
    if not stat.S_ISCHR(st.st_mode):
        problems.append(f"{label}: {path} is not a character device")
        return
    want = lane.read(f"/sys/class/vfio/{group}/dev")
    got = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    if want is None:
        problems.append(f"{label}: {path} exists ({got}) but /sys/class/vfio/{group} does not")
    elif want != got:
        problems.append(f"{label}: {path} is {got}, /sys/class/vfio/{group}/dev says {want}")


def group_bound_to_vfio(group):
    """Whether any device of an IOMMU group is still on vfio-pci (then its node may stay)."""
    d = f"/sys/kernel/iommu_groups/{group}/devices"
    return any(lane.link_name(f"{d}/{m}/driver") == "vfio-pci" for m in (os.listdir(d) if os.path.isdir(d) else []))


def lease_check(name, held):
    """`sriovctl lease check` against the kernel: it must exit 1 and name exactly the free pool VFs the
    kernel shows bound to vfio-pci, with a driver_override, or with settings that are not scrubbed
    (ip: MAC not zero, a VLAN, trust, spoofchk off, a rate), and exit 0 when there are none. `held`:
    addresses of VFs under active leases (checked elsewhere to be on vfio-pci)."""
    rc, out, err = ctl("lease", "check")
    view = host_view()
    dirty = {}
    for addr, (pool, pf_bdf, i) in sorted(pool_vfs().items()):
        if addr in held:
            continue
        s, why = view["vfs"][addr], []
        if s["driver"] == "vfio-pci":
            why.append("on vfio-pci")
        if s["override"] is not None:
            why.append(f"driver_override {s['override']}")
        if pf_bdf == igb:
            k = (view["ip"] or {}).get(i) or {}
            # A VF back on its host driver owns its MAC (igbvf assigns itself a random one).
            if k.get("mac") not in ZERO_MACS and s["driver"] in (None, "vfio-pci"):
                why.append(f"mac {k.get('mac')}")
            why += [f"{f} {json.dumps(k.get(f))}" for f, w in SCRUBBED.items() if k.get(f) != w]
        if why:
            dirty[addr] = f"{addr} ({pool}, driver {s['driver']}): " + ", ".join(why)
    broken = [line for line in out.splitlines() if line.startswith("broken: ")]
    named = {addr for addr in pool_vfs() if any(addr in line for line in broken)}
    problems = []
    if rc != (1 if dirty else 0):
        problems.append(f"`sriovctl lease check` exited {rc}; the kernel shows "
                        + ("; ".join(dirty.values()) if dirty else "every free pool VF unbound from vfio-pci and scrubbed"))
    if named != set(dirty):
        problems.append(f"`lease check` names {sorted(named)}, the kernel shows unscrubbed/bound free VFs {sorted(dirty)}")
    if problems:
        problems.append(f"its output: {(out + err).strip()[:500]!r}")
    print(f"lane: `sriovctl lease check` ({name}) -> exit {rc}: {' | '.join(out.strip().splitlines())[:400]!r}", flush=True)
    r.expect(f"leases-check-{name}", problems)


# --- preconditions, with the kernel only -----------------------------------------------------------
problems = []
if not os.path.isdir("/sys/bus/pci/drivers/vfio-pci"):
    problems.append("vfio-pci is not loaded (/sys/bus/pci/drivers/vfio-pci missing)")
if not os.path.exists("/dev/vfio/vfio"):
    problems.append("/dev/vfio/vfio (the container node) is missing")
for bdf, n in ((igb, 4), (nvme, 3)):
    k = lane.pci(bdf)
    if k["numVFs"] != n or k["driversAutoprobe"]:
        problems.append(f"{bdf}: sriov_numvfs {k['numVFs']}, autoprobe {k['driversAutoprobe']} (wanted {n}, off)")
start = host_view()
groups = [s["group"] for s in start["vfs"].values()]
if None in groups or len(set(groups)) != len(groups):
    problems.append(f"pool VFs do not each have an IOMMU group of their own: {groups}")
for a, (pool, pf_bdf, i) in sorted(pool_vfs().items()):
    want = "igbvf" if pool == "lane-igb-host" else None
    if start["vfs"][a]["driver"] != want or start["vfs"][a]["override"] is not None:
        problems.append(f"{a} ({pool}): driver {start['vfs'][a]['driver']}, driver_override "
                        f"{start['vfs'][a]['override']} (wanted {want}, none)")
if start["ip"] is None or sorted(start["ip"]) != [0, 1, 2, 3]:
    problems.append(f"`ip -j -d link show dev {pf}` lists VFs {sorted(start['ip'] or {})}, expected 0-3")
r.expect("leases-setup", problems)
if problems:
    sys.exit(0)
vf3 = vf_address(igb, 3)
print(f"lane: igb VF 3 {vf3} before leasing: driver {start['vfs'][vf3]['driver']}, netdevs "
      f"{start['vfs'][vf3]['net']}, ip says {json.dumps(start['ip'][3])}", flush=True)

# igbvf gives VF 3 a random MAC that the PF reports: a free VF that is not scrubbed, which lease check
# must name (and nothing else).
lease_check("before", set())


# --- bad requests on the real host: refused with the reason, nothing bound --------------------------
def refused(name, args, code, needles):
    before = host_view()
    rc, out, err = ctl(*args)
    after = host_view()
    problems = []
    if rc != code:
        problems.append(f"{cmd(args)} exited {rc}, expected {code}")
    for needle in needles:
        if needle not in err:
            problems.append(f"{cmd(args)}: stderr lacks {needle!r}: {err.strip()[:300]!r}")
    problems += [f"{cmd(args)} changed the kernel: {c}" for c in view_changes(before, after)]
    print(f"lane: {cmd(args)} -> exit {rc}, stderr: {err.strip()[:300]!r}", flush=True)
    r.expect(f"leases-refuses-{name}", problems)


refused("unknown-pool", ["lease", "acquire", "--pool", "nosuch", "--owner", "vm-x", "--json"], 66,
        ["no pool named", "nosuch"])
refused("vlan-outside-policy", ["lease", "acquire", "--pool", "lane-igb", "--owner", "vm-x", "--vlan", "300", "--json"],
        77, ["does not allow VLAN 300", "100, 200-299"])
refused("mac-outside-prefix", ["lease", "acquire", "--pool", "lane-igb", "--owner", "vm-x",
                               "--mac", "02:11:22:33:44:55", "--json"], 77, ["02:11:22:33:44:55", "52:54:00"])
refused("settings-on-nvme", ["lease", "acquire", "--pool", "lane-nvme", "--owner", "vm-x", "--vlan", "100", "--json"],
        64, ["no network PF"])
# All or nothing: 4 VFs from a pool of 3 must bind none of them.
refused("more-than-pool", ["lease", "acquire", "--pool", "lane-igb", "--owner", "vm-x", "--count", "4", "--json"],
        75, ["cannot satisfy 4 VFs"])


# --- acquire ---------------------------------------------------------------------------------------
def bound_problems(lease, problems):
    """Every VF of a lease JSON on vfio-pci per sysfs, its /dev/vfio node there, the JSON agreeing."""
    for v in lease.get("vfs") or []:
        a = v.get("pciAddress")
        label = f"{a} (VF {v.get('index')} of {v.get('pf')})"
        if vf_address(v.get("pf"), v.get("index")) != a:
            problems.append(f"{label}: sysfs {v.get('pf')}/virtfn{v.get('index')} -> {vf_address(v.get('pf'), v.get('index'))}")
            continue
        s = vf_state(a)
        if s["driver"] != "vfio-pci":
            problems.append(f"{label}: sysfs driver is {s['driver']}, not vfio-pci")
        if s["override"] != "vfio-pci":
            problems.append(f"{label}: driver_override is {s['override']}, not vfio-pci")
        lane.compare(f"{label} iommuGroup", s["group"], v.get("iommuGroup"), problems)
        lane.compare(f"{label} vfioDevice", f"/dev/vfio/{s['group']}", v.get("vfioDevice"), problems)
        vfio_node_problems(s["group"], problems, label)
        if v.get("stage") != "active":
            problems.append(f"{label}: stage {v.get('stage')!r}, not active")


def acquire(name, args, pf_bdf, count, want_ip=None, previous_driver=None, mac_prefix=None):
    """Runs one acquire; checks the JSON's shape, sysfs, /dev/vfio and (igb) ip. Returns the lease JSON."""
    args = ["lease", "acquire", *args, "--json"]
    before = host_view()
    rc, lease, problem = ctl_json(*args)
    after = host_view()
    problems = []
    if problem or not isinstance(lease, dict):
        r.fail(f"leases-{name}", problem or f"{cmd(args)} printed {lease!r}")
        return None
    acquired[lease.get("id")] = lease
    vfs = lease.get("vfs") or []
    if lease.get("state") != "active" or not str(lease.get("id", "")).startswith("l-") or len(vfs) != count:
        problems.append(f"{cmd(args)}: id {lease.get('id')!r}, state {lease.get('state')!r}, {len(vfs)} VFs (wanted l-..., active, {count})")
    pool = args[args.index("--pool") + 1]
    for v in vfs:
        if v.get("pf") != pf_bdf or v.get("index") not in POOLS[pool][1]:
            problems.append(f"{v.get('pciAddress')}: PF {v.get('pf')} VF {v.get('index')} is not in pool {pool}")
        if previous_driver is not None:
            lane.compare(f"{v.get('pciAddress')} previousDriver", previous_driver, v.get("previousDriver"), problems)
            if vf_state(v.get("pciAddress"))["net"]:
                problems.append(f"{v.get('pciAddress')} still has netdevs {vf_state(v.get('pciAddress'))['net']} on vfio-pci")
        attach = lease.get("attach") or {}
        if f"host={v.get('pciAddress')}" not in attach.get("qemu", ""):
            problems.append(f"attach.qemu {attach.get('qemu')!r} does not name {v.get('pciAddress')}")
    bound_problems(lease, problems)
    # Nothing outside the lease moved (sysfs and /dev/vfio), and ip shows the lease's settings.
    mine = {v.get("pciAddress") for v in vfs}
    nodes = {f"{vf_state(a)['group']}" for a in mine}
    for c in view_changes({"vfs": {a: s for a, s in before["vfs"].items() if a not in mine}, "ip": None,
                           "dev-vfio": sorted(set(before["dev-vfio"]) | nodes)},
                          {"vfs": after["vfs"], "ip": None, "dev-vfio": after["dev-vfio"]}):
        problems.append(f"outside the lease: {c}")
    r.expect(f"leases-{name}-sysfs-dev-vfio", problems)
    if want_ip is not None:
        problems = []
        ip = after["ip"] or {}
        for v in vfs:
            i = v.get("index")
            want = dict(before["ip"][i])
            want.update(want_ip(v))
            got = ip.get(i) or {}
            if mac_prefix and not str(got.get("mac")).startswith(mac_prefix):
                problems.append(f"ip {pf} vf {i} mac {got.get('mac')} is not under the pool's prefix {mac_prefix}")
            for k in lane.VF_FIELDS:
                if got.get(k) != want.get(k):
                    problems.append(f"ip {pf} vf {i} {k}: wanted {json.dumps(want.get(k))}, ip shows "
                                    f"{json.dumps(got.get(k))} (was {json.dumps(before['ip'][i][k])})")
            # The JSON's settings are what the kernel shows.
            s = v.get("settings") or {}
            vlan = s.get("vlan") or {}
            for what, kernel, ours in (("mac", got.get("mac"), s.get("mac")), ("vlan", got.get("vlan"), vlan.get("id", 0)),
                                       ("qos", got.get("qos"), vlan.get("qos", 0)),
                                       ("spoofCheck", got.get("spoofCheck"), s.get("spoofCheck", got.get("spoofCheck"))),
                                       ("trust", got.get("trust"), s.get("trust", got.get("trust")))):
                lane.compare(f"vf {i} settings.{what}", kernel, ours, problems)
        leased = {v.get("index") for v in vfs}
        for i in sorted(set(ip) - leased):
            for k in lane.VF_FIELDS:
                if ip[i].get(k) != before["ip"][i].get(k):
                    problems.append(f"ip {pf} vf {i} (not leased) {k}: {json.dumps(before['ip'][i][k])} -> {json.dumps(ip[i].get(k))}")
        r.expect(f"leases-{name}-ip", problems)
    return lease


def json_mac(v):
    """The MAC the lease JSON says it set (generated when the request gave none)."""
    return (v.get("settings") or {}).get("mac")


a = acquire("igb-acquire-defaults", ["--pool", "lane-igb", "--owner", "vm-a", "--count", "2"], igb, 2,
            want_ip=lambda v: {"mac": json_mac(v), "vlan": 100, "qos": 0, "vlanProto": "802.1Q", "spoofCheck": True,
                               "trust": False}, mac_prefix="52:54:00:")
b = acquire("igb-acquire-settings", ["--pool", "lane-igb", "--owner", "vm-b", "--mac", "52:54:00:aa:bb:01",
                                     "--vlan", "250", "--qos", "3", "--trust", "on", "--spoofchk", "off"], igb, 1,
            want_ip=lambda v: {"mac": "52:54:00:aa:bb:01", "vlan": 250, "qos": 3, "vlanProto": "802.1Q",
                               "spoofCheck": False, "trust": True})
c = acquire("igb-acquire-from-igbvf", ["--pool", "lane-igb-host", "--owner", "vm-c"], igb, 1,
            want_ip=lambda v: {"mac": json_mac(v), "vlan": 0, "qos": 0},
            previous_driver="igbvf")
d = acquire("nvme-acquire", ["--pool", "lane-nvme", "--owner", "vm-d", "--count", "2"], nvme, 2)
problems = []
if d is not None:
    for v in d.get("vfs") or []:
        if v.get("pfInterface") is not None or (v.get("settings") or {}) != {}:
            problems.append(f"{v.get('pciAddress')}: pfInterface {v.get('pfInterface')!r}, settings "
                            f"{json.dumps(v.get('settings'))} (an NVMe PF has no netdev: expected none, {{}})")
    r.expect("leases-nvme-acquire-no-settings", problems)
leases = [x for x in (a, b, c, d) if x is not None]

# --- a new sriovctl process: the same leases, the kernel untouched by its start-up -----------------
KEYS = ("id", "owner", "pool", "state")
VF_KEYS = ("pciAddress", "pf", "index", "iommuGroup", "vfioDevice", "settings", "stage")
before = host_view()
rc, listed, problem = ctl_json("lease", "list", "--json")
after = host_view()
problems = [problem] if problem else []
if isinstance(listed, list):
    by_id = {x.get("id"): x for x in listed if isinstance(x, dict)}
    for lease in leases:
        got = by_id.get(lease["id"])
        if got is None:
            problems.append(f"lease {lease['id']} is not in `lease list --json` (ids: {sorted(by_id)})")
            continue
        for k in KEYS:
            lane.compare(f"{lease['id']} {k}", lease.get(k), got.get(k), problems)
        want = [{k: v.get(k) for k in VF_KEYS} for v in lease.get("vfs") or []]
        have = [{k: v.get(k) for k in VF_KEYS} for v in got.get("vfs") or []]
        lane.compare(f"{lease['id']} vfs", want, have, problems)
        bound_problems(got, problems)
elif not problem:
    problems.append(f"`lease list --json` printed {type(listed).__name__}, not a list")
problems += [f"`lease list` start-up changed the kernel: {c}" for c in view_changes(before, after)]
r.expect("leases-survive-restart", problems)

problems = []
if b is not None:
    vf = (b.get("vfs") or [{}])[0].get("pciAddress")
    rc, out, err = ctl("lease", "show", b["id"], "--format", "qemu")
    if rc != 0 or f"host={vf}" not in out:
        problems.append(f"`sriovctl lease show {b['id']} --format qemu` exited {rc}, printed {out.strip()!r}, "
                        f"expected -device vfio-pci,host={vf}: {lane.last_line(err)!r}")
    rc, out, err = ctl("lease", "show", b["id"], "--format", "libvirt")
    dom, bus, slotfn = vf.split(":")
    slot, fn = slotfn.split(".")
    for part in (f"domain='0x{dom}'", f"bus='0x{bus}'", f"slot='0x{slot}'", f"function='0x{fn}'"):
        if part not in out:
            problems.append(f"`lease show --format libvirt` lacks {part}: {out.strip()[:300]!r}")
else:
    problems.append("precondition: lease B was not acquired")
r.expect("leases-show-attach-specs", problems)

lease_check("while-leased", {v.get("pciAddress") for x in leases for v in x.get("vfs") or []})
rc, out, err = lane.sriovctl("journal", "verify")
problems = [] if rc == 0 else [f"`sriovctl journal verify` exited {rc}: {(out + err).strip()[:400]!r}"]
r.expect("leases-journal-verify", problems)

rc, pools, problem = ctl_json("pool", "list", "--json")
problems = [problem] if problem else []
want_leased = {"lane-igb": 3 if a and b else None, "lane-igb-host": 1 if c else None, "lane-nvme": 2 if d else None}
for p in (pools or {}).get("pools") or []:
    n = p.get("name")
    if n in want_leased and want_leased[n] is not None:
        total = len(POOLS[n][1])
        lane.compare(f"pool {n} (total, leased, free)", [total, want_leased[n], total - want_leased[n]],
                     [p.get("total"), p.get("leased"), p.get("free")], problems)
r.expect("leases-pool-list-while-leased", problems)


# --- release -----------------------------------------------------------------------------------------
def release(name, lease, on_release, igb_lease):
    if lease is None:
        r.fail(f"leases-{name}", "precondition: the lease was not acquired")
        return
    before = host_view()
    rc, out, err = ctl("lease", "release", lease["id"])
    after = host_view()
    problems = []
    if rc != 0:
        problems.append(f"`sriovctl lease release {lease['id']}` exited {rc}: {lane.last_line(err)!r}")
    if "quarantined" in out:
        problems.append(f"release quarantined VFs: {out.strip()[:400]!r}")
    mine = {v.get("pciAddress") for v in lease.get("vfs") or []}
    for v in lease.get("vfs") or []:
        addr = v.get("pciAddress")
        s = after["vfs"].get(addr) or vf_state(addr)
        want = v.get("previousDriver") if on_release == "rebind-host-driver" else None
        autoprobe_path = f"{SYS}/{v.get('pf')}/sriov_drivers_autoprobe"
        if s["driver"] != want:
            problems.append(f"{addr}: sysfs driver is {s['driver']} after release, wanted {want} (on_release {on_release}"
                            + (f", previous driver {v.get('previousDriver')}, PF sriov_drivers_autoprobe "
                               f"{lane.read(autoprobe_path)}" if on_release == "rebind-host-driver" else "") + ")")
        if s["override"] is not None:
            problems.append(f"{addr}: driver_override is still {s['override']!r}")
        g = v.get("iommuGroup")
        if g is not None and os.path.exists(f"/dev/vfio/{g}") and not group_bound_to_vfio(g):
            problems.append(f"{addr}: /dev/vfio/{g} still exists, no device of group {g} is on vfio-pci")
    for c in view_changes({"vfs": {x: y for x, y in before["vfs"].items() if x not in mine}, "ip": None,
                           "dev-vfio": [n for n in before["dev-vfio"]
                                        if n not in {str(v.get('iommuGroup')) for v in lease.get('vfs') or []}]},
                          {"vfs": {x: y for x, y in after["vfs"].items() if x not in mine}, "ip": None,
                           "dev-vfio": after["dev-vfio"]}):
        problems.append(f"outside the lease: {c}")
    r.expect(f"leases-{name}-sysfs-dev-vfio", problems)
    if igb_lease:
        problems = []
        ip = after["ip"] or {}
        for v in lease.get("vfs") or []:
            i = v.get("index")
            got = ip.get(i) or {}
            driver_now = (after["vfs"].get(v.get("pciAddress")) or {}).get("driver")
            if got.get("mac") not in ZERO_MACS and driver_now in (None, "vfio-pci"):
                problems.append(f"ip {pf} vf {i} mac {got.get('mac')} after release (wanted one of {', '.join(ZERO_MACS)})")
            for k, w in SCRUBBED.items():
                if got.get(k) != w:
                    problems.append(f"ip {pf} vf {i} {k} {json.dumps(got.get(k))} after release (wanted {json.dumps(w)})")
        leased = {v.get("index") for v in lease.get("vfs") or []}
        for i in sorted(set(ip) - leased):
            for k in lane.VF_FIELDS:
                if ip[i].get(k) != (before["ip"] or {}).get(i, {}).get(k):
                    problems.append(f"ip {pf} vf {i} (not in this lease) {k}: {json.dumps(before['ip'][i][k])} -> {json.dumps(ip[i].get(k))}")
        r.expect(f"leases-{name}-scrubbed-ip", problems)
    acquired.pop(lease["id"], None)


try:
    release("igb-release-defaults", a, "leave-unbound", True)
    release("igb-release-settings", b, "leave-unbound", True)
    release("igb-release-rebind-host-driver", c, "rebind-host-driver", True)
    release("nvme-release", d, "leave-unbound", False)

    lease_check("after-release", set())

    rc, pools, problem = ctl_json("pool", "list", "--json")
    problems = [problem] if problem else []
    seen = set()
    for p in (pools or {}).get("pools") or []:
        n = p.get("name")
        if n in POOLS:
            seen.add(n)
            total = len(POOLS[n][1])
            lane.compare(f"pool {n} (total, free, leased, quarantined)", [total, total, 0, 0],
                         [p.get("total"), p.get("free"), p.get("leased"), p.get("quarantined")], problems)
    if seen != set(POOLS):
        problems.append(f"`pool list --json` lists {sorted(seen)} of {sorted(POOLS)}")
    if (pools or {}).get("quarantine"):
        problems.append(f"quarantine is not empty: {json.dumps(pools.get('quarantine'))[:300]}")
    rc, listed, problem = ctl_json("lease", "list", "--json")
    if problem:
        problems.append(problem)
    else:
        left = sorted({x.get("id") for x in listed or []} & {x["id"] for x in leases})
        if left:
            problems.append(f"released leases still listed: {left}")
    r.expect("leases-pools-free-after-release", problems)
finally:
    # Whatever this check acquired and did not release (a failure above), released here.
    for lease_id in list(acquired):
        rc, out, err = ctl("lease", "release", lease_id)
        print(f"lane: cleanup: `sriovctl lease release {lease_id}` -> exit {rc} {lane.last_line(err)!r}", flush=True)
    if r.failed:   # a failed release may have quarantined VFs: give them back for later checks
        rc, pools, problem = ctl_json("pool", "list", "--json")
        for vf in sorted(((pools or {}).get("quarantine") or {})):
            rc, out, err = ctl("vf", "unquarantine", vf)
            print(f"lane: cleanup: `sriovctl vf unquarantine {vf}` -> exit {rc} {lane.last_line(err)!r}", flush=True)
