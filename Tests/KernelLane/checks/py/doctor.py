"""Check 20-doctor: `sriovctl doctor --json` against what the guest kernel really has."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lane  # noqa: E402

r = lane.Reporter()
argv = [os.environ["SRIOVCTL"], "doctor", "--json"]
rc, doc, problem = lane.run_json(argv)
if problem is None and not (isinstance(doc, dict) and isinstance(doc.get("checks"), list)
                            and isinstance(doc.get("failed"), int)):
    problem = "output lacks a `checks` array and a `failed` count"
if problem:
    r.fail("doctor-json", problem)
    sys.exit(0)

problems = []
checks = {}
for c in doc["checks"]:
    if not isinstance(c, dict) or not c.get("id"):
        problems.append(f"check without an id: {c}")
        continue
    checks[c["id"]] = c
    if c.get("status") not in ("PASS", "WARN", "FAIL"):
        problems.append(f"{c['id']}: status {c.get('status')!r} is not PASS/WARN/FAIL")
    if not c.get("title"):
        problems.append(f"{c['id']}: no title")
    if c.get("status") in ("WARN", "FAIL") and not c.get("remedy"):
        problems.append(f"{c['id']}: {c.get('status')} without a remedy")
r.expect("doctor-json", problems)

# Its exit status follows its own verdict: 0 when nothing FAILs, 1 otherwise.
n_fail = sum(1 for c in checks.values() if c.get("status") == "FAIL")
problems = []
lane.compare("failed", n_fail, doc["failed"], problems)
lane.compare("exit status", 0 if n_fail == 0 else 1, rc, problems)
r.expect("doctor-exit-status", problems)


def expect_pass(check_id, why):
    c = checks.get(check_id)
    if c is None:
        r.fail(f"doctor-{check_id}", f"no `{check_id}` check in the output")
    elif c.get("status") != "PASS":
        r.fail(f"doctor-{check_id}", f"{c.get('status')} ({c.get('detail')}) although {why}")
    else:
        r.passed(f"doctor-{check_id}")


# The oracle for each expectation is the guest kernel itself.
cmdline = lane.read("/proc/cmdline") or ""
groups = os.listdir("/sys/kernel/iommu_groups") if os.path.isdir("/sys/kernel/iommu_groups") else []
dmar = os.path.isdir("/sys/class/iommu") and os.listdir("/sys/class/iommu")
rc_dmesg, kmsg, _ = lane.run(["dmesg"])
irq_remap = "Enabled IRQ remapping" in kmsg

if dmar and groups:
    expect_pass("iommu-enabled", f"/sys/class/iommu has {dmar} and there are {len(groups)} IOMMU groups")
else:
    r.fail("doctor-iommu-enabled", "precondition: the guest has no active IOMMU")
if groups:
    expect_pass("iommu-groups", f"/sys/kernel/iommu_groups has {len(groups)} groups")
else:
    r.fail("doctor-iommu-groups", "precondition: no IOMMU groups in the guest")
if os.path.isdir("/sys/bus/pci/drivers/vfio-pci"):
    expect_pass("vfio-pci", "the vfio-pci driver is registered (/sys/bus/pci/drivers/vfio-pci)")
else:
    r.fail("doctor-vfio-pci", "precondition: vfio-pci is not loaded in the guest")
if "intel_iommu=on" in cmdline.split():
    expect_pass("iommu-cmdline", f"the command line has intel_iommu=on ({cmdline})")
if irq_remap:
    expect_pass("interrupt-remapping", "the kernel logged 'Enabled IRQ remapping'")
