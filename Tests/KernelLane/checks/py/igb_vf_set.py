"""Check 40-igb-vf-set: `sriovctl vf set` on igb, with `ip -j -d link show` and sysfs as the oracle.

argv: <igb PF address> <its netdev> (4 VFs, autoprobe off, link up).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
bdf, pf = sys.argv[1], sys.argv[2]
N = 4


def kernel():
    vfs = lane.ip_vfs(pf)
    if vfs is None or sorted(vfs) != list(range(N)):
        raise SystemExit(r.fail("igb-vf-set-oracle", f"`ip -j -d link show dev {pf}` lists VFs "
                                f"{sorted(vfs) if vfs else vfs}, expected 0-{N - 1}"))
    return vfs


def changes(before, after):
    return [f"vf {vf} {k}: {json.dumps(before[vf][k])} -> {json.dumps(after[vf][k])}"
            for vf in sorted(after) for k in lane.VF_FIELDS if before[vf][k] != after[vf][k]]


def step(name, vf, args, want, target=pf):
    before = kernel()
    rc, out, err = lane.sriovctl("vf", "set", target, str(vf), *args)
    after = kernel()
    expected = {v: dict(s) for v, s in before.items()}
    expected[vf].update(want)
    problems = []
    if rc != 0:
        problems.append(f"`sriovctl vf set {target} {vf} {' '.join(args)}` exited {rc}: {lane.last_line(err)!r}")
    for v in sorted(after):
        for k in lane.VF_FIELDS:
            if after[v][k] != expected[v][k]:
                problems.append(f"vf {v} {k}: wanted {json.dumps(expected[v][k])}, ip shows "
                                f"{json.dumps(after[v][k])} (was {json.dumps(before[v][k])})")
    r.expect(f"igb-vf-set-{name}", problems)


step("mac", 0, ["--mac", "02:40:00:00:00:01"], {"mac": "02:40:00:00:00:01"})
step("vlan-qos", 0, ["--vlan", "10", "--qos", "2"], {"vlan": 10, "qos": 2, "vlanProto": "802.1Q"})
step("spoofchk-off", 0, ["--spoofchk", "off"], {"spoofCheck": False})
step("spoofchk-on", 0, ["--spoofchk", "on"], {"spoofCheck": True})
step("trust-on", 0, ["--trust", "on"], {"trust": True})
step("trust-off", 0, ["--trust", "off"], {"trust": False})
link = lane.operstate(pf)
if link != "up":
    print(f"lane: igb PF {pf} operstate is {link}: igb refuses max_tx_rate without link", flush=True)
step("max-tx-rate", 0, ["--max-tx-rate", "100"], {"maxTxRate": 100})
# The PF by PCI address, several settings at once, on the last VF.
step("by-pci-address", N - 1, ["--mac", "02:40:00:00:00:04", "--vlan", "20", "--spoofchk", "off", "--trust", "on"],
     {"mac": "02:40:00:00:00:04", "vlan": 20, "qos": 0, "spoofCheck": False, "trust": True}, target=bdf)


def refused(name, args, code, needle):
    before = kernel()
    rc, out, err = lane.sriovctl("vf", "set", pf, "0", *args)
    after = kernel()
    problems = []
    cmd = f"`sriovctl vf set {pf} 0 {' '.join(args)}`"
    if rc != code:
        problems.append(f"{cmd} exited {rc}, expected {code}")
    if needle not in err:
        problems.append(f"{cmd}: stderr lacks {needle!r}: {err.strip()[:300]!r}")
    problems += [f"{cmd} changed the kernel: {c}" for c in changes(before, after)]
    print(f"lane: {cmd} -> exit {rc}, stderr: {err.strip()[:300]!r}", flush=True)
    r.expect(f"igb-vf-set-refuses-{name}", problems)


# igb has no ndo_set_vf_link_state (EOPNOTSUPP) and rejects any min_tx_rate (EINVAL).
refused("state", ["--state", "enable"], 69, "driver igb does not support VF link state")
refused("min-tx-rate", ["--min-tx-rate", "10"], 1, "rejects min_tx_rate")

# --- vf show / pf show: settings from ip, PCI facts from sysfs --------------------------------------
ipvfs = kernel()
sysfs = lane.pci(bdf)
problems = []
rc, obj, problem = lane.sriovctl_json("vf", "show", pf, "0", "--json")
if problem:
    problems.append(problem)
else:
    if isinstance(obj, dict) and "index" not in obj and isinstance(obj.get("vf"), dict):
        obj = obj["vf"]
    problems += lane.diff_settings("vf 0", ipvfs[0], lane.vf_settings(obj))
    lane.compare("vf 0 pciAddress", sysfs["vfs"][0]["pciAddress"], lane.field(obj, "pciAddress"), problems)
r.expect("igb-vf-show-matches-ip", problems)

rc, obj, problem = lane.sriovctl_json("pf", "show", bdf, "--json")
if problem or not isinstance(obj, dict) or not isinstance(obj.get("pf"), dict) or not isinstance(obj.get("vfs"), list):
    r.fail("igb-pf-show-matches-kernel", problem or "output lacks a `pf` object and a `vfs` array")
else:
    problems = []
    p = obj["pf"]
    for key, want in (("interface", pf), ("device", bdf), ("pciAddress", bdf), ("driver", "igb"), ("numVFs", N),
                      ("totalVFs", sysfs["totalVFs"]), ("operState", lane.operstate(pf)), ("protected", False)):
        lane.compare(f"pf {key}", want, p.get(key), problems)
    lane.compare("vf indices", list(range(N)), [v.get("index") for v in obj["vfs"] if isinstance(v, dict)], problems)
    for v in obj["vfs"]:
        i = v.get("index") if isinstance(v, dict) else None
        if i in ipvfs:
            problems += lane.diff_settings(f"vf {i}", ipvfs[i], lane.vf_settings(v))
            k = sysfs["vfs"][i]
            for key, want in (("pciAddress", k["pciAddress"]), ("driver", k["driver"]),
                              ("iommuGroup", k["iommuGroup"]), ("source", "netlink")):
                lane.compare(f"vf {i} {key}", want, v.get(key), problems)
    lane.compare("kernelListWrapped", False, obj.get("kernelListWrapped"), problems)
    lane.compare("missing", [], obj.get("missing"), problems)
    r.expect("igb-pf-show-matches-kernel", problems)
