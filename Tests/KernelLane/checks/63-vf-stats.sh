#!/bin/bash
# Per-VF counters on a real kernel: an igb VF is leased, `sriovctl lease show <id> --stats` (json and
# text) returns the counters the kernel reports for it, compared with `ip -j -s -d link show <pf>`
# (IFLA_VF_STATS of the same VF), in-process (--direct) and through sriovd's socket, and sriovd's
# /metrics carries them with the lease's labels. igb has no per-VF counters of its own (no
# ndo_get_vf_stats in 6.1): the kernel reports 0 for each, and so must we, as numbers, not "not reported".
# netdevsim VFs have no PCI function, so they cannot be leased; the parser's 256-VF case (a wrapped
# IFLA_VFINFO_LIST) is covered by the unit tests.
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary vf-stats "$SRIOVCTL" || exit 0
require_binary vf-stats-daemon "$SRIOVD" || exit 0

# kernel_counters <pf> <index>: the VF's IFLA_VF_STATS as iproute2 reads them, in our JSON key order.
# (ip -s prints "None" for a counter the kernel did not send.)
kernel_counters() {
    "$IP" -j -s -d link show dev "$1" | "$PYTHON" -c '
import json, sys
vfs = json.load(sys.stdin)[0].get("vfinfo_list", [])
vf = [v for v in vfs if v.get("vf") == int(sys.argv[1])]
if not vf or "stats" not in vf[0]:
    print("missing"); sys.exit(0)
s = vf[0]["stats"]
rx, tx = s.get("rx", {}), s.get("tx", {})
# iproute2 (6.1) names the tx ones "tx_packets" and "tx_bytes" inside "tx" (seen in the lane); accept both.
tp, tb = tx.get("packets", tx.get("tx_packets")), tx.get("bytes", tx.get("tx_bytes"))
print(" ".join(str(x) for x in [rx.get("packets"), tp, rx.get("bytes"), tb,
                                rx.get("broadcast"), rx.get("multicast"), rx.get("dropped"), tx.get("dropped")]))' "$2"
}

# our_counters: the first VF's counters from `lease show --stats --format json` on stdin, same order.
our_counters() {
    "$PYTHON" -c '
import json, sys
c = json.load(sys.stdin)["vfs"][0]["counters"]
print(" ".join("None" if c[k] is None else str(c[k]) for k in
      ["rxPackets", "txPackets", "rxBytes", "txBytes", "broadcast", "multicast", "rxDropped", "txDropped"]))'
}

# scenario <name> <args that choose the front door...>
scenario() {
    local name=$1; shift
    local via=("$@") out rc id idx ours theirs problems=()
    out=$("$SRIOVCTL" lease acquire --pool stats --owner vnf-s --json "${via[@]}" 2>&1); rc=$?
    id=$(grep -o '"id" : "l-[0-9a-f]*"' <<<"$out" | grep -o 'l-[0-9a-f]*')
    idx=$(grep -o '"index" : [0-9]*' <<<"$out" | head -n 1 | grep -o '[0-9]*$')
    if [[ $rc != 0 || -z $id || -z $idx ]]; then fail "vf-stats-$name" "lease acquire exited $rc: ${out:0:300}"; return; fi

    out=$("$SRIOVCTL" lease show "$id" --stats --format json "${via[@]}" 2>&1); rc=$?
    theirs=$(kernel_counters "$pf" "$idx")
    ours=$(our_counters <<<"$out" 2>&1)
    echo "lane: vf-stats ($name): $id holds VF $idx of $pf; sriovctl: $ours; ip -s: $theirs"
    [[ $rc == 0 ]] || problems+=("lease show --stats --format json exited $rc: ${out:0:300}")
    [[ $theirs != missing ]] || problems+=("ip -s -d link show $pf has no stats for VF $idx")
    [[ $ours == "$theirs" ]] || problems+=("counters differ: sriovctl '$ours', ip -s '$theirs'")
    [[ $ours != *None* ]] || problems+=("a counter the kernel reports reads as not reported: $ours")

    out=$("$SRIOVCTL" lease show "$id" --stats "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 && $out == "lease $id  owner vnf-s  pool stats  counters read "* && $out == *"RX PACKETS"* ]] ||
        problems+=("lease show --stats (text): exit $rc: ${out:0:300}")
    [[ $out != *"not reported"* ]] || problems+=("text shows 'not reported' for a counter the kernel reports: ${out:0:400}")

    if [[ $name == sriovd ]]; then
        out=$(lane_metrics "$sock" 2>&1)
        [[ $out == *"sriovd_vf_rx_packets_total{pool=\"stats\",lease=\"$id\",owner=\"vnf-s\",pf=\"$pf\",vf=\"$idx\"} ${theirs%% *}"* ]] ||
            problems+=("/metrics has no sriovd_vf_rx_packets_total sample for $id with the kernel's value: $(grep sriovd_vf_rx_packets <<<"$out" | head -n 3 | tr '\n' ' ')")
    fi

    out=$("$SRIOVCTL" lease release "$id" "${via[@]}" 2>&1); rc=$?
    [[ $rc == 0 ]] || problems+=("release: exit $rc: ${out:0:300}")
    if (( ${#problems[@]} )); then fail "vf-stats-$name" "$(printf '%s; ' "${problems[@]}")"; else pass "vf-stats-$name"; fi
}

lane_igb_scenario_setup vf-stats 63-stats || exit 0
sysctl -qw "net.ipv6.conf.$pf.accept_ra=0" 2>/dev/null
cat >"$config" <<EOC
pools:
  - name: stats
    selectors:
      - pf: $pf
        range: 0-1
    on_release: leave-unbound
EOC

lane_scenario_both_ways vf-stats
