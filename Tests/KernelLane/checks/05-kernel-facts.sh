#!/bin/bash
# Kernel facts: the kernel behaviours sriovd is built on, checked on this lane's kernel with the
# kernel's own tools only (no project binary). If a Debian kernel update changes one of them, this
# check says which, before the checks of our binaries do. See Docs/Testing.md.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"
exec "$PYTHON" "$CHECKS_DIR/py/kernel_facts.py"
