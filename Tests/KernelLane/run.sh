#!/usr/bin/env bash
# The kernel lane: boots Debian's own kernel under QEMU (TCG) with real SR-IOV devices (an emulated
# NVMe with SR-IOV, an igb NIC, netdevsim) and an e1000e NIC without SR-IOV behind an emulated Intel
# IOMMU, runs the project's sriovctl/sriovd binaries inside the guest and checks their answers against
# the kernel (sysfs, `ip -d link show`, /dev/vfio). See Docs/Testing.md.
#
#   Tests/KernelLane/run.sh                 # every check
#   Tests/KernelLane/run.sh 10-discovery    # only checks whose name contains one of the arguments
#
# Environment:
#   SRIOV_BIN_DIR            directory with sriovctl and sriovd (default: $REPO/.build/debug)
#   SRIOV_SKIP_KERNEL_LANE=1 skip the lane (local use only; CI never sets it)
#   KERNEL_LANE_CACHE        cache directory (default: $REPO/.build-kernel-lane)
#   KERNEL_LANE_TIMEOUT      seconds the guest may run (default: 900)
#   KERNEL_LANE_CHECK_TIMEOUT seconds one check may run inside the guest (default: 240)
#   KERNEL_LANE_MEM          guest RAM in MiB (default: 1536)
#   KERNEL_LANE_BENCH_ITERATIONS timed runs per benchmark in 50-bench-netlink and 51-bench-lease-cycle (default: 21)
#   KERNEL_LANE_VERBOSE=1    stream the whole serial console, not only the lane's progress lines
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

if [[ ${SRIOV_SKIP_KERNEL_LANE:-} == 1 ]]; then
    echo "kernel lane: skipped (SRIOV_SKIP_KERNEL_LANE=1)"
    exit 0
fi

CACHE=${KERNEL_LANE_CACHE:-$REPO/.build-kernel-lane}
BIN_DIR=${SRIOV_BIN_DIR:-$REPO/.build/debug}
TIMEOUT=${KERNEL_LANE_TIMEOUT:-900}
CHECK_TIMEOUT=${KERNEL_LANE_CHECK_TIMEOUT:-240}
MEM=${KERNEL_LANE_MEM:-1536}
BENCH_ITERATIONS=${KERNEL_LANE_BENCH_ITERATIONS:-21}
[[ $BENCH_ITERATIONS =~ ^[1-9][0-9]{0,2}$ ]] || die "KERNEL_LANE_BENCH_ITERATIONS must be 1-999"
LOG=$CACHE/last-console.log
# Modules the initramfs must load itself, before the host root (and its kmod) is reachable.
INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay)
HOST_PACKAGES=(busybox-static cpio kmod gcc make libc6-dev libelf-dev bc xz-utils python3 iproute2
    coreutils apt dpkg
    # 66-attach-consumers: libvirt's own schema validator (virt-xml-validate runs xmllint).
    libvirt-clients libxml2-utils
    # 69-libvirtd: the real libvirtd and its QEMU driver, started by hand in the guest (no systemd
    # there; without recommends this pulls only dmidecode, libparted2 and libpcap0.8, no config files
    # and no services). The QEMU it runs is the lane's own (below), never Debian's qemu-system.
    libvirt-daemon libvirt-daemon-driver-qemu)
QEMU_PACKAGES=(qemu-system-x86 qemu-system-common qemu-system-data seabios)

T0=$(date +%s)
log() { printf 'kernel-lane: %s\n' "$*" >&2; }
die() { printf 'kernel-lane: error: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }
sanitize() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'; }

FILTER=""
for arg in "$@"; do
    case $arg in
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *[!A-Za-z0-9._-]*|"") die "bad check filter '$arg' (letters, digits, '.', '_', '-')" ;;
        *) FILTER="${FILTER:+$FILTER }$arg" ;;
    esac
done

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
exec 9>"$CACHE/.lock"   # one lane at a time per cache (they share the initramfs and the console log)
flock -n 9 || { log "waiting for another kernel lane run to finish"; flock 9; }
# The guest sees the host's root, but mounts fresh /tmp, /run, /dev, /proc and /sys over it; a repo,
# cache or binary directory under /tmp or /run is bound back in from the host root (guest/init).
for p in "$REPO" "$CACHE"; do
    case $(readlink -f "$p")/ in
        /dev/*|/proc/*|/sys/*) die "$p is hidden inside the guest (it mounts its own /dev, /proc, /sys); move it" ;;
    esac
done

# --------------------------------------------------------------------------------- the binaries
BIN_DIR=$(readlink -f "$BIN_DIR" 2>/dev/null || echo "$BIN_DIR")
case $BIN_DIR/ in
    /dev/*|/proc/*|/sys/*) die "SRIOV_BIN_DIR=$BIN_DIR is hidden inside the guest; use a directory elsewhere" ;;
esac
if [[ ! -x $BIN_DIR/sriovctl ]]; then
    echo "FAIL kernel-lane: sriovctl binary not found at $BIN_DIR/sriovctl; build with swift build (or set SRIOV_BIN_DIR)"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---------------------------------------------------------------------------------------- host tools
export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update_once() {
    (( APT_UPDATED )) && return 0
    APT_UPDATED=1
    log "apt-get update (host apt state)"
    apt-get update -q >"$CACHE/apt-update.log" 2>&1 || { tail -n 20 "$CACHE/apt-update.log" >&2; die "apt-get update failed"; }
}
apt_install() {   # install the packages that are missing; idempotent
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    (( ${#missing[@]} )) || return 0
    (( EUID == 0 )) || die "missing host packages (run as root so the lane can install them): ${missing[*]}"
    log "installing on the host: ${missing[*]}"
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$CACHE/apt-install.log" 2>&1; then
        apt_update_once
        apt-get install -y -q --no-install-recommends "${missing[@]}" >"$CACHE/apt-install.log" 2>&1 \
            || { tail -n 20 "$CACHE/apt-install.log" >&2; die "apt-get install ${missing[*]} failed"; }
    fi
}
apt_install "${HOST_PACKAGES[@]}"
[[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 || die "/bin/busybox is not the static busybox (package busybox-static)"

# -------------------------------------------------------------------------- Debian mirror + backports
. /etc/os-release
CODENAME=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
debian_mirror() {   # the machine's own mirror for $CODENAME, from its apt sources (deb822 or one-line)
    local uri=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        uri=$(awk -v s="$CODENAME" '
            BEGIN { RS = ""; FS = "\n" }
            { uris = ""; suites = ""; types = ""
              for (i = 1; i <= NF; i++) { l = $i; if (l ~ /^#/) continue
                if (l ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", l); uris = l }
                if (l ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", l); suites = " " l " " }
                if (l ~ /^Types:/)  { types = l " " } }
              if (types ~ /[ \t]deb[ \t]/ && index(suites, " " s " ")) { split(uris, u, " "); print u[1]; exit } }
        ' /etc/apt/sources.list.d/*.sources)
    fi
    if [[ -z $uri ]]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v s="$CODENAME" '
            $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                          if ($(i + 1) == s) { print $i; exit } }')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=$(debian_mirror)
BPO=$CACHE/apt-backports
mkdir -p "$BPO/sources.list.d" "$BPO/lists/partial" "$BPO/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb ${keyring:+[signed-by=$keyring] }$MIRROR $CODENAME-backports main" >"$BPO/sources.list.d/backports.list"
[[ -r $keyring ]] || sed -i 's/\[signed-by=[^]]*\] //' "$BPO/sources.list.d/backports.list"
APT_PRIV=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$BPO/sources.list.d"
    -o "Dir::State::Lists=$BPO/lists" -o "Dir::Cache=$BPO/cache" -o Dir::State::status=/dev/null)
APT_SANDBOX=()   # downloads into root-owned cache dirs: no _apt sandbox, no warning about it
(( EUID == 0 )) && APT_SANDBOX=(-o APT::Sandbox::User=root)
APT_PRIV+=("${APT_SANDBOX[@]}")

# ------------------------------------------------------------------------------------------- QEMU 10
# QEMU 7.2 (bookworm) has no igb; bookworm-backports' QEMU has it and the NVMe SR-IOV we need. It is
# downloaded and unpacked into the cache (never installed); only its shared libraries are installed.
if [[ -z $(find "$BPO/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null) ]]; then
    log "refreshing the private apt lists for $CODENAME-backports ($MIRROR)"
    apt-get "${APT_PRIV[@]}" update -q >"$CACHE/apt-backports.log" 2>&1 \
        || log "warning: apt-get update for $CODENAME-backports failed (see $CACHE/apt-backports.log); using what is cached"
fi
QEMU_VERSION=$(apt-cache "${APT_PRIV[@]}" show --no-all-versions qemu-system-x86 2>/dev/null | awk '/^Version:/ { print $2; exit }' || true)
if [[ -z $QEMU_VERSION ]]; then
    QDIR=$(ls -d "$CACHE"/qemu-*/ 2>/dev/null | tail -n 1 || true)
    [[ -n $QDIR && -e $QDIR/.complete ]] || die "cannot resolve qemu-system-x86 in $CODENAME-backports"
    QDIR=${QDIR%/}
else
    QDIR=$CACHE/qemu-$(sanitize "$QEMU_VERSION")
fi
if [[ ! -e $QDIR/.complete ]]; then
    log "fetching QEMU $QEMU_VERSION from $CODENAME-backports"
    rm -rf "$QDIR.tmp"; mkdir -p "$QDIR.tmp/debs"
    (cd "$QDIR.tmp/debs" && apt-get "${APT_PRIV[@]}" download "${QEMU_PACKAGES[@]}" >"$QDIR.tmp/download.log" 2>&1) \
        || { tail -n 20 "$QDIR.tmp/download.log" >&2; die "apt-get download of QEMU failed"; }
    for d in "$QDIR.tmp"/debs/*.deb; do dpkg -x "$d" "$QDIR.tmp/root"; done
    # Its shared libraries come from the machine's own release.
    apt-cache "${APT_PRIV[@]}" show --no-all-versions qemu-system-x86 \
        | awk '/^Depends:/ { sub(/^Depends: /, ""); print; exit }' | tr ',' '\n' \
        | sed 's/^ *//; s/[ |(].*//' | grep -E '^(lib|zlib)' >"$QDIR.tmp/host-deps"
    rm -rf "$QDIR.tmp/debs"
    rm -rf "$QDIR"; mv "$QDIR.tmp" "$QDIR"; touch "$QDIR/.complete"
    find "$CACHE" -mindepth 1 -maxdepth 1 -name 'qemu-*' ! -path "$QDIR" -exec rm -rf {} +   # older QEMUs
fi
mapfile -t qemu_deps <"$QDIR/host-deps"
apt_install "${qemu_deps[@]}"
QEMU=$QDIR/root/usr/bin/qemu-system-x86_64
if ldd "$QEMU" | grep -q 'not found'; then
    ldd "$QEMU" | grep 'not found' >&2; die "QEMU's shared libraries are missing"
fi

# ------------------------------------------------------------------------------------------- DPDK
# dpdk-testpmd (Debian's dpdk-dev) for 66-attach-consumers. Downloaded and unpacked into the cache,
# never installed: installing dpdk-dev would pull rdma-core, udev and systemd into the host. Its shared
# libraries (the librte-* packages and the few others the host lacks) are unpacked beside it; the check
# runs it with LD_LIBRARY_PATH pointing there.
dpdk_meta=$(apt-cache show --no-all-versions dpdk-dev 2>/dev/null || true)
if [[ -z $dpdk_meta ]]; then apt_update_once; dpdk_meta=$(apt-cache show --no-all-versions dpdk-dev 2>/dev/null || true); fi
DPDK_VERSION=$(awk '/^Version:/ { print $2; exit }' <<<"$dpdk_meta")
DPDK_ROOT=""
if [[ -n $DPDK_VERSION ]]; then
    DDIR=$CACHE/dpdk-$(sanitize "$DPDK_VERSION")
    if [[ ! -e $DDIR/.complete ]]; then
        log "fetching dpdk-dev $DPDK_VERSION and its libraries"
        rm -rf "$DDIR.tmp"; mkdir -p "$DDIR.tmp/debs"
        # The runtime closure: every shared-library package it needs that this host does not have.
        apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
            --no-enhances --no-pre-depends dpdk-dev 2>/dev/null | grep -v '^ ' | sort -u >"$DDIR.tmp/closure"
        wanted=(dpdk-dev ibverbs-providers)
        while read -r p; do
            case $p in
                *-dev|*-dev-bin|'<'*) ;;
                lib*) dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || wanted+=("$p") ;;
            esac
        done <"$DDIR.tmp/closure"
        if (cd "$DDIR.tmp/debs" && apt-get "${APT_SANDBOX[@]}" download "${wanted[@]}" >"$DDIR.tmp/download.log" 2>&1); then
            for d in "$DDIR.tmp"/debs/*.deb; do dpkg -x "$d" "$DDIR.tmp/root"; done
            rm -rf "$DDIR.tmp/debs"
            rm -rf "$DDIR"; mv "$DDIR.tmp" "$DDIR"; touch "$DDIR/.complete"
            find "$CACHE" -mindepth 1 -maxdepth 1 -name 'dpdk-*' ! -path "$DDIR" -exec rm -rf {} +   # older ones
        else
            log "warning: apt-get download of dpdk-dev failed (see $DDIR.tmp/download.log); 66-attach-consumers reports it"
        fi
    fi
    [[ -e $DDIR/.complete ]] && DPDK_ROOT=$DDIR/root
fi

# ---------------------------------------------------------------------- kernel, modules, netdevsim
kernel_meta=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null || true)
if [[ -z $kernel_meta ]]; then apt_update_once; kernel_meta=$(apt-cache show --no-all-versions linux-image-amd64); fi
KPKG=$(awk '/^Depends:/ { print; exit }' <<<"$kernel_meta" | grep -oE 'linux-image-[0-9][^ ,]*' | head -n 1)
[[ -n $KPKG ]] || die "cannot resolve linux-image-amd64's kernel package"
KABI=${KPKG#linux-image-}                                   # e.g. 6.1.0-56-amd64
KSERIES=$(cut -d. -f1,2 <<<"$KABI")                         # e.g. 6.1
KVERSION=$(apt-cache show --no-all-versions "$KPKG" | awk '/^Version:/ { print $2; exit }')  # e.g. 6.1.192-2
KDIR=$CACHE/kernel-$(sanitize "$KABI-$KVERSION")
KROOT=$KDIR/root
if [[ ! -e $KDIR/.complete ]]; then
    log "fetching $KPKG $KVERSION and building netdevsim.ko"
    rm -rf "$KDIR.tmp"; mkdir -p "$KDIR.tmp/debs" "$KDIR.tmp/build/src"
    (cd "$KDIR.tmp/debs" && apt-get "${APT_SANDBOX[@]}" download "$KPKG=$KVERSION" "linux-headers-$KABI=$KVERSION" \
        "linux-headers-${KABI%-*}-common=$KVERSION" "linux-kbuild-$KSERIES=$KVERSION" \
        "linux-source-$KSERIES=$KVERSION" >"$KDIR.tmp/download.log" 2>&1) \
        || { tail -n 20 "$KDIR.tmp/download.log" >&2; die "apt-get download of the kernel packages failed"; }
    dpkg -x "$KDIR.tmp"/debs/linux-image-*.deb "$KDIR.tmp/root"
    for d in "$KDIR.tmp"/debs/linux-headers-*.deb "$KDIR.tmp"/debs/linux-kbuild-*.deb; do dpkg -x "$d" "$KDIR.tmp/build"; done
    config=$KDIR.tmp/root/boot/config-$KABI
    for opt in PCI_IOV=y VFIO=m VFIO_PCI=m INTEL_IOMMU=y IRQ_REMAP=y BLK_DEV_NVME=m IGB=m IGBVF=m 9P_FS=m NET_9P_VIRTIO=m OVERLAY_FS=m; do
        grep -qx "CONFIG_$opt" "$config" || die "kernel config: expected CONFIG_$opt in $config"
    done
    grep -q '^CONFIG_NETDEVSIM=' "$config" && log "note: this kernel has CONFIG_NETDEVSIM set; building it anyway"
    # Only drivers/net/netdevsim is needed from the source tarball.
    dpkg-deb --fsys-tarfile "$KDIR.tmp"/debs/linux-source-*.deb \
        | tar -xO "./usr/src/linux-source-$KSERIES.tar.xz" \
        | tar -xJ -C "$KDIR.tmp/build/src" "linux-source-$KSERIES/drivers/net/netdevsim"
    headers=$KDIR.tmp/build/usr/src/linux-headers-$KABI
    # The headers' Makefile includes the common headers by absolute path: point it at our copy.
    sed -i "s#^include /usr/src/#include $KDIR.tmp/build/usr/src/#" "$headers/Makefile"
    nsim=$KDIR.tmp/build/src/linux-source-$KSERIES/drivers/net/netdevsim
    make -C "$headers" M="$nsim" CONFIG_NETDEVSIM=m -j"$(nproc)" modules >"$KDIR.tmp/netdevsim-build.log" 2>&1 \
        || { tail -n 30 "$KDIR.tmp/netdevsim-build.log" >&2; die "building netdevsim.ko failed"; }
    install -D -m 0644 "$nsim/netdevsim.ko" "$KDIR.tmp/root/lib/modules/$KABI/extra/netdevsim.ko"
    depmod -b "$KDIR.tmp/root" "$KABI"
    rm -rf "$KDIR.tmp/debs" "$KDIR.tmp/build"
    rm -rf "$KDIR"; mv "$KDIR.tmp" "$KDIR"
    touch "$KDIR/.complete"
    find "$CACHE" -mindepth 1 -maxdepth 1 -name 'kernel-*' ! -path "$KDIR" -exec rm -rf {} +   # older kernels
    log "kernel $KABI ready after $(elapsed)"
fi

# ------------------------------------------------------------------------------------ initramfs
IR=$CACHE/initramfs
rm -rf "$IR"; mkdir -p "$IR/bin" "$IR/modules"
cp /bin/busybox "$IR/bin/busybox"
install -m 0755 "$HERE/guest/init" "$IR/init"
modprobe -d "$KROOT" -S "$KABI" --show-depends -a "${INITRAMFS_MODULES[@]}" \
    | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$IR/modules.paths"
while read -r m; do cp "$m" "$IR/modules/"; basename "$m"; done <"$IR/modules.paths" >"$IR/modules/order"
rm "$IR/modules.paths"
# pack_initramfs <filter>: the guest's environment (which checks to run) and the archive QEMU loads.
pack_initramfs() {
    cat >"$IR/lane.env" <<EOF
LANE_REPO='$REPO'
LANE_BIN_DIR='$BIN_DIR'
LANE_FILTER='$1'
LANE_KROOT='$KROOT'
LANE_CACHE='$CACHE'
LANE_KVER='$KABI'
LANE_CHECK_TIMEOUT='$CHECK_TIMEOUT'
LANE_BENCH_ITERATIONS='$BENCH_ITERATIONS'
LANE_QEMU='$QEMU'
LANE_QEMU_DATA='$QDIR/root/usr/share/qemu $QDIR/root/usr/share/seabios'
LANE_DPDK_ROOT='$DPDK_ROOT'
EOF
    (cd "$IR" && find . | cpio -o -H newc --quiet) >"$CACHE/initramfs.cpio"
}
pack_initramfs "$FILTER"

# ------------------------------------------------------------------------------- NVMe namespace
# A small raw backing file for the NVMe controller's namespace (contents do not matter; the lane never
# writes to it), made once per cache.
NVME_NS=$CACHE/nvme-ns.raw
[[ -s $NVME_NS ]] || truncate -s 16M "$NVME_NS"

# ------------------------------------------------------------------------------------------ boot
# One boot, QEMU 10, TCG. /dev/kvm on this kind of machine cannot run a stock kernel: never use it.
# The IOMMU comes before the PCI devices. The SR-IOV devices sit behind PCIe root ports.
QEMU_ARGS=(
    -L "$QDIR/root/usr/share/qemu" -L "$QDIR/root/usr/share/seabios"
    -machine q35 -accel tcg -smp 2 -m "$MEM"
    # QEMU's default TCG CPU (qemu64) stops at SSE3; Debian's DPDK is built for Nehalem (SSE4.2, POPCNT)
    # and dies of SIGILL without them (seen in 66-attach-consumers).
    -cpu qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16
    -nodefaults -no-user-config -display none -vga none -monitor none -serial stdio -no-reboot
    -kernel "$KROOT/boot/vmlinuz-$KABI" -initrd "$CACHE/initramfs.cpio"
    # No i8042 (keyboard/mouse controller): nothing uses it, and its probe once hung the boot for minutes
    # under a loaded host (seen in the eighth session).
    -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 initcall_blacklist=i8042_init"
    -device intel-iommu,intremap=on,caching-mode=on
    # Management NIC: carries the guest's default route. The igb PF's network has no IPv6, so no
    # router advertisement gives it a default route (that would make it a protected management NIC).
    -netdev user,id=mgmt,restrict=on -device virtio-net-pci,netdev=mgmt,romfile=
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -device pcie-root-port,id=rp1,chassis=1,slot=1
    -netdev user,id=igbnet,restrict=on,ipv6=off -device igb,bus=rp1,netdev=igbnet,romfile=
    -device pcie-root-port,id=rp2,chassis=2,slot=2
    -device nvme-subsys,id=nvmesubsys,nqn=sriovd-kernel-lane
    -device "nvme,id=nvmectrl0,bus=rp2,serial=sriovlane0,subsys=nvmesubsys,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,max_ioqpairs=12,msix_qsize=8"
    # One namespace, private to the PF's controller (not shared with its VFs): what 68-whole-device
    # expects back as a block device once the controller returns from a whole-device lease.
    -drive "file=$NVME_NS,if=none,format=raw,id=nvmens0"
    -device nvme-ns,drive=nvmens0,bus=nvmectrl0,nsid=1,shared=off
    # A NIC without SR-IOV (82574L, e1000e) on a root port of its own: what 68-whole-nic leases whole.
    # Its network has no IPv6 and no DHCP client runs, so it never gets a default route.
    -device pcie-root-port,id=rp3,chassis=3,slot=3
    -netdev user,id=e1knet,restrict=on,ipv6=off -device e1000e,bus=rp3,netdev=e1knet,romfile=
)
# boot <console log>: one boot running the packed checks; sets qemu_rc.
boot() {
    log "booting $KABI under QEMU $($QEMU --version | head -n 1 | awk '{print $4}') (TCG)${GUEST_FILTER:+, checks matching: $GUEST_FILTER}; prepared in $(elapsed)"
    local boot_start; boot_start=$(date +%s)
    set +e
    timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" </dev/null 2>&1 | tr -d '\r' | tee "$1" \
        | if [[ ${KERNEL_LANE_VERBOSE:-} == 1 ]]; then cat; else grep --line-buffered -E '^kernel-lane|^KERNEL-LANE|Kernel panic|qemu-system'; fi >&2
    qemu_rc=${PIPESTATUS[0]}
    set -e
    log "guest ran $(( $(date +%s) - boot_start ))s; console log: $1"
}
# finished_results <console log>: the PASS/FAIL lines of the checks that finished in that boot.
finished_results() {
    awk '/^kernel-lane\(guest\): === [0-9][0-9]-[^ ]*$/ { check = $3; n = 0; next }
         /^kernel-lane\(guest\): === [0-9][0-9]-[^ ]* finished in / { for (i = 1; i <= n; i++) print lines[i]; check = ""; n = 0; next }
         /^(PASS|FAIL) / { if (check != "") lines[++n] = $0; else print }' "$1"
}
GUEST_FILTER=$FILTER
boot "$LOG"

# QEMU itself can stop under TCG with one of its own assertions (seen once, in the sixteenth
# session: `system/physmem.c: iotlb_to_section: Assertion ... failed`, exit 134, around the nested
# QEMU of 68-whole-device): an emulator fault, not a result of the guest. The checks that did not
# finish then run again, once, in a new boot; those that finished keep their results.
first=""
# (QEMU killed by a signal of its own: 134 is SIGABRT; 137 is timeout's SIGKILL, a timeout.)
if (( qemu_rc > 128 && qemu_rc != 137 )) && ! grep -aq '^KERNEL-LANE-DONE' "$LOG" && ! grep -aq 'Kernel panic' "$LOG"; then
    done_checks=$(grep -aoE '^kernel-lane\(guest\): === [0-9][0-9]-[^ ]+ finished in ' "$LOG" | awk '{ print $3 }' || true)
    remaining=()
    for check in "$HERE"/checks/[0-9][0-9]-*.sh; do
        name=$(basename "$check" .sh)
        if [[ -n $FILTER ]]; then
            matched=0
            for f in $FILTER; do [[ $name == *"$f"* ]] && matched=1; done
            (( matched )) || continue
        fi
        grep -qxF -- "$name" <<<"$done_checks" || remaining+=("$name")
    done
    if (( ${#remaining[@]} )); then
        why=$(grep -a -m1 '^qemu-system' "$LOG" | cut -c1-200 || true)
        cp "$LOG" "$CACHE/first-console.log"
        first=$(finished_results "$CACHE/first-console.log")
        log "QEMU stopped (exit $qemu_rc${why:+: $why}); running the ${#remaining[@]} unfinished checks again in a new boot (first console log: $CACHE/first-console.log)"
        GUEST_FILTER="${remaining[*]}"
        pack_initramfs "$GUEST_FILTER"
        boot "$LOG"
    fi
fi

# ------------------------------------------------------------------------------------- results
results=$( { [[ -n $first ]] && printf '%s\n' "$first"; grep -aE '^(PASS|FAIL) ' "$LOG"; } || true)
extra=()
if (( qemu_rc == 124 || qemu_rc == 137 )); then
    extra+=("FAIL kernel-lane: the guest did not finish within ${TIMEOUT}s (KERNEL_LANE_TIMEOUT)")
elif grep -aq 'Kernel panic' "$LOG"; then
    extra+=("FAIL kernel-lane: guest kernel panic: $(grep -a -m1 'Kernel panic' "$LOG")")
elif ! grep -aq '^KERNEL-LANE-DONE' "$LOG"; then
    extra+=("FAIL kernel-lane: the guest did not finish (qemu exit $qemu_rc); see $LOG")
fi
if [[ -z $results ]]; then
    extra+=("FAIL kernel-lane: no check ran${FILTER:+ (filter: $FILTER)}")
fi
if (( ${#extra[@]} )) && [[ ${KERNEL_LANE_VERBOSE:-} != 1 ]]; then
    echo "--- last 40 console lines ($LOG):" >&2
    tail -n 40 "$LOG" >&2
fi
all=$( { [[ -n $results ]] && printf '%s\n' "$results"; (( ${#extra[@]} )) && printf '%s\n' "${extra[@]}"; } || true)
printf '%s\n' "$all"
passed=$(grep -c '^PASS ' <<<"$all" || true)
failed=$(grep -c '^FAIL ' <<<"$all" || true)
# Benchmark lines (`BENCH ...`, from checks such as 50-bench-netlink) are information, not assertions:
# they are summarised here, after the results, and never counted.
bench=$( { [[ -n $first ]] && grep -a '^BENCH ' "$CACHE/first-console.log"; grep -a '^BENCH ' "$LOG"; } || true)
if [[ -n $bench ]]; then
    echo "--- benchmarks (informational, not counted; TCG guest, so ratios matter more than times):"
    printf '%s\n' "$bench"
fi
log "total $(elapsed)"
echo "$passed passed, $failed failed"
(( failed == 0 && passed > 0 ))
