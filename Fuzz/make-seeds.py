#!/usr/bin/env python3
"""Writes the seed corpus in Fuzz/corpus/<target>/ (small files; run from the repo root). With --check it
writes nothing and fails naming the seeds that differ from what it would write (CI runs that).

Seeds are what the parsers read in real life: journal lines and a snapshot as sriovd writes them
(JSONWriter's sorted keys, CRC-32C), the sample configs, RTM_NEWLINK replies laid out as the kernel
does (as Tests/SRIOVNetlinkTests builds them), request bodies from Docs/openapi.yaml, and addresses.
Regression inputs found by fuzzing are kept beside them as `regress-*` files; this script never
touches those.
"""
import os, re, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fuzz", "corpus")

def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF

def record(seq, ts, type_, data: str) -> bytes:
    env = f'{{"v":1,"seq":{seq},"ts":{ts},"type":"{type_}","data":{data}'.encode()
    return env + f',"crc":"{crc32c(env + b"}"):08x}"}}\n'.encode()

def snapshot(seq, data: str) -> bytes:
    d = data.encode()
    return f'{{"v":1,"seq":{seq},"crc":"{crc32c(d):08x}","data":'.encode() + d + b"}\n"

CHECK = "--check" in sys.argv[1:]
STALE = []

def write(target, name, content):
    d = os.path.join(OUT, target)
    data = content if isinstance(content, bytes) else content.encode()
    if CHECK:
        # Compare only: a seed that differs from what this script writes (a copied sample that changed).
        try:
            with open(os.path.join(d, name), "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        if not same:
            STALE.append(os.path.join("Fuzz", "corpus", target, name))
        return
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

LID = "l-00000000000000a1"
VLAN100 = '{"id":100,"proto":"802.1Q","qos":3}'
VLAN0 = '{"id":0,"proto":"802.1Q","qos":0}'
SETTINGS = f'{{"mac":"52:54:00:12:34:56","spoofCheck":false,"trust":true,"vlan":{VLAN100}}}'
SAVED = f'{{"index":2,"linkState":"auto","mac":"00:00:00:00:00:00","maxTxRate":0,"minTxRate":0,"queryRSS":false,"spoofCheck":true,"trust":false,"vlan":{VLAN0}}}'
REQUEST = f'{{"count":1,"owner":"vm-42","placement":"pack","pool":"uplink","requestID":"req-1","settings":{SETTINGS},"ttlSeconds":3600}}'
VF = (f'{{"index":2,"iommuGroup":42,"numaNode":0,"pciAddress":"0000:3b:02.2","pf":"0000:3b:00.0","pfInterface":"ens1f0",'
      f'"previousDriver":"iavf","saved":{SAVED},"settings":{SETTINGS},"stage":"active","vfioDevice":"/dev/vfio/42"}}')
LEASE = (f'{{"condition":"drifted","createdAt":1764000000.25,"expiresAt":1764003600.25,"id":"{LID}","owner":"vm-42",'
         f'"pool":"uplink","problems":["vlan is 7, the lease promised 100"],"request":{REQUEST},"requestedBy":"uid 1000",'
         f'"state":"active","vfs":[{VF}]}}')
BARE_LEASE = (f'{{"createdAt":1764000000,"id":"l-00000000000000b2","owner":"vm-7","pool":"storage","problems":[],'
              f'"request":{{"count":1,"owner":"vm-7","placement":"spread","pool":"storage","settings":{{}}}},"state":"acquiring",'
              f'"vfs":[{{"index":0,"pciAddress":"0000:3b:09.7","pf":"0000:3b:00.1","settings":{{}},"stage":"reserved"}}]}}')
AUDIT = '{"action":"lease.acquire","result":"ok","target":"l-00000000000000a1 pool uplink","time":1764000000.000001,"who":"uid 1000 (tenant a)"}'

# record type -> payload (byte 0 of a `record` seed picks the type: its index in RecordTarget.types)
EVENTS = [
    ("lease.reserved", LEASE),
    ("vf.saved", f'{{"driver":"iavf","lease":"{LID}","state":{SAVED},"vf":"0000:3b:02.2"}}'),
    ("vf.configuring", f'{{"lease":"{LID}","vf":"0000:3b:02.2"}}'),
    ("vf.binding", f'{{"lease":"{LID}","vf":"0000:3b:02.2"}}'),
    ("lease.activated", f'{{"lease":"{LID}","vfio":{{"0000:3b:02.0":"/dev/vfio/41","0000:3b:02.2":"/dev/vfio/42"}}}}'),
    ("lease.renewed", f'{{"expiresAt":1764007200.5,"lease":"{LID}"}}'),
    ("lease.releasing", f'{{"cause":"expired","lease":"{LID}","reason":"expired (TTL passed without renew)"}}'),
    ("vf.returned", f'{{"lease":"{LID}","vf":"0000:3b:02.2"}}'),
    ("lease.released", f'{{"lease":"{LID}"}}'),
    ("vf.quarantined", f'{{"lease":"{LID}","reason":"scrub failed: \\"EINVAL\\"","vf":"0000:3b:02.2"}}'),
    ("vf.unquarantined", '{"vf":"0000:3b:02.2"}'),
    ("lease.drift", f'{{"lease":"{LID}","reason":"driver changed to igbvf","vf":"0000:3b:02.2"}}'),
    ("lease.marked", f'{{"condition":"lost","lease":"{LID}","reason":"forced"}}'),
    ("pf.numvfs", '{"after":4,"before":8,"interface":"ens1f0","pf":"0000:3b:00.0","requestedBy":"uid 0"}'),
    ("audit", AUDIT),
]

def journal_seeds():
    lines = [record(i + 1, f"1764000000.{i:06d}", t, d) for i, (t, d) in enumerate(EVENTS)]
    write("journal", "lifecycle.jsonl", b"".join(lines))
    write("journal", "torn-tail.jsonl", b"".join(lines[:3]) + lines[3][:40])
    damaged = bytearray(b"".join(lines[:4]))
    damaged[len(lines[0]) + 30] ^= 0x01
    write("journal", "damaged-middle.jsonl", bytes(damaged))
    write("journal", "gap.jsonl", lines[0] + record(3, "1764000001", "vf.binding", EVENTS[3][1]) + lines[3])
    write("journal", "duplicate-seq.jsonl", lines[0] + lines[1] + lines[1])
    write("journal", "version-2.jsonl", lines[0] + record(2, "1764000001", "x", "{}").replace(b'"v":1', b'"v":2'))
    write("journal", "after-snapshot.jsonl", record(41, "1764000100.5", "lease.released", f'{{"lease":"{LID}"}}'))

BOOK = (f'{{"audit":[{AUDIT}],"leases":{{"{LID}":{LEASE}}},"quarantine":{{"0000:af:02.3":{{"lease":"{LID}","reason":"x","since":12.5}}}},'
        f'"requestIndex":{{"req-1":"{LID}"}},"seq":40}}')

def snapshot_seeds():
    write("snapshot", "book.json", snapshot(40, BOOK))
    write("snapshot", "empty-book.json", snapshot(0, '{"audit":[],"leases":{},"quarantine":{},"requestIndex":{},"seq":0}'))
    write("leasebook", "book.json", BOOK)
    write("leasebook", "two-leases.json", BOOK.replace('"leases":{', f'"leases":{{"l-00000000000000b2":{BARE_LEASE},'))
    write("leasebook", "empty.json", '{"audit":[],"leases":{},"quarantine":{},"requestIndex":{},"seq":0}')

def statedir_seeds():
    # journal.jsonl, then a NUL and snapshot.json (StateDirectoryTarget)
    lines = [record(i + 1, f"1764000000.{i:06d}", t, d) for i, (t, d) in enumerate(EVENTS)]
    write("statedir", "journal-only", b"".join(lines[:5]))
    write("statedir", "snapshot-then-records", b"".join(record(41 + i, "1764000100.5", t, d) for i, (t, d) in enumerate(EVENTS[5:9]))
          + b"\0" + snapshot(40, BOOK))
    write("statedir", "stale-journal", b"".join(lines[:3]) + b"\0" + snapshot(40, BOOK))
    write("statedir", "torn-tail", b"".join(lines[:3]) + lines[3][:50])
    write("statedir", "gap-after-snapshot", record(43, "1764000100.5", "lease.released", f'{{"lease":"{LID}"}}') + b"\0" + snapshot(40, BOOK))

def record_seeds():
    for i, (t, d) in enumerate(EVENTS):
        write("record", f"{i:02d}-{t}.bin", bytes([i]) + d.encode())
    write("record", "00-lease.reserved-bare.bin", bytes([0]) + BARE_LEASE.encode())

def config_seeds():
    with open(os.path.join(ROOT, "Config", "sriovd.yaml"), "rb") as f:
        write("config", "sriovd.yaml", f.read())
    # The sample with its access: section uncommented.
    with open(os.path.join(ROOT, "Config", "sriovd.yaml")) as f:
        sample = f.read()
    access = re.sub(r"(?m)^# ?(access:|  .*)$", lambda m: m.group(1), sample[sample.index("# access:"):])
    write("config", "access.yaml", sample[:sample.index("# access:")] + access)
    write("config", "pci-selectors.yaml", """\
protected_pfs: 0000:19:00.0
pools:
  - name: pci
    selectors:
      - pci: [0000:3b:02.4, "0000:3b:02.5"]
      - vendor_device: "15b3:1018"
        numa: 1
    defaults:
      mac: "52:54:00:00:00:01"
      link_state: enable
      min_tx_rate: 0
      max_tx_rate: 100
""")
    write("config", "empty.yaml", "")
    write("config", "bad-key.yaml", "pools:\n  - name: a\n    selectrs: []\n")

def nl_attr(t, payload, nested=False, length=None):
    ln = length if length is not None else 4 + len(payload)
    out = struct.pack("<HH", ln & 0xFFFF, t | (0x8000 if nested else 0)) + payload
    return out + b"\0" * (-len(out) % 4)

def vf_entry(index, mac=b"\x02\0\0\0\0\x01", vlan=0, qos=0, proto=0x8100, mn=0, mx=0, spoof=1, trust=0, state=0, rss=0):
    le = lambda v: struct.pack("<I", v)
    inner = nl_attr(1, le(index) + mac + b"\0" * 26)
    inner += nl_attr(2, le(index) + le(vlan) + le(qos))
    inner += nl_attr(12, nl_attr(1, le(index) + le(vlan) + le(qos) + struct.pack(">H", proto) + b"\0\0"), nested=True)
    inner += nl_attr(3, le(index) + le(mx))
    inner += nl_attr(6, le(index) + le(mn) + le(mx))
    inner += nl_attr(4, le(index) + le(spoof))
    inner += nl_attr(5, le(index) + le(state))
    inner += nl_attr(7, le(index) + le(rss))
    inner += nl_attr(9, le(index) + le(trust))
    inner += nl_attr(13, b"\xff" * 32)
    return nl_attr(1, inner, nested=True)

def reply(num_vfs, entries, wrap=False):
    body = nl_attr(3, b"eni10np1\0") + nl_attr(16, b"\x06") + nl_attr(21, struct.pack("<I", num_vfs))
    payload = b"".join(entries)
    body += nl_attr(22, payload, nested=True, length=(4 + len(payload)) & 0xFFFF if wrap else None)
    body += nl_attr(30, struct.pack("<I", 1500))
    ifinfo = bytes([0, 0, 1, 0]) + struct.pack("<III", 7, 0x1043, 0)
    total = 16 + len(ifinfo) + len(body)
    return struct.pack("<IHHII", total, 16, 0, 1, 0) + ifinfo + body

def netlink_seeds():
    write("netlink", "three-vfs.bin", reply(3, [vf_entry(0), vf_entry(1, mac=b"\x52\x54\0\x12\x34\x56", vlan=100, qos=3, proto=0x88A8,
                                                         mn=10, mx=1000, spoof=0, trust=1, state=2, rss=1),
                                            vf_entry(2, spoof=0xFFFFFFFF, trust=0xFFFFFFFF, state=1)]))
    write("netlink", "missing-vf.bin", reply(4, [vf_entry(0), vf_entry(2)]))
    write("netlink", "no-vfs.bin", reply(0, []))
    # The list's u16 length wrapped (kept small: 2 entries with a declared length of 1 entry).
    entries = [vf_entry(0), vf_entry(1)]
    msg = bytearray(reply(2, entries))
    write("netlink", "wrapped-list.bin", bytes(msg).replace(struct.pack("<HH", 4 + 2 * len(entries[0]), 0x8016),
                                                           struct.pack("<HH", 4 + len(entries[0]), 0x8016)))

BODIES = [  # (selector, JSON): 0 acquire, 1 renew, 2 numvfs, 3 VF settings (BodiesTarget)
    ("acquire", 0, '{"pool":"uplink","owner":"vm-42","count":1,"numaNode":0,"placement":"pack",'
                   '"settings":{"mac":"52:54:00:12:34:56","vlan":100,"qos":3,"vlanProto":"802.1Q","spoofCheck":false,"trust":true,'
                   '"minTxRate":0,"maxTxRate":1000},"ttlSeconds":3600,"requestId":"9b2f0c3e-2d7c-4d8e-9d1f-1b7c2f7f5c11"}'),
    ("acquire-min", 0, '{"pool":"storage","owner":"vm-7"}'),
    ("acquire-spread", 0, '{"pool":"uplink","owner":"vm-1","count":2,"placement":"spread"}'),
    ("renew", 1, '{"ttlSeconds":600}'),
    ("renew-empty", 1, '{}'),
    ("numvfs", 2, '{"numvfs":8,"autoprobe":false,"force":false,"timeoutSeconds":120}'),
    ("numvfs-zero", 2, '{"numvfs":0}'),
    ("vf-settings", 3, '{"mac":"52:54:00:12:34:56","vlan":100,"qos":3,"vlanProto":"802.1ad","spoofCheck":true,"trust":false,'
                       '"linkState":"enable","minTxRate":10,"maxTxRate":1000,"queryRSS":true,"force":true}'),
    ("vf-vlan-off", 3, '{"vlan":0}'),
]

def body_seeds():
    for name, sel, js in BODIES:
        write("bodies", f"{name}.bin", bytes([sel]) + js.encode())

ADDRESSES = {
    "pci": "0000:3b:02.0", "pci-short": "3b:00.1", "pci-vmd": "10000:e1:00.7", "pci-upper": "0000:AF:1F.7",
    "mac": "52:54:00:12:34:56", "mac-dash": "02-00-00-00-00-01", "mac-zero": "00:00:00:00:00:00",
    "mac-multicast": "01:00:5e:00:00:01", "vlan": "100", "vlan-proto": "802.1ad", "qos": "7", "link-state": "enable",
    "ifname": "ens4f0np0", "lease-id": "l-0123456789abcdef", "listen-v4": "127.0.0.1:8443", "listen-v6": "[::1]:8443",
    "listen-host": "localhost:0",
}

VF_PATH = "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/0000:3b:02.3"

def uevent(header, pairs):
    return b"".join(f.encode() + b"\0" for f in [header] + pairs)

def uevent_seeds():
    write("uevent", "pci-bind.bin", uevent("bind@" + VF_PATH, ["ACTION=bind", "DEVPATH=" + VF_PATH, "SUBSYSTEM=pci",
                                                             "DRIVER=vfio-pci", "PCI_SLOT_NAME=0000:3b:02.3", "SEQNUM=4712"]))
    write("uevent", "pci-unbind.bin", uevent("unbind@" + VF_PATH, ["ACTION=unbind", "DEVPATH=" + VF_PATH, "SUBSYSTEM=pci",
                                                                 "PCI_SLOT_NAME=0000:3b:02.3", "SEQNUM=4713"]))
    write("uevent", "pci-remove-devpath.bin", uevent("remove@" + VF_PATH, ["ACTION=remove", "DEVPATH=" + VF_PATH, "SUBSYSTEM=pci"]))
    write("uevent", "net-add.bin", uevent("add@" + VF_PATH + "/net/ens1f0v3", ["ACTION=add", "DEVPATH=" + VF_PATH + "/net/ens1f0v3",
                                                                             "SUBSYSTEM=net", "INTERFACE=ens1f0v3", "IFINDEX=17"]))
    write("uevent", "vfio-add.bin", uevent("add@/devices/virtual/vfio/6", ["ACTION=add", "DEVPATH=/devices/virtual/vfio/6",
                                                                          "SUBSYSTEM=vfio", "MAJOR=243", "MINOR=1", "DEVNAME=vfio/6"]))
    write("uevent", "udev.bin", b"libudev\0\xfe\xed\xca\xfe")

def address_seeds():
    for name, text in ADDRESSES.items():
        write("addresses", name, text)

if __name__ == "__main__":
    unknown = [a for a in sys.argv[1:] if a != "--check"]
    if unknown:
        print(f"make-seeds.py: unknown argument {unknown[0]}; usage: make-seeds.py [--check]", file=sys.stderr)
        sys.exit(64)
    journal_seeds(); statedir_seeds(); snapshot_seeds(); record_seeds(); config_seeds(); netlink_seeds(); uevent_seeds(); body_seeds(); address_seeds()
    if CHECK:
        if STALE:
            sys.exit("make-seeds.py --check: these seeds differ from what the script writes (a sample they copy "
                     "changed?): " + ", ".join(STALE) + "; run `python3 Fuzz/make-seeds.py` and commit them")
        print("make-seeds.py --check: every generated seed is as committed")
    else:
        print("seeds written under", os.path.relpath(OUT))
