// The built-in configuration for the simulated host: a copy of Config/sriovd.yaml (a test keeps the two
// identical), used with --simulated when neither --config nor /etc/sriovd/sriovd.yaml is there, by the
// daemon and the CLI alike.
public enum EmbeddedConfig {
    public static let simulatedHost = #"""
# sriovd.yaml: what sriovd keeps on this host.
#
# Installed as /etc/sriovd/sriovd.yaml (or pass --config <path>). This sample matches the simulated host
# that `sriovd --simulated` and `sriovctl --simulated` build: an Intel I350 management port (eno1), an
# Intel E810 with two ports on NUMA node 0 (ens1f0, ens1f1) and an NVIDIA ConnectX-5 with two ports on
# NUMA node 1 (ens4f0np0, ens4f1np1). Adapt the names to yours: `sriovctl inventory` lists your PFs,
# `sriovctl inventory --vfs` their VFs. Docs/Configuration.md describes every key.
#
# Rules that hold everywhere:
#   - Unknown keys are refused (with a "did you mean"), so a typo never silently does nothing.
#   - Numbers and true/false are written without quotes; quote anything with '#' or ': ' in it.
#   - A PF is named by its netdev (ens1f0) or its PCI address (0000:3b:00.0).
#   - Errors name the file, the key path and the line, e.g.
#       sriovd.yaml: pools[0].selectors[0].vfs (line 60): range 0-99 is beyond ens1f0's VFs ...

# PFs sriovd must never write (VF count, autoprobe, VF settings) unless an operator passes --force, and
# whose VFs no pool may take. The PF that carries the default route is always protected, listed or not;
# list it anyway so the file says so, and add any other PF the host itself depends on.
protected_pfs: [eno1]

# The state each PF should be in. `sriovd apply` (run at boot, before VMs start) makes the host match:
# it creates num_vfs VFs and sets sriov_drivers_autoprobe. Pools are checked against these counts: a
# pool may name VF 0-(num_vfs-1) of a PF listed here, or only the VFs a PF has now if it is not listed.
pfs:
  - pf: ens1f0            # or 0000:3b:00.0
    num_vfs: 8            # 0 removes all VFs; at most the PF's sriov_totalvfs (64 on an E810)
    autoprobe: false      # pooled VFs are born unbound, ready for vfio-pci (leave out to keep as is)
  - pf: ens1f1
    num_vfs: 8
    autoprobe: false
  - pf: ens4f0np0
    num_vfs: 4            # a ConnectX-5 port supports at most 16 here
    autoprobe: false
  # ens4f1np1 has no entry: sriovd leaves its VF count and autoprobe alone.

# Pools hand out VFs as leases. A VF belongs to at most one pool; a VF in no pool is never leased.
pools:
  # Uplink VFs for VNFs: two PFs on two NUMA nodes, so a request for two VFs with placement "spread"
  # gets an HA pair on distinct PFs (and "numa: 1" gets ens4f0np0's VFs only).
  - name: uplink          # [a-z0-9][a-z0-9_-]{0,62}: used in the API, the CLI and metrics labels
    selectors:            # a VF is in the pool if it matches any selector; within a selector, every key
      - vfs: "ens1f0#0-3"           # shorthand for pf: ens1f0 + range: 0-3 (quote it: '#' starts comments)
      - pf: ens4f0np0               # the same, spelled out
        range: 0-3
      # Other keys, alone or combined:
      # - pci: ["0000:af:00.2", "0000:af:00.3"]   # explicit VFs
      # - vendor_device: "15b3:1018"               # every ConnectX-5 VF (lspci -nn)...
      #   numa: 1                                  # ...on NUMA node 1
    # What every lease from this pool gets unless the request says otherwise. All keys optional.
    defaults:
      vlan: 100           # port VLAN (1-4094; 0 = untagged); must be allowed by policy.vlans below
      qos: 0              # VLAN priority 0-7 (needs vlan)
      vlan_proto: 802.1Q  # or 802.1ad (needs vlan)
      spoofchk: true
      trust: false
      # link_state: auto  # auto, enable or disable
      # min_tx_rate: 0    # Mbit/s, 0 = no limit
      # max_tx_rate: 0
      # mac: "52:54:00:00:00:01"  # rarely wanted: every lease would get the same MAC
    # What a request may ask for.
    policy:
      vlans: ["100", "200-299"]     # ids and ranges; leave out to allow any VLAN
      allow_trust: false            # may a request turn trust on
      allow_spoofchk_off: false     # may a request turn spoof checking off
      allow_mac: true               # may a request set its own MAC
      mac_prefixes: ["52:54:00"]    # requested MACs must start with one of these (leave out for any)
      max_leases_per_owner: 4       # leave out for no limit
    # After release the VF is scrubbed (MAC, VLAN, rates, trust, spoof check) and then:
    on_release: leave-unbound       # stays driverless, ready for the next lease; or rebind-host-driver
    # When another tool changes a leased VF (ip link set ... vf N vlan 7): put the lease's settings back
    # (restore, the default), keep the VF out of the pool after release (quarantine), or only report it.
    on_drift: restore
    # require_link: up              # VFs of a PF without carrier stay out of new leases (default); or any

  # Storage network: all eight VFs of the second E810 port, untagged, host driver back on release.
  - name: storage
    selectors:
      - pf: ens1f1
        range: 0-7
    policy:
      vlans: ["0"]                  # untagged only
      max_leases_per_owner: 2
    on_release: rebind-host-driver

  # ens1f0 VFs 4-7 are in no pool: sriovd keeps them configured but never leases them.

# Who may use the daemon's API, and how it is reached. Without this section only root and the user
# sriovd runs as may call it (the built-in tenant local-admin, with every pool and right); everyone else
# gets a 403 that says how to add them. Root is always local-admin unless a tenant lists uid 0. Uncomment
# and adapt to let others in (`sriovctl --direct` works in-process and is bounded by the state
# directory's permissions instead).
# access:
#   socket_group: sriovd              # the socket (mode 0660) is chowned to this group: its members may connect
#   listen_tcp: "127.0.0.1:8443"      # serve TCP too; callers there need a bearer token (no TLS: keep it local)
#   tokens_file: /etc/sriovd/tokens   # `name sha256:<hex>` lines, mode 600: printf '%s' "$TOKEN" | sha256sum
#   tenants:
#     - name: nfv                     # the audit trail says `tenant nfv (uid 1000)`
#       uids: [1000]                  # on the socket: these users (`id -u`) ...
#       gids: [2000]                  # ... and members of these groups
#       pools: [uplink]               # may lease from these pools ("*": every pool)
#       max_leases: 8                 # at most 8 live leases ...
#       max_vfs: 16                   # ... holding 16 VFs together (leave out for no limit)
#       rights: [mac]                 # trust (request trust on), spoofchk_off, mac (set a MAC), admin
#     - name: orch
#       tokens: [orch-1]              # on TCP: this token from tokens_file
#       pools: ["*"]
#       rights: [admin]               # PF/VF changes, unquarantine, events, the audit trail, every lease
"""#
}
