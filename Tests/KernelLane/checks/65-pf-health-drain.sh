#!/bin/bash
# PF health and PF maintenance on igb (a real kernel), in-process (--direct) and through sriovd: with
# the PF set down (`ip link set <pf> down`; reading its carrier then fails EINVAL) a new lease from
# its pool is refused naming the PF without carrier (the pool has no other PF to place it on), and
# through sriovd `pf.down` names the lease on it; link up: offered again. A drain with a live lease is
# refused at its deadline (exit 75, naming the lease), new leases are refused while it drains, and it
# is done once the lease is released; then `pf set-numvfs` needs no --force, and `pf undrain` returns
# the PF to service.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary pf-health "$SRIOVCTL" || exit 0
require_binary pf-health-daemon "$SRIOVD" || exit 0

lease_id() { grep -o '"id" : "l-[0-9a-f]*"' <<<"$1" | grep -o 'l-[0-9a-f]*'; }

# scenario <name> <args that choose the front door...>
scenario() {
    local name=$1; shift
    local via=("$@") out rc l1 l2 l3 follower="" events="$state/events-$name.txt" problems=()
    lane_set_numvfs "$igb" 0 1 && lane_set_numvfs "$igb" 4 0 || { fail "pf-health-$name" "cannot create 4 VFs on $igb"; return; }
    lane_link_up "$igb" || problems+=("the PF's link did not come up after the VFs were created")
    out=$("$SRIOVCTL" lease acquire --pool health --owner vm-h1 --json "${via[@]}" 2>&1); rc=$?
    l1=$(lease_id "$out")
    if [[ $rc != 0 || -z $l1 ]]; then fail "pf-health-$name" "lease acquire with the link up exited $rc: ${out:0:300}"; return; fi

    if [[ $name == sriovd ]]; then
        timeout 30 "$SRIOVCTL" events --count 1 --json "${via[@]}" >"$events" 2>&1 &
        follower=$!
        sleep 1   # let the follower subscribe before the link changes
    fi
    "$IP" link set "$pf" down
    out=$(cat "/sys/class/net/$pf/carrier" 2>&1); rc=$?
    echo "lane: pf-health ($name): $pf set down: operstate $(cat "/sys/class/net/$pf/operstate"), reading carrier: exit $rc: $out"
    out=$("$SRIOVCTL" lease acquire --pool health --owner vm-h2 "${via[@]}" 2>&1); rc=$?
    [[ $rc == 75 && $out == *"pool health: 1 of 1 PF has no carrier ($pf)"* && $out == *"require_link: any"* ]] ||
        problems+=("acquire with the PF down: exit $rc (want 75 naming $pf without carrier): ${out:0:400}")
    out=$("$SRIOVCTL" pool list "${via[@]}" 2>&1)
    [[ $out == *"pool health: $pf no carrier"* ]] || problems+=("pool list with the PF down: ${out:0:300}")
    if [[ -n $follower ]]; then
        wait "$follower"
        out=$(cat "$events")
        [[ $out == *'"type":"pf.down"'* && $out == *"$l1"* ]] || problems+=("no pf.down event naming $l1 within 30 s: ${out:0:300}")
        echo "lane: pf-health ($name): event: ${out:0:300}"
    fi
    "$IP" link set "$pf" up
    lane_link_up "$igb" || problems+=("the PF's link did not come back up")
    out=$("$SRIOVCTL" lease acquire --pool health --owner vm-h2 --json "${via[@]}" 2>&1); rc=$?
    l2=$(lease_id "$out")
    [[ $rc == 0 && -n $l2 ]] || problems+=("acquire with the link back up: exit $rc: ${out:0:300}")
    [[ -n $l2 ]] && "$SRIOVCTL" lease release "$l2" "${via[@]}" >/dev/null 2>&1

    out=$("$SRIOVCTL" pf drain "$pf" --deadline 2s "${via[@]}" 2>&1); rc=$?
    [[ $rc == 75 && $out == *"deadline passed with lease $l1 (owner vm-h1) still on it"* ]] ||
        problems+=("drain with a live lease: exit $rc (want 75 naming $l1): ${out:0:300}")
    out=$("$SRIOVCTL" lease acquire --pool health --owner vm-h3 "${via[@]}" 2>&1); rc=$?
    [[ $rc == 75 && $out == *"is draining ($pf)"* ]] || problems+=("acquire while draining: exit $rc: ${out:0:300}")
    "$SRIOVCTL" lease release "$l1" "${via[@]}" >/dev/null 2>&1 || problems+=("release of $l1 failed")
    out=$("$SRIOVCTL" pf drain "$pf" --deadline 30s "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 && $out == *"drained"* ]] || problems+=("drain after the release: exit $rc: ${out:0:300}")
    out=$("$SRIOVCTL" pf set-numvfs "$pf" 3 "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 && $(lane_vf_count "$igb") == 3 ]] || problems+=("set-numvfs 3 on the drained PF without --force: exit $rc, $(lane_vf_count "$igb") VFs: ${out:0:300}")
    out=$("$SRIOVCTL" pf undrain "$pf" "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 && $out == *"in service"* ]] || problems+=("undrain: exit $rc: ${out:0:300}")
    lane_link_up "$igb" || problems+=("the PF's link did not come up after the VF-count change")
    out=$("$SRIOVCTL" lease acquire --pool health --owner vm-h3 --json "${via[@]}" 2>&1); rc=$?
    l3=$(lease_id "$out")
    [[ $rc == 0 && -n $l3 ]] || problems+=("acquire after undrain: exit $rc: ${out:0:300}")
    [[ -n $l3 ]] && "$SRIOVCTL" lease release "$l3" "${via[@]}" >/dev/null 2>&1
    out=$("$SRIOVCTL" audit "${via[@]}" 2>&1)
    [[ $out == *"pf.drain"* && $out == *"pf.undrain"* ]] || problems+=("audit lacks pf.drain/pf.undrain: ${out:0:300}")
    if (( ${#problems[@]} )); then fail "pf-health-$name" "$(printf '%s; ' "${problems[@]}")"; else pass "pf-health-$name"; fi
}

lane_igb_scenario_setup pf-health 65-health || exit 0
# QEMU's user network answers router solicitations: with an IPv6 default route the PF would be the
# management NIC (protected). Not here.
sysctl -qw "net.ipv6.conf.$pf.accept_ra=0" 2>/dev/null
"$IP" -6 route del default dev "$pf" 2>/dev/null
cat >"$config" <<EOC
pools:
  - name: health
    selectors:
      - pf: $pf
        range: 0-1
    on_release: leave-unbound
EOC

lane_scenario_both_ways pf-health
