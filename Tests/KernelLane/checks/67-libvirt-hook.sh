#!/bin/bash
# The libvirt hook and consumer liveness on a real kernel: `sriovctl libvirt-hook` (run as libvirt
# runs it, with a domain XML on stdin, also through a link named `qemu` as /etc/libvirt/hooks/qemu
# would be) leases exactly the igb VF the domain's <hostdev managed='no'> names on `prepare begin`
# (bound to vfio-pci; a retried prepare returns the same lease), releases it on `release end` (off
# vfio-pci, `lease check` finds every pool VF free and scrubbed; a second release is success), and
# fails a start whose hostdev is not a pool VF, leaving no lease. Then consumers: a lease whose
# consumer is a real process (pid with the start time sriovd read from /proc) is reclaimed once the
# process is killed, one whose consumer is a systemd template unit's cgroup (system-qemu.slice) once
# the cgroup is empty, and a hook lease (consumer libvirt:<uuid>) is kept while the QEMU pid of its
# run-state file runs and reclaimed once it is gone (sriovd --consumer-grace 3, --libvirt-state-dir).
set -uo pipefail
. "$CHECKS_DIR/lib.sh"

require_binary libvirt-hook "$SRIOVCTL" || exit 0
require_binary libvirt-hook-daemon "$SRIOVD" || exit 0

lane_igb_scenario_setup libvirt-hook 67-libvirt || exit 0
sleepers=()
cleanup67() { local p; for p in "${sleepers[@]}"; do kill "$p" 2>/dev/null; done; lane_igb_scenario_cleanup; }
trap cleanup67 EXIT
lane_vm_pool "$pf" >"$config"
runstate="$state/libvirt-run"
mkdir -p "$runstate"
lane_start_sriovd --log-level info --consumer-grace 3 --libvirt-state-dir "$runstate" || { fail libvirt-hook-setup "$lane_sriovd_error"; exit 0; }
export SRIOVD_SOCKET=$sock

# wait_gone <owner> <seconds>: until the owner holds no lease.
wait_gone() { local i; for ((i = 0; i < $2; i++)); do [[ -z $(lane_leases_of "$1") ]] && return 0; sleep 1; done; return 1; }

vf0=$(lane_vf "$igb" 0); vf3=$(lane_vf "$igb" 3)
uuid=6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10
xml="$state/vm-hook.xml"
lane_domain_xml vm-hook "$uuid" "$vf0" >"$xml"
# run_state <pid>: libvirt's run-state file of vm-hook, as libvirtd keeps it while the domain runs
# (without libvirtd here, a sleep stands in for its QEMU). The hook's leases name libvirt:<uuid>, so
# without it they would be reclaimed after the 3 s grace.
run_state() {
    cat >"$runstate/vm-hook.xml" <<EOS
<domstatus state='running' reason='booted' pid='$1'>
  <domain type='kvm' id='1'>
    <name>vm-hook</name>
    <uuid>$uuid</uuid>
  </domain>
</domstatus>
EOS
}
sleep 600 & qemu0=$!; sleepers+=("$qemu0")
run_state "$qemu0"

# ------------------------------------------------------------------- prepare, retried prepare
out=$("$SRIOVCTL" libvirt-hook vm-hook prepare begin - <"$xml" 2>&1); rc=$?
echo "lane: libvirt-hook-prepare: exit $rc: $out"
id=$(lane_leases_of vm-hook)
if [[ $rc == 0 && $(wc -w <<<"$id") == 1 && $(lane_driver "$vf0") == vfio-pci ]] \
    && "$SRIOVCTL" lease show "$id" 2>&1 | grep -q "consumer libvirt:$uuid"; then
    pass libvirt-hook-prepare
else
    fail libvirt-hook-prepare "exit $rc, leases '$id', $vf0 on $(lane_driver "$vf0"): ${out:0:300}"
fi
out=$("$SRIOVCTL" libvirt-hook vm-hook prepare begin - <"$xml" 2>&1); rc=$?
again=$(lane_leases_of vm-hook)
if [[ $rc == 0 && $again == "$id" ]]; then pass libvirt-hook-prepare-retry; else fail libvirt-hook-prepare-retry "exit $rc, leases '$again' (first: $id): ${out:0:300}"; fi

# ---------------------------------------------------------------------- migrate, other domains
out=$("$SRIOVCTL" libvirt-hook vm-hook migrate begin - <"$xml" 2>&1); rc=$?
plain=$(sed '/sriovd:lease/d' "$xml" | "$SRIOVCTL" libvirt-hook --socket /nonexistent/sock vm-plain prepare begin - 2>&1); prc=$?
if [[ $rc == 0 && -z $out && $(lane_leases_of vm-hook) == "$id" && $prc == 0 && -z $plain ]]; then
    pass libvirt-hook-ignores
else
    fail libvirt-hook-ignores "migrate exit $rc '$out', lease now '$(lane_leases_of vm-hook)'; a domain without metadata: exit $prc '$plain'"
fi

# ----------------------------------------------------------------------- release, retried release
out=$("$SRIOVCTL" libvirt-hook vm-hook release end - <"$xml" 2>&1); rc=$?
check=$("$SRIOVCTL" lease check 2>&1); crc=$?
echo "lane: libvirt-hook-release: exit $rc: $out; lease check: $crc"
if [[ $rc == 0 && -z $(lane_leases_of vm-hook) && $(lane_driver "$vf0") != vfio-pci && $crc == 0 ]]; then
    pass libvirt-hook-release
else
    fail libvirt-hook-release "exit $rc, leases '$(lane_leases_of vm-hook)', $vf0 on $(lane_driver "$vf0"), lease check $crc: ${out:0:200} ${check:0:300}"
fi
out=$("$SRIOVCTL" libvirt-hook vm-hook release end - <"$xml" 2>&1); rc=$?
if [[ $rc == 0 && $out == *"nothing to release"* ]]; then pass libvirt-hook-release-retry; else fail libvirt-hook-release-retry "exit $rc: ${out:0:300}"; fi

# ------------------------------------------------------------ as /etc/libvirt/hooks/qemu (a link)
mkdir -p "$state/hooks"
ln -sf "$SRIOVCTL" "$state/hooks/qemu"
out=$("$state/hooks/qemu" vm-hook prepare begin - <"$xml" 2>&1); rc=$?
viaLink=$(lane_leases_of vm-hook)
out2=$("$state/hooks/qemu" vm-hook release end - <"$xml" 2>&1); rc2=$?
if [[ $rc == 0 && -n $viaLink && $rc2 == 0 && -z $(lane_leases_of vm-hook) ]]; then
    pass libvirt-hook-as-qemu
else
    fail libvirt-hook-as-qemu "prepare exit $rc (${out:0:200}), lease '$viaLink', release exit $rc2 (${out2:0:200})"
fi

# ---------------------------------------------------- a hostdev that is not a pool VF fails the start
lane_domain_xml vm-bad 0a0b0c0d-0000-4000-8000-000000000067 "$vf3" >"$state/vm-bad.xml"
out=$("$SRIOVCTL" libvirt-hook vm-bad prepare begin - <"$state/vm-bad.xml" 2>&1); rc=$?
echo "lane: libvirt-hook-refused: exit $rc: $out"
if [[ $rc != 0 && $out == *"$vf3 is not in pool vm"* && -z $(lane_leases_of vm-bad) && $(lane_driver "$vf3") != vfio-pci ]]; then
    pass libvirt-hook-refused
else
    fail libvirt-hook-refused "exit $rc, leases '$(lane_leases_of vm-bad)', $vf3 on $(lane_driver "$vf3"): ${out:0:300}"
fi

# ----------------------------------------------------------- a pid consumer killed: reclaimed
sleep 600 & sp=$!; sleepers+=("$sp")
out=$("$SRIOVCTL" lease acquire --pool vm --owner job-pid --consumer "pid:$sp" 2>&1); rc=$?
start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$sp/stat")
pidLease=$(lane_leases_of job-pid)
pidVF=$(grep -o '0000:[0-9a-f:.]*' <<<"$out" | head -n 1)
if [[ $rc != 0 || -z $pidLease || $out != *"consumer pid:$sp@$start"* ]]; then
    fail liveness-pid "acquire --consumer pid:$sp exited $rc (start time $start): ${out:0:300}"
else
    sleep 8
    kept=$(lane_leases_of job-pid)
    kill "$sp"; wait "$sp" 2>/dev/null
    t0=$(date +%s)
    if [[ $kept == "$pidLease" ]] && wait_gone job-pid 40; then
        audit=$("$SRIOVCTL" audit 2>&1 | grep "lease.reclaim" | grep "$pidLease")
        echo "lane: liveness-pid: reclaimed $(( $(date +%s) - t0 )) s after the kill; $audit"
        if [[ -n $audit && $(lane_driver "$pidVF") != vfio-pci ]]; then pass liveness-pid; else fail liveness-pid "no lease.reclaim audit record, or $pidVF still on $(lane_driver "$pidVF")"; fi
    else
        fail liveness-pid "lease '$kept' while running (wanted $pidLease), then still '$(lane_leases_of job-pid)' 40 s after the kill"
    fi
fi

# ---------------------------------- a unit consumer in a template slice: kept while it runs, then reclaimed
# systemd puts a template instance `qemu@vm.service` in system.slice/system-qemu.slice/ (and a unit with
# Slice= in that slice): the real cgroup v2 tree is made so here, a process moved into it, and the
# lease must be kept while the cgroup is populated and reclaimed once it is empty.
grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts || mount -t cgroup2 cgroup2 /sys/fs/cgroup
unitcg=/sys/fs/cgroup/system.slice/system-qemu.slice/qemu@lane67.service
mkdir -p "$unitcg"
sleep 600 & up=$!; sleepers+=("$up")
echo "$up" >"$unitcg/cgroup.procs"
out=$("$SRIOVCTL" lease acquire --pool vm --owner job-unit --consumer unit:qemu@lane67.service 2>&1); rc=$?
unitLease=$(lane_leases_of job-unit)
sleep 8
kept=$(lane_leases_of job-unit)
populated=$(grep '^populated' "$unitcg/cgroup.events")
kill "$up"; wait "$up" 2>/dev/null
if [[ $rc == 0 && -n $unitLease && $kept == "$unitLease" && $populated == "populated 1" ]] && wait_gone job-unit 40; then
    pass liveness-unit
else
    fail liveness-unit "acquire --consumer unit:qemu@lane67.service exited $rc (${out:0:200}), lease '$unitLease', after 8 s '$kept' ($populated), after the process was gone '$(lane_leases_of job-unit)'"
fi
rmdir "$unitcg" /sys/fs/cgroup/system.slice/system-qemu.slice 2>/dev/null

# -------------------------------------------- a libvirt consumer: kept while its QEMU runs, then reclaimed
sleep 600 & qp=$!; sleepers+=("$qp")
run_state "$qp"
out=$("$SRIOVCTL" libvirt-hook vm-hook prepare begin - <"$xml" 2>&1); rc=$?
domLease=$(lane_leases_of vm-hook)
sleep 10
kept=$(lane_leases_of vm-hook)
kill "$qp"; wait "$qp" 2>/dev/null
if [[ $rc == 0 && -n $domLease && $kept == "$domLease" ]] && wait_gone vm-hook 40; then
    pass liveness-libvirt
else
    fail liveness-libvirt "prepare exit $rc (${out:0:200}), lease '$domLease', after 10 s '$kept', after the QEMU pid was gone '$(lane_leases_of vm-hook)'"
fi
rm -f "$runstate/vm-hook.xml"
