"""Check 32-netdevsim-numvfs: `sriovctl pf set-numvfs` on netdevsim, with sysfs and ip as the oracle.

argv: <PF netdev> <device> <max_vfs> <switchdev PF netdev> <its device>
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
pf, device, max_vfs, sw_pf, sw_device = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
BUS = "/sys/bus/netdevsim/devices"


def numvfs(dev=device):
    return int(lane.read(f"{BUS}/{dev}/sriov_numvfs"))


def ip_count(ifname=pf):
    vfs = lane.ip_vfs(ifname)
    return None if vfs is None else len(vfs)


def set_numvfs(name, n, was, target=pf, dev=device, extra=()):
    """sriovctl pf set-numvfs <target> <n>: exit 0, sysfs and ip show n VFs, the summary says so."""
    rc, out, err = lane.sriovctl("pf", "set-numvfs", target, str(n), *extra, timeout=120)
    problems = []
    cmd = f"`sriovctl pf set-numvfs {target} {n}{' ' + ' '.join(extra) if extra else ''}`"
    if rc != 0:
        problems.append(f"{cmd} exited {rc}: {lane.last_line(err)!r}")
    lane.compare(f"{dev} sriov_numvfs", n, numvfs(dev), problems)
    got = ip_count(target)
    if got != n:
        problems.append(f"`ip -d link show dev {target}` lists {got} VFs, expected {n}")
    if rc == 0 and f"{n} VFs (was {was})" not in lane.last_line(out):
        problems.append(f"{cmd}: the last stdout line {lane.last_line(out)!r} does not say '{n} VFs (was {was})'")
    r.expect(name, problems)
    return rc, out, err


set_numvfs("nsim-set-numvfs-0-to-4", 4, 0)
# 4 -> 2: sysfs answers EBUSY to a non-zero -> non-zero write, so this only works through 0.
set_numvfs("nsim-set-numvfs-4-to-2", 2, 4)


def representors():
    """{netdev: ifindex} of the switchdev PF's VF representors (every netdev of the device but the PF)."""
    d = f"{BUS}/{sw_device}/net"
    return {n: lane.read(f"{d}/{n}/ifindex") for n in sorted(os.listdir(d)) if n != sw_pf}


before = representors()
rc, out, err = lane.sriovctl("pf", "set-numvfs", sw_pf, "2")
after = representors()
problems = []
if len(before) != 2:
    problems.append(f"precondition: {sw_device} has representors {before}, expected 2")
if rc != 0:
    problems.append(f"`sriovctl pf set-numvfs {sw_pf} 2` (already 2) exited {rc}: {lane.last_line(err)!r}")
lane.compare(f"{sw_device} sriov_numvfs", 2, numvfs(sw_device), problems)
if before != after:
    problems.append(f"the VF representors changed {before} -> {after}: the VFs were disabled and re-enabled")
r.expect("nsim-set-numvfs-same-is-noop", problems)

# Above debugfs max_vfs: the kernel says ENOMEM; sriovctl must say something clearer. Going from 2 to 9
# means going through 0 first, so a failure there can cost the 2 VFs the PF had: a separate assertion.
n = max_vfs + 1
rc, out, err = lane.sriovctl("pf", "set-numvfs", pf, str(n))
problems = []
if rc == 0:
    problems.append(f"`sriovctl pf set-numvfs {pf} {n}` (max_vfs {max_vfs}) exited 0")
if "error:" not in err.lower():
    problems.append(f"no error message on stderr: {err.strip()[:200]!r}")
elif str(n) not in err or "max_vfs" not in err:
    problems.append(f"the message does not name the count {n} and max_vfs: {lane.last_line(err)!r}")
print(f"lane: `sriovctl pf set-numvfs {pf} {n}` above max_vfs {max_vfs} (PF had 2 VFs): exit {rc}, sysfs "
      f"sriov_numvfs now {numvfs()}; stderr: {' | '.join(err.strip().splitlines())[:500]!r}", flush=True)
r.expect("nsim-set-numvfs-above-max", problems)
problems = []
lane.compare(f"{device} sriov_numvfs after the refused change (it had 2)", 2, numvfs(), problems)
r.expect("nsim-set-numvfs-above-max-keeps-vfs", problems)


def kernel_numvfs(n, dev=device):
    """Precondition with the kernel directly: n VFs (through 0)."""
    path = f"{BUS}/{dev}/sriov_numvfs"
    for v in ([0] if numvfs(dev) not in (0, n) else []) + [n]:
        with open(path, "w") as f:
            f.write(str(v))


# --- a PF that carries a default route is the management NIC: refused unless --force -------------------
IP = lane.IP
kernel_numvfs(2)
setup = [[IP, "link", "set", pf, "up"], [IP, "addr", "add", "192.0.2.1/24", "dev", pf],
         [IP, "route", "add", "default", "via", "192.0.2.254", "dev", pf, "metric", "900"]]
problems = [f"{' '.join(c)}: {e.strip()}" for c in setup for rc, o, e in [lane.run(c)] if rc != 0]
if problems or pf not in lane.default_route_interfaces():
    r.fail("nsim-protected-setup", "; ".join(problems) or f"{pf} carries no default route")
else:
    problems = []
    rc, obj, problem = lane.sriovctl_json("pf", "show", pf, "--json")
    if problem:
        problems.append(problem)
    else:
        lane.compare("pf protected", True, (obj.get("pf") or {}).get("protected"), problems)
    r.expect("nsim-protected-pf-show", problems)

    ip_before = lane.ip_vfs(pf)
    problems = []
    for args in (["pf", "set-numvfs", pf, "3"], ["vf", "set", pf, "0", "--mac", "02:32:00:00:00:01"]):
        rc, out, err = lane.sriovctl(*args)
        if rc != 77:
            problems.append(f"`sriovctl {' '.join(args)}` exited {rc}, expected 77: {lane.last_line(err)!r}")
        elif "default route" not in err:
            problems.append(f"`sriovctl {' '.join(args)}`: the message does not say 'default route': {lane.last_line(err)!r}")
    lane.compare(f"{device} sriov_numvfs afterwards", 2, numvfs(), problems)
    lane.compare("VF settings afterwards", ip_before, lane.ip_vfs(pf), problems)
    r.expect("nsim-protected-refused", problems)

    set_numvfs("nsim-protected-force", 3, 2, extra=("--force",))
lane.run([IP, "route", "del", "default", "via", "192.0.2.254", "dev", pf, "metric", "900"])
lane.run([IP, "addr", "flush", "dev", pf])
lane.run([IP, "link", "set", pf, "down"])

set_numvfs("nsim-set-numvfs-to-0", 0, numvfs())
