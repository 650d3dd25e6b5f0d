"""Check 31-netdevsim-256: `sriovctl pf show --json` on netdevsim PFs with 256 and 400 VFs.

argv: <PF netdev> 256 <PF netdev> 400. Distinctive settings are put on a few VFs with `ip` directly
(ip can set VFs it cannot show); the oracle is then the kernel's RTM_GETLINK reply without statistics,
read whole and walked to its end by lane.netlink_vfs (independent of sriovd), plus `ip -d link show`
for the VFs it can still see.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()


def ip_set(pf, vf, *words):
    rc, out, err = lane.run([lane.IP, "link", "set", "dev", pf, "vf", str(vf), *words])
    return None if rc == 0 else f"ip link set dev {pf} vf {vf} {' '.join(words)}: {err.strip()}"


def distinctive(n, vf, proto):
    """Settings no other VF has (what `ip link set` is asked for, in sriovctl's words)."""
    return {"mac": f"02:{n >> 8:02x}:{n & 255:02x}:00:{vf >> 8:02x}:{vf & 255:02x}", "vlan": vf + 1, "qos": vf % 8,
            "vlanProto": proto, "spoofCheck": True, "trust": True, "linkState": "disable" if vf % 2 else "enable",
            "minTxRate": 10 + vf, "maxTxRate": 1000 + vf, "queryRSS": True}


def apply(pf, vf, s):
    return [p for p in (
        ip_set(pf, vf, "mac", s["mac"], "vlan", str(s["vlan"]), "qos", str(s["qos"]), "proto", s["vlanProto"]),
        ip_set(pf, vf, "spoofchk", "on", "trust", "on", "state", s["linkState"],
               "max_tx_rate", str(s["maxTxRate"]), "min_tx_rate", str(s["minTxRate"])),
        ip_set(pf, vf, "query_rss", "on")) if p]


def run_case(pf, n, marked):
    tag = f"nsim{n}"
    device = os.path.basename(os.path.realpath(f"/sys/class/net/{pf}/device"))
    want = {vf: distinctive(n, vf, proto) for vf, proto in marked}
    problems = []
    for vf, s in want.items():
        problems += apply(pf, vf, s)
    if problems:
        r.fail(f"{tag}-setup", "; ".join(problems))
        return
    k = lane.netlink_vfs(pf)
    ip_lines, truncated = lane.ip_text_vf_lines(pf)
    print(f"lane: {pf} ({device}) with {n} VFs: the kernel's reply without stats is {k['bytes']} bytes, "
          f"{k['declared']} VF entries inside IFLA_VFINFO_LIST's 16-bit length, {len(k['vfs'])} in the message "
          f"({'wrapped' if k['wrapped'] else 'not wrapped'}); `ip -d link show` prints {ip_lines} vf lines"
          f"{' and Truncated VF list' if truncated else ''}", flush=True)
    # Preconditions (kernel facts): the kernel's list holds every VF and the settings just made.
    problems = []
    lane.compare("IFLA_NUM_VF", n, k["numVFs"], problems)
    lane.compare("VF entries in the reply", list(range(n)), sorted(k["vfs"]), problems)
    for vf, s in want.items():
        problems += [f"kernel vf {vf} {f}: set {json.dumps(s[f])}, reply has {json.dumps(k['vfs'].get(vf, {}).get(f))}"
                     for f in lane.VF_FIELDS if k["vfs"].get(vf, {}).get(f) != s[f]]
    if ip_lines >= n or not truncated:
        problems.append(f"ip shows {ip_lines} of {n} VFs, truncated={truncated}: the case no longer tests a big list")
    if problems:
        r.fail(f"{tag}-kernel-oracle", "; ".join(problems))
        return
    r.passed(f"{tag}-kernel-oracle")

    rc, obj, problem = lane.sriovctl_json("pf", "show", pf, "--json", timeout=180)
    if problem or not isinstance(obj, dict) or not isinstance(obj.get("vfs"), list):
        for a in ("pf-show", "all-vfs-listed", "settings", "marked-vfs", "matches-ip"):
            r.fail(f"{tag}-{a}", problem or "output lacks a `vfs` array")
        return
    r.passed(f"{tag}-pf-show")
    vfs = [v for v in obj["vfs"] if isinstance(v, dict)]
    by_index = {v.get("index"): v for v in vfs}
    wrapped, missing = obj.get("kernelListWrapped"), obj.get("missing")
    sources = {}
    for v in vfs:
        sources.setdefault(v.get("source"), []).append(v.get("index"))
    sysfs_only = sorted(sources.get("sysfs-only", []), key=str)
    print(f"lane: sriovctl pf show {pf}: {len(vfs)} VFs, kernelListWrapped={json.dumps(wrapped)}, "
          f"missing={json.dumps(missing)[:120]}, sources: "
          + ", ".join(f"{s}={len(ix)}" for s, ix in sorted(sources.items(), key=str)), flush=True)

    # Every VF 0..n-1 exactly once, sorted; numVFs n; what the kernel sent is marked as such.
    problems = []
    idx = [v.get("index") for v in vfs]
    if idx != list(range(n)):
        dup = sorted({i for i in idx if idx.count(i) > 1}, key=str)
        gone = sorted(set(range(n)) - set(idx))
        problems.append(f"{len(idx)} VF entries; not 0..{n - 1} in order"
                        + (f"; duplicated: {dup[:10]}" if dup else "") + (f"; absent: {gone[:10]}..." if gone else ""))
    lane.compare("pf numVFs", n, (obj.get("pf") or {}).get("numVFs"), problems)
    if not sysfs_only:
        lane.compare("kernelListWrapped", k["wrapped"], wrapped, problems)
    if sysfs_only:
        # The contract's other answer: VFs the netlink reply "left out" are listed from sysfs, marked.
        lane.compare("missing (the sysfs-only VFs)", sysfs_only, sorted(missing or [], key=str), problems)
        for i in sysfs_only:
            v = by_index.get(i, {})
            if any(v.get(f) is not None for f in lane.VF_FIELDS):
                problems.append(f"vf {i} is sysfs-only but has settings {lane.vf_settings(v)}")
    else:
        lane.compare("missing", [], missing, problems)
    bad = sorted((s for s in sources if s not in ("netlink", "sysfs-only")), key=str)
    if bad:
        problems.append(f"unknown source values {bad}")
    r.expect(f"{tag}-all-vfs-listed", problems)

    # Settings: every VF sriovctl has from netlink equals the kernel's reply; sysfs-only is reported.
    problems = []
    for i in sources.get("netlink", []):
        if i in k["vfs"]:
            problems += lane.diff_settings(f"vf {i}", k["vfs"][i], lane.vf_settings(by_index[i]))
    if len(sources.get("netlink", [])) < n and not sysfs_only:
        problems.append(f"only {len(sources.get('netlink', []))} VFs have source netlink")
    if sysfs_only:
        # The kernel did send these entries (past the wrapped nest length): say so, it is a finding.
        print(f"lane: {len(sysfs_only)} VFs marked sysfs-only although the kernel's reply holds all {n} "
              f"entries (first: {sysfs_only[:5]})", flush=True)
    r.expect(f"{tag}-settings", problems[:20] + ([f"... {len(problems) - 20} more"] if len(problems) > 20 else []))

    problems = []
    for vf, s in want.items():
        got = by_index.get(vf)
        if got is None or got.get("source") != "netlink":
            problems.append(f"vf {vf}: source {json.dumps((got or {}).get('source'))}, its settings are not reported")
            continue
        problems += [f"vf {vf} {f}: set {json.dumps(s[f])} with ip, sriovctl says {json.dumps(got.get(f))}"
                     for f in lane.VF_FIELDS if got.get(f) != s[f]]
    r.expect(f"{tag}-marked-vfs", problems)

    # The VFs ip can still show agree with ip as well.
    ipvfs = lane.ip_vfs(pf) or {}
    problems = []
    for i, s in ipvfs.items():
        problems += lane.diff_settings(f"vf {i} (ip)", s, lane.vf_settings(by_index.get(i)))
    r.expect(f"{tag}-matches-ip", problems[:20])


args = sys.argv[1:]
# 256: the last VF and one in the middle, both far past what ip shows.
run_case(args[0], int(args[1]), [(255, "802.1ad"), (100, "802.1Q"), (0, "802.1Q")])
# 400: the list wraps even without statistics.
run_case(args[2], int(args[3]), [(399, "802.1ad"), (300, "802.1Q"), (64, "802.1Q"), (65, "802.1ad")])
