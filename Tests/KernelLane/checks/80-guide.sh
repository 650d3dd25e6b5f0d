#!/bin/bash
# The operator's guide: every ```sh kernel block of Docs/guide runs on this real kernel (in page order,
# one bash session per page, set -euo pipefail) and prints what the page shows (Tests/Guide/guide.py
# --mode kernel; the same harness GuideTests runs on the simulated host). These blocks only read the
# kernel (/proc/cmdline, /sys/class/iommu, IOMMU groups, vfio-pci), so the oracle is the kernel itself.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

modprobe vfio-pci || echo "lane: modprobe vfio-pci failed" >&2
ran=0
for page in "$LANE_REPO"/Docs/guide/[0-9]*.md; do
    grep -q '^```sh kernel' "$page" || continue
    ran=$((ran + 1))
    name=guide-kernel-$(basename "$page" .md)
    if out=$("$PYTHON" "$LANE_REPO/Tests/Guide/guide.py" run --mode kernel "$page" 2>&1); then
        pass "$name"
    else
        echo "$out" >&2
        fail "$name" "$(grep -m1 '^FAIL ' <<<"$out" | cut -c6- | tr -d '\n')"
    fi
done
(( ran > 0 )) && pass "guide-kernel-blocks-found ($ran pages)" || fail guide-kernel-blocks-found "no page of Docs/guide has a \`\`\`sh kernel block"
