import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl lease acquire`: VFs from a pool, bound to vfio-pci and configured, for a VM.
struct LeaseAcquire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acquire",
        abstract: "Lease VFs from a pool to an owner (a VM): configured, bound to vfio-pci, with attach specs.",
        discussion: "All or nothing: a multi-VF request gets every VF or none. The same --request-id returns the same lease (safe retries). Asks sriovd on --socket; --direct works in-process on the state directory."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Option(name: .customLong("pool"), help: ArgumentHelp("The pool to lease from.", valueName: "name"))
    var pool: String

    @Option(name: .customLong("owner"), help: ArgumentHelp("Who gets the VFs: a VM name or UUID.", valueName: "name"))
    var owner: String

    @Option(name: .customLong("count"), help: ArgumentHelp("How many VFs (1-64, default 1, or as many as --vf names).", valueName: "n"))
    var count: Int?

    @Option(name: .customLong("vf"), help: ArgumentHelp("Lease exactly this VF (repeat for more): each must be a free, healthy VF of the pool, or nothing is leased.", valueName: "pci"), transform: Parse.pciAddress)
    var vfs: [PCIAddress] = []

    @Option(name: .customLong("consumer"), help: ArgumentHelp("What uses the VFs: libvirt:<uuid>, pid:<pid>[@<starttime>], cgroup:<path> or unit:<name>.service. sriovd takes the lease back once it is gone for the grace period (sriovd --consumer-grace).", valueName: "consumer"), transform: Parse.consumer)
    var consumer: LeaseConsumer?

    @Option(name: .customLong("numa"), help: ArgumentHelp("Only VFs on PFs of this NUMA node.", valueName: "node"))
    var numa: Int?

    @Option(name: .customLong("placement"), help: ArgumentHelp("spread: each VF on a different PF (HA pairs); pack: as few PFs as possible (default pack).", valueName: "spread|pack"))
    var placement: String = "pack"

    @Option(name: .customLong("mac"), help: ArgumentHelp("MAC for the VF (count 1; default: generated, locally administered).", valueName: "mac"), transform: Parse.mac)
    var mac: MACAddress?

    @Option(name: .customLong("vlan"), parsing: .unconditional, help: ArgumentHelp("Port VLAN 1-4094 (0: none), within the pool's policy.", valueName: "id"), transform: Parse.vlanID)
    var vlan: Int?

    @Option(name: .customLong("qos"), parsing: .unconditional, help: ArgumentHelp("VLAN priority 0-7 (with --vlan).", valueName: "q"), transform: Parse.qos)
    var qos: Int?

    @Option(name: .customLong("trust"), help: ArgumentHelp("Trusted VF (needs the pool's allow_trust).", valueName: "on|off"), transform: Parse.onOff("--trust"))
    var trust: Bool?

    @Option(name: .customLong("spoofchk"), help: ArgumentHelp("Spoof checking (off needs the pool's allow_spoofchk_off).", valueName: "on|off"), transform: Parse.onOff("--spoofchk"))
    var spoofCheck: Bool?

    @Option(name: .customLong("min-tx-rate"), parsing: .unconditional, help: ArgumentHelp("Minimum TX rate, Mbit/s.", valueName: "Mbps"), transform: Parse.rate("--min-tx-rate"))
    var minTxRate: UInt32?

    @Option(name: .customLong("max-tx-rate"), parsing: .unconditional, help: ArgumentHelp("Maximum TX rate, Mbit/s.", valueName: "Mbps"), transform: Parse.rate("--max-tx-rate"))
    var maxTxRate: UInt32?

    @Option(name: .customLong("ttl"), help: ArgumentHelp("Expire unless renewed within this time (e.g. 30m, 1h, 2d).", valueName: "duration"), transform: TTLText.seconds)
    var ttl: Int?

    @Option(name: .customLong("request-id"), help: ArgumentHelp("Idempotency key: a retry with the same id returns the same lease.", valueName: "id"))
    var requestID: String?

    @Option(name: .customLong("device-user"), help: ArgumentHelp("The user the VM runs as (name or uid): /dev/vfio/<group> of each leased device becomes theirs (mode 0600), put back on release.", valueName: "user"))
    var deviceUser: String?

    @Option(name: .customLong("device-group"), help: ArgumentHelp("The group the VM runs as (name or gid): /dev/vfio/<group> gets it with mode 0660, put back on release.", valueName: "group"))
    var deviceGroup: String?

    @Flag(name: .customLong("json"), help: "Print the lease (with attach specs) as JSON.")
    var json = false

    /// The parsed command line as plain values: what `run` does, and what the fast path builds
    /// without ArgumentParser.
    var invocation: LeaseAcquireInvocation {
        LeaseAcquireInvocation(pool: pool, owner: owner, count: count, vfs: vfs, consumer: consumer, numa: numa,
                               placement: placement, mac: mac, vlan: vlan, qos: qos, trust: trust, spoofCheck: spoofCheck,
                               minTxRate: minTxRate, maxTxRate: maxTxRate, ttl: ttl, requestID: requestID,
                               deviceUser: deviceUser, deviceGroup: deviceGroup, json: json,
                               host: global.choice, configPath: leaseOptions.config, door: connect.door)
    }

    func validate() throws { try invocation.validate() }

    func run() async throws { try await invocation.run() }
}

/// One `lease acquire` command line, parsed: by ArgumentParser (`LeaseAcquire`) or by the fast path
/// (`FastPath`), which must agree on every command line both accept (FastPathTests).
struct LeaseAcquireInvocation: Equatable, Sendable {
    var pool: String
    var owner: String
    var count: Int?
    var vfs: [PCIAddress] = []
    var consumer: LeaseConsumer?
    var numa: Int?
    var placement = "pack"
    var mac: MACAddress?
    var vlan: Int?
    var qos: Int?
    var trust: Bool?
    var spoofCheck: Bool?
    var minTxRate: UInt32?
    var maxTxRate: UInt32?
    var ttl: Int?
    var requestID: String?
    var deviceUser: String?
    var deviceGroup: String?
    var json = false
    var host = HostChoice()
    var configPath: String?
    var door = DoorChoice()

    /// What `LeaseAcquire.validate` checks (ArgumentParser validates `host`, an option group, by itself).
    func validate() throws {
        try door.check(host, configPath: configPath)
        guard Placement(rawValue: placement) != nil else {
            throw ValidationError("invalid --placement \(Quote.shell(placement)): use spread or pack")
        }
        if vlan == nil && qos != nil { throw ValidationError("--qos goes with --vlan") }
        do { try request.validate() } catch { throw ValidationError(error.message) }
    }

    var request: LeaseRequest {
        var settings = VFSettings()
        settings.mac = mac
        if let vlan { settings.vlan = try? VLAN(id: vlan, qos: qos ?? 0) }
        settings.trust = trust
        settings.spoofCheck = spoofCheck
        settings.minTxRate = minTxRate
        settings.maxTxRate = maxTxRate
        return LeaseRequest(pool: pool, owner: owner, count: count ?? (vfs.isEmpty ? 1 : vfs.count), numaNode: numa,
                            placement: Placement(rawValue: placement) ?? .pack, settings: settings, ttlSeconds: ttl,
                            requestID: requestID, consumer: consumer, vfs: vfs.isEmpty ? nil : vfs, deviceUser: deviceUser, deviceGroup: deviceGroup)
    }

    func run() async throws {
        try await ErrorReporting.run {
            let request = self.request
            let lease = try await door.using(host, configPath: configPath, discovery: .pooled) { door in try await door.acquire(request) }
            if json { try JSONOutput.print(LeaseDocument(lease)) } else {
                Output.line(LeaseText.summary(lease))
                Output.line("attach: `sriovctl lease show \(lease.id) --format libvirt|libvirt-interface|qemu|proxmox|cloud-hypervisor|dpdk`")
            }
        }
    }
}
