#!/bin/bash
# The lease book guards every host change, on igb VFs (a real kernel): a VF leased with VLAN 100, then
# `sriovctl vf set` on it and `sriovctl pf set-numvfs` on its PF. Both are refused naming the lease (exit
# 75, the VF keeps VLAN 100 in `ip -d link show`); with --force they happen, the lease reads drifted and
# then lost, `lease check` exits 1 naming the broken promise, and `audit` shows who forced it. Run twice:
# with --direct (in-process) and through a real sriovd on its socket.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary lease-guard "$SRIOVCTL" || exit 0
require_binary lease-guard-daemon "$SRIOVD" || exit 0

# vf_vlan <pf> <index>: the VF's VLAN as the kernel reports it (ip -j -d link show).
vf_vlan() {
    "$IP" -j -d link show dev "$1" | "$PYTHON" -c '
import json, sys
vfs = json.load(sys.stdin)[0].get("vfinfo_list", [])
vf = [v for v in vfs if v.get("vf") == int(sys.argv[1])]
print(vf[0].get("vlan_list", [{}])[0].get("vlan", 0) if vf else "missing")' "$2"
}

# scenario <name> <args that choose the front door...>
scenario() {
    local name=$1; shift
    local via=("$@") out rc id idx addr problems=()
    lane_set_numvfs "$igb" 0 1 && lane_set_numvfs "$igb" 4 0 || { fail "lease-guard-$name" "cannot create 4 VFs on $igb"; return; }
    # The VF-count change reset igb's link; a lease needs the PF's carrier back (require_link).
    lane_link_up "$igb" || echo "lane: lease-guard ($name): igb PF link is not up" >&2
    out=$("$SRIOVCTL" lease acquire --pool guard --owner vnf-7 --vlan 100 --json "${via[@]}" 2>&1); rc=$?
    id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
    idx=$(grep -o '"index" : [0-9]*' <<<"$out" | head -n 1 | grep -o '[0-9]*$')
    addr=$(grep -o '"pciAddress" : "[^"]*"' <<<"$out" | head -n 1 | cut -d'"' -f4)
    if [[ $rc != 0 || -z $id || -z $idx ]]; then fail "lease-guard-$name" "lease acquire exited $rc: ${out:0:300}"; return; fi
    echo "lane: lease-guard ($name): $id holds VF $idx ($addr) of $pf, vlan $(vf_vlan "$pf" "$idx")"

    out=$("$SRIOVCTL" vf set "$pf" "$idx" --vlan 7 --trust on "${via[@]}" 2>&1); rc=$?
    [[ $rc == 75 && $out == *"is leased by $id (owner vnf-7)"* ]] || problems+=("vf set on the leased VF: exit $rc (want 75): ${out:0:300}")
    [[ $(vf_vlan "$pf" "$idx") == 100 ]] || problems+=("after the refused vf set the kernel shows vlan $(vf_vlan "$pf" "$idx"), want 100")
    out=$("$SRIOVCTL" pf set-numvfs "$pf" 2 "${via[@]}" 2>&1); rc=$?
    [[ $rc == 75 && $out == *"$id (owner vnf-7"* ]] || problems+=("set-numvfs under the lease: exit $rc (want 75): ${out:0:300}")
    [[ $(lane_vf_count "$igb") == 4 ]] || problems+=("after the refused set-numvfs the PF has $(lane_vf_count "$igb") VFs, want 4")
    "$SRIOVCTL" lease check "${via[@]}" >/dev/null 2>&1 || problems+=("lease check failed before anything was forced")

    out=$("$SRIOVCTL" vf set "$pf" "$idx" --vlan 7 --trust on --force "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 ]] || problems+=("vf set --force: exit $rc: ${out:0:300}")
    [[ $(vf_vlan "$pf" "$idx") == 7 ]] || problems+=("after vf set --force the kernel shows vlan $(vf_vlan "$pf" "$idx"), want 7")
    out=$("$SRIOVCTL" lease show "$id" "${via[@]}" 2>&1)
    [[ $out == *"active, drifted"* && $out == *"forced by"* ]] || problems+=("lease show after vf set --force: ${out:0:300}")
    out=$("$SRIOVCTL" lease check "${via[@]}" 2>&1); rc=$?
    [[ $rc == 1 && $out == *"of lease $id: vlan is 7, the lease promised 100"* ]] || problems+=("lease check after vf set --force: exit $rc: ${out:0:400}")

    out=$("$SRIOVCTL" pf set-numvfs "$pf" 2 --force "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 && $out == *"marked lost: lease $id"* ]] || problems+=("set-numvfs --force: exit $rc: ${out:0:300}")
    [[ $(lane_vf_count "$igb") == 2 ]] || problems+=("after set-numvfs --force the PF has $(lane_vf_count "$igb") VFs, want 2")
    out=$("$SRIOVCTL" lease list "${via[@]}" 2>&1)
    [[ $out == *"active, lost"* ]] || problems+=("lease list after set-numvfs --force: ${out:0:300}")
    # Through sriovd, its host watcher may still be quarantining the lost lease's VFs as they come back
    # (new VFs after the forced change); `lease check` leaves a lease whose VFs change while it reads
    # the host unjudged ("every promise holds"), so it is asked again until the watcher is done (5 s).
    for _ in $(seq 50); do
        out=$("$SRIOVCTL" lease check "${via[@]}" 2>&1); rc=$?
        [[ $rc == 0 && $out == *"every promise holds"* ]] || break
        sleep 0.1
    done
    [[ $rc == 1 && $out == *"lease $id (owner vnf-7) is lost"* ]] || problems+=("lease check after set-numvfs --force: exit $rc: ${out:0:400}")
    out=$("$SRIOVCTL" audit "${via[@]}" 2>&1)
    [[ $out == *"forced: vlan 7 trust on (lease $id marked drifted)"* && $out == *"forced: 4 -> 2 VFs (lease $id marked lost)"* ]] ||
        problems+=("audit does not show the forced changes: ${out:0:600}")
    echo "lane: lease-guard ($name): audit: $(grep forced <<<"$out" | tr -s ' ' | cut -c1-300 | tr '\n' '|')"

    out=$("$SRIOVCTL" lease release "$id" "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 ]] || problems+=("release of the lost lease: exit $rc: ${out:0:300}")
    if (( ${#problems[@]} )); then fail "lease-guard-$name" "$(printf '%s; ' "${problems[@]}")"; else pass "lease-guard-$name"; fi
}

lane_igb_scenario_setup lease-guard 62-guard || exit 0
# The pool covers VFs 0-1, so the PF's count can go to 2 under a forced change and the pool still fits.
cat >"$config" <<EOC
pools:
  - name: guard
    selectors:
      - pf: $pf
        range: 0-1
    defaults:
      vlan: 100
      spoofchk: true
      trust: false
    policy:
      vlans: ["100"]
    on_release: leave-unbound
EOC

lane_scenario_both_ways lease-guard
