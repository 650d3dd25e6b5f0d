#!/bin/bash
# Doctor: `sriovctl doctor --json` passes the IOMMU and vfio-pci checks in a guest that has them
# (intel-iommu with interrupt remapping, intel_iommu=on, vfio-pci loaded), and its exit status
# agrees with its own verdict.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary doctor-json "$SRIOVCTL" || exit 0
# Precondition: vfio-pci is loaded (guest/main.sh loads it; make sure).
modprobe vfio-pci || echo "lane: modprobe vfio-pci failed" >&2
exec "$PYTHON" "$CHECKS_DIR/py/doctor.py"
