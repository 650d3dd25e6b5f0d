"""Check 30-netdevsim-vf-set: `sriovctl vf set` on netdevsim, with `ip -j -d link show` as the oracle.

argv: <PF netdev> <netdevsim device name> (the PF has 4 VFs, all at netdevsim's defaults).
Every step sets something with sriovctl, then compares the kernel's view of all four VFs with the
view before, plus the change asked for: the setting must have landed, and nothing else may move.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
pf, device = sys.argv[1], sys.argv[2]


def kernel():
    vfs = lane.ip_vfs(pf)
    if vfs is None or sorted(vfs) != [0, 1, 2, 3]:
        raise SystemExit(r.fail("nsim-vf-set-oracle", f"`ip -j -d link show dev {pf}` lists VFs "
                                f"{sorted(vfs) if vfs else vfs}, expected 0-3"))
    return vfs


def changes(before, after):
    out = []
    for vf in sorted(after):
        for k in lane.VF_FIELDS:
            if before[vf][k] != after[vf][k]:
                out.append(f"vf {vf} {k}: {json.dumps(before[vf][k])} -> {json.dumps(after[vf][k])}")
    return out


def step(name, vf, args, want):
    """sriovctl vf set <pf> <vf> <args>; the kernel must show exactly `want` changed on that VF."""
    before = kernel()
    rc, out, err = lane.sriovctl("vf", "set", pf, str(vf), *args)
    after = kernel()
    expected = {v: dict(s) for v, s in before.items()}
    expected[vf].update(want)
    problems = []
    if rc != 0:
        problems.append(f"`sriovctl vf set {pf} {vf} {' '.join(args)}` exited {rc}: {lane.last_line(err)}")
    for v in sorted(after):
        for k in lane.VF_FIELDS:
            if after[v][k] != expected[v][k]:
                problems.append(f"vf {v} {k}: wanted {json.dumps(expected[v][k])}, ip shows {json.dumps(after[v][k])}"
                                f" (was {json.dumps(before[v][k])})")
    r.expect(f"nsim-vf-set-{name}", problems)


MAC = "02:30:00:00:00:01"
step("mac", 1, ["--mac", MAC], {"mac": MAC})
step("vlan-qos", 1, ["--vlan", "100", "--qos", "3"], {"vlan": 100, "qos": 3, "vlanProto": "802.1Q"})
step("vlan-proto-8021ad", 1, ["--vlan", "200", "--qos", "1", "--vlan-proto", "802.1ad"],
     {"vlan": 200, "qos": 1, "vlanProto": "802.1ad"})
# Like `ip link set ... vf 1 vlan 300`: no --qos means QoS 0, no --vlan-proto means 802.1Q.
step("vlan-defaults", 1, ["--vlan", "300"], {"vlan": 300, "qos": 0, "vlanProto": "802.1Q"})
step("spoofchk-on", 1, ["--spoofchk", "on"], {"spoofCheck": True})
step("spoofchk-off", 1, ["--spoofchk", "off"], {"spoofCheck": False})
step("trust-on", 1, ["--trust", "on"], {"trust": True})
step("trust-off", 1, ["--trust", "off"], {"trust": False})
step("state-enable", 1, ["--state", "enable"], {"linkState": "enable"})
step("state-disable", 1, ["--state", "disable"], {"linkState": "disable"})
step("state-auto", 1, ["--state", "auto"], {"linkState": "auto"})
step("rates", 1, ["--min-tx-rate", "100", "--max-tx-rate", "500"], {"minTxRate": 100, "maxTxRate": 500})
# One rate alone keeps the other (the kernel takes both in one IFLA_VF_RATE; ip reads the other first).
step("max-rate-keeps-min", 1, ["--max-tx-rate", "800"], {"maxTxRate": 800})
step("query-rss-on", 1, ["--query-rss", "on"], {"queryRSS": True})
step("query-rss-off", 1, ["--query-rss", "off"], {"queryRSS": False})
step("vlan-clear", 1, ["--vlan", "0"], {"vlan": 0, "qos": 0, "vlanProto": "802.1Q"})
step("all-at-once", 2, ["--mac", "02:30:00:00:00:02", "--vlan", "42", "--qos", "7", "--vlan-proto", "802.1ad",
                        "--spoofchk", "on", "--trust", "on", "--state", "disable", "--min-tx-rate", "10",
                        "--max-tx-rate", "20", "--query-rss", "on"],
     {"mac": "02:30:00:00:00:02", "vlan": 42, "qos": 7, "vlanProto": "802.1ad", "spoofCheck": True,
      "trust": True, "linkState": "disable", "minTxRate": 10, "maxTxRate": 20, "queryRSS": True})

# `vf set --json` prints the VF as read back after the change: it must be what the kernel now holds.
rc, obj, problem = lane.sriovctl_json("vf", "set", pf, "3", "--mac", "02:30:00:00:00:03", "--vlan", "7",
                                      "--trust", "on", "--json")
problems = [problem] if problem else []
if not problem:
    if isinstance(obj, dict) and "index" not in obj and isinstance(obj.get("vf"), dict):
        obj = obj["vf"]
    problems += lane.diff_settings("vf 3", kernel()[3], lane.vf_settings(obj))
    if kernel()[3]["mac"] != "02:30:00:00:00:03":
        problems.append(f"the kernel shows vf 3 mac {kernel()[3]['mac']}, not 02:30:00:00:00:03")
r.expect("nsim-vf-set-json-readback", problems)

# --- vf show / pf show agree with the kernel ---------------------------------------------------------
ipvfs = kernel()
problems = []
for vf in range(4):
    rc, obj, problem = lane.sriovctl_json("vf", "show", pf, str(vf), "--json")
    if problem:
        problems.append(problem)
        continue
    if isinstance(obj, dict) and "index" not in obj and isinstance(obj.get("vf"), dict):
        obj = obj["vf"]
    lane.compare(f"vf {vf} index", vf, lane.field(obj, "index"), problems)
    problems += lane.diff_settings(f"vf {vf}", ipvfs[vf], lane.vf_settings(obj))
r.expect("nsim-vf-show-matches-ip", problems)

rc, obj, problem = lane.sriovctl_json("pf", "show", pf, "--json")
if problem or not isinstance(obj, dict) or not isinstance(obj.get("pf"), dict) or not isinstance(obj.get("vfs"), list):
    r.fail("nsim-pf-show-matches-ip", problem or "output lacks a `pf` object and a `vfs` array")
else:
    problems = []
    p = obj["pf"]
    for key, want in (("interface", pf), ("device", device), ("pciAddress", None), ("driver", "netdevsim"),
                      ("numVFs", int(lane.read(f"/sys/bus/netdevsim/devices/{device}/sriov_numvfs"))),
                      ("totalVFs", None), ("operState", lane.operstate(pf)), ("protected", False)):
        lane.compare(f"pf {key}", want, p.get(key), problems)
    lane.compare("vf indices", [0, 1, 2, 3], [v.get("index") for v in obj["vfs"] if isinstance(v, dict)], problems)
    for v in obj["vfs"]:
        i = v.get("index") if isinstance(v, dict) else None
        if i in ipvfs:
            problems += lane.diff_settings(f"vf {i}", ipvfs[i], lane.vf_settings(v))
            for key, want in (("source", "netlink"), ("pciAddress", None), ("driver", None), ("iommuGroup", None)):
                lane.compare(f"vf {i} {key}", want, v.get(key), problems)
    lane.compare("kernelListWrapped", False, obj.get("kernelListWrapped"), problems)
    lane.compare("missing", [], obj.get("missing"), problems)
    r.expect("nsim-pf-show-matches-ip", problems)

# --- bad input: refused with a clear message, nothing changed -----------------------------------------
def refused(name, vf, args, code, needles):
    """Exit `code`, an error line on stderr that names what is wrong, and the kernel unchanged."""
    before = kernel()
    rc, out, err = lane.sriovctl("vf", "set", pf, str(vf), *args)
    after = kernel()
    problems = []
    cmd = f"`sriovctl vf set {pf} {vf} {' '.join(args)}`"
    if rc != code:
        problems.append(f"{cmd} exited {rc}, expected {code}; stderr: {lane.last_line(err)!r}")
    if "error:" not in err.lower():
        problems.append(f"{cmd}: no error message on stderr ({err.strip()[:200]!r})")
    elif not any(n.lower() in err.lower() for n in needles):
        problems.append(f"{cmd}: the message does not name {' or '.join(map(repr, needles))}: {err.strip()[:300]!r}")
    problems += [f"{cmd} changed the kernel: {c}" for c in changes(before, after)]
    print(f"lane: {cmd} -> exit {rc}: {' | '.join(err.strip().splitlines())[:300]!r}", flush=True)
    r.expect(f"nsim-vf-set-refuses-{name}", problems)


refused("vlan-4095", 0, ["--vlan", "4095"], 64, ["4095"])
refused("qos-8", 0, ["--vlan", "10", "--qos", "8"], 64, ["qos"])
refused("mac-zz", 0, ["--mac", "zz:00:00:00:00:00"], 64, ["zz:00:00:00:00:00"])
refused("rate-negative", 0, ["--max-tx-rate", "-1"], 64, ["max-tx-rate", "-1"])
refused("vlan-proto-bogus", 0, ["--vlan", "10", "--vlan-proto", "802.1x"], 64, ["802.1x"])
refused("state-bogus", 0, ["--state", "up"], 64, ["state", "'up'", '"up"'])
refused("vf-999", 999, ["--mac", "02:30:00:00:00:09"], 66, ["has 4 VFs (0-3)"])
rc, out, err = lane.sriovctl("vf", "show", pf, "4", "--json")
if rc == 66 and "has 4 VFs (0-3)" in err:
    r.passed("nsim-vf-show-refuses-vf-4")
else:
    r.fail("nsim-vf-show-refuses-vf-4", f"`sriovctl vf show {pf} 4 --json` exited {rc} (expected 66 and "
           f"'has 4 VFs (0-3)'); stderr: {lane.last_line(err)!r}")
