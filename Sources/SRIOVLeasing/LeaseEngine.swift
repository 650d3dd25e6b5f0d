import Logging
import SRIOVConfig
import SRIOVCore
import SRIOVJournal

/// The lease engine: allocates, binds, releases and recovers VFs, journaling every step before it runs.
///
/// An actor: the book (in memory) changes only here, in journal order. Host operations run between
/// awaits; a VF is reserved in the book before the first await, so concurrent requests never pick it.
public actor LeaseEngine {
    public struct Host: Sendable {
        public var source: any HostInventorySource
        public var control: any PCIDeviceControl
        public var link: any VFLinkControl
        /// Whether leases' consumers still run (`LeaseConsumer`); a host without one cannot take
        /// leases that name a consumer.
        public var consumers: any ConsumerProbe
        /// `/dev/vfio/<group>` ownership, for requests that name the VM's user/group; nil: such requests
        /// are refused.
        public var nodes: (any VFIONodeControl)?

        public init(source: any HostInventorySource, control: any PCIDeviceControl, link: any VFLinkControl,
                    consumers: any ConsumerProbe = UnprobedConsumers(), nodes: (any VFIONodeControl)? = nil) {
            self.source = source
            self.control = control
            self.link = link
            self.consumers = consumers
            self.nodes = nodes
        }
    }

    let host: Host
    let config: SRIOVConfig
    /// Rebound to the host after a VF-count change (`setNumVFs`).
    public internal(set) var plan: PoolPlan
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    var book: LeaseBook
    /// Appends since the last snapshot; a snapshot is taken every `snapshotEvery`, or, by default,
    /// once the appends are 8 times the book's records if that is more (`snapshotDue`).
    var appendsSinceSnapshot = 0
    var snapshotEvery = 10_000
    var snapshotEveryIsFixed = false

    /// How many appends between automatic snapshots, exactly (default: 10,000, or 8 times the
    /// book's records if that is more).
    public func setSnapshotInterval(_ appends: Int) {
        snapshotEvery = max(1, appends)
        snapshotEveryIsFixed = true
    }

    /// A snapshot writes the whole book (with up to 12,500 audit records, about 2 MB); taking one
    /// only after 8 times its records keeps its cost per append constant, and start-up still replays
    /// at most that many records after it (100,000: about 0.2 s).
    var snapshotDue: Bool { appendsSinceSnapshot >= snapshotThreshold }

    /// Replaying the records after the snapshot would cost the next start more than decoding a new
    /// snapshot (and there are at least `LeaseEngine.longReplay`). A journal record costs start-up
    /// about what a lease or a quarantined VF in a snapshot costs, and about ten times an audit
    /// record there (30,000 records replayed took 0.4 s, a snapshot of the same book 0.04 s): audit
    /// records count an eighth. Counted whole, a book's audit trail (up to 10,000 records) let every
    /// `--direct` command replay that many records before one snapshotted, and its minimum of 64
    /// made each of a short series of commands replay ~30 (callgrind: 15% of a --direct lease cycle).
    var replayIsLong: Bool {
        appendsSinceSnapshot >= max(LeaseEngine.longReplay, book.audit.count / 8 + book.leases.count + book.quarantine.count)
    }
    static let longReplay = 8

    /// Appends after which a snapshot is due.
    var snapshotThreshold: Int {
        if snapshotEveryIsFixed { return snapshotEvery }
        return max(snapshotEvery, 8 * bookRecords)
    }

    /// The records a snapshot holds: audit records, leases and quarantined VFs.
    var bookRecords: Int { book.audit.count + book.leases.count + book.quarantine.count }
    /// Leases whose acquire or release is running in this process. When the last one ends, the host
    /// watch's batch waiting for quiet (`awaitNoOperations`) goes on.
    var busy = BusyLeases() {
        didSet {
            if busy.wantsPrune { busy.prune { book.lease($0) != nil } }
            if busy.isEmpty && !waiters.idle.isEmpty { resumeIdleWaiters() }
        }
    }
    /// Lease records this engine has numbered and is still waiting on (`record`, `recordWritten`). An
    /// automatic snapshot is taken only by the last of them, and `snapshot()` waits for 0. Since records
    /// are numbered and applied in one actor turn the book is exact at any turn, so this now only keeps
    /// snapshots to quiet moments.
    var inflight = 0
    /// The automatic snapshot being taken (`startSnapshot`), if one is.
    var snapshotTask: Task<Void, Never>?
    /// Callers parked until a lease settles or the journal is quiet (`EngineWaiting.swift`).
    var waiters = EngineWaiters()
    /// How many refused API calls each caller may write to the audit trail (`auditRefusal`).
    var refusalBudget = RefusalBudget()
    /// Where audit records go before compaction drops them from the journal.
    let archive: AuditArchive
    /// The engine's monotonic clock (injected; `ContinuousClock` by default): the inventory's age and
    /// every wait's timeout are measured on it.
    let uptime: Uptime
    /// The last full discovery, for allocation: refreshed in the background once older than
    /// `inventoryMaxAge`, patched in place after each VF this engine binds or unbinds, and every
    /// chosen VF is re-read before it is reserved. Replaced only through `installInventory`.
    private(set) var cachedInventory: (at: Duration, inventory: HostInventory)?
    /// The cached inventory's IOMMU groups by id, for the allocator (rebuilt with the inventory).
    var cachedGroups: [Int: IOMMUGroup]?
    /// Per pool, the allocator's index over the cached inventory (rebuilt with the inventory).
    var cachedPoolIndexes: [String: Allocator.PoolIndex] = [:]
    /// Where each VF sits in the cached inventory (built on the first patch).
    var cachedPositions: [PCIAddress: VFPosition] = [:]
    /// Bumped whenever the cached inventory is replaced or dropped: a background refresh that began
    /// before is discarded.
    var inventoryGeneration = 0
    /// A background rediscovery is running; patches made meanwhile are replayed onto its result.
    var refreshingInventory = false
    var patchesDuringRefresh: [DeviceStatus] = []
    /// The cached inventory is rediscovered in the background once it is this old: 5 minutes, or 50
    /// times the last discovery if that is longer. A full discovery of a host of thousands of VFs reads tens
    /// of thousands of sysfs entries and takes the directories' locks that driver binds need, so lease
    /// steps slow down while it runs; nothing depends on it for safety (chosen VFs are re-read before
    /// they are reserved, and a stale choice triggers a fresh discovery), only for the reasons a
    /// refused request lists about VFs changed by other tools.
    var inventoryMaxAge: Duration = .seconds(300)
    /// The drift last handled per leased VF (`LeaseEngineHostEvents.swift`): the same drift is not
    /// handled again on every later event. In memory only: after a restart it is handled once more.
    var lastDrift: [PCIAddress: [DriftChange]] = [:]
    /// Per lease with a consumer, when (wall clock) its consumer was first seen gone in the current
    /// unbroken run of "gone" probes (`LeaseConsumerReap.swift`). In memory: after a restart the grace
    /// starts again.
    var consumerGoneSince: [LeaseID: Double] = [:]
    /// How long a consumer must be seen gone, continuously, before its lease is taken back.
    var consumerGrace: Double = 30
    /// PF-side writes in flight (`LeaseEnginePF.swift`).
    var pfWrites = PFWrites()
    /// The pooled PFs' links as last read (`PFHealth.swift`).
    var pfLinks: [PCIAddress: PFLinkState] = [:]
    /// The last carrier and operstate each PF netdev's link events announced (`pfLinksChanged`): an
    /// event that announces the same again (a VF setting changed) needs no read of the PF's link.
    var announcedLinks: [InterfaceName: (carrier: Bool?, operState: LinkEvent.OperState?)] = [:]
    /// Bumped by every patch of a VF's status into the cached view (`patchCached`); `lastPatched`
    /// holds the value of each VF's last patch, so a status read off the actor before a lease step
    /// patched a newer one is not put over it (`observe`).
    /// How long a batch of host events waits for running lease steps to end (`observe`).
    var observeQuietWait: Duration = LeaseEngine.defaultObserveQuietWait
    var patchSerial: UInt64 = 0
    var lastPatched: [PCIAddress: UInt64] = [:]
    /// Lease and VF events for subscribers, fed by `record(_:)` (`EngineEvents.swift`).
    public nonisolated let eventFeed = EngineEvents()

    /// How much of the host the engine reads at start-up (`start(discovery:)`).
    public enum Discovery: Sendable {
        /// Every PCI device: what sriovd and every command that may touch any PF need.
        case wholeHost
        /// The devices of the configuration and of the book (`SRIOVConfig.discoveryScope`, the PFs of
        /// leased and quarantined VFs) with their IOMMU groups whole: for an in-process lease command
        /// (`sriovctl lease acquire|release --direct`), which allocates from and reconciles only
        /// those. Anything else it does that needs the whole host reads it then (whole devices, a
        /// stale choice, PF and VF writes, unquarantine).
        case pooled
    }

    /// Opens the state directory (taking its lock), replays the journal, and reconciles with the host.
    public static func start(stateDirectory: String, config: SRIOVConfig, host: Host, clock: any WallClock = SystemWallClock(),
                             monotonic: any Clock<Duration> = ContinuousClock(),
                             fsync: Bool = true, logger: Logger = Logger(label: "sriovd.leasing"),
                             reconcile: Bool = true, discovery: Discovery = .wholeHost) async throws(SRIOVError) -> LeaseEngine {
        // The state directory's lock first, then the host: the inventory that reconciliation compares
        // with the book is read while no other process can change either.
        let (journal, recovery) = try Journal.open(JournalOptions(directory: stateDirectory, fsync: fsync), logger: logger)
        if let torn = recovery.droppedTornTail {
            logger.warning("journal: dropped a torn last record", metadata: ["detail": "\(torn)"])
        }
        // The same decoding `sriovctl journal verify` runs (LeaseReplay), so it fails exactly when this does.
        // Before the host: a pooled discovery reads the PFs the book's leases hold too.
        var book: LeaseBook
        let inventory: HostInventory
        let plan: PoolPlan
        do throws(SRIOVError) {
            book = try LeaseReplay.book(recovery, directory: stateDirectory)
            (inventory, plan) = try discover(config: config, book: book, source: host.source, discovery: discovery)
        } catch {
            await journal.close()
            throw error
        }
        // New records are applied to the book in journal order, from the journal's next seq on.
        book.seq = max(book.seq, await journal.lastSeq)
        let engine = LeaseEngine(host: host, config: config, plan: plan, journal: journal, clock: clock, monotonic: monotonic,
                                 logger: logger, book: book, archive: AuditArchive(directory: stateDirectory, sync: fsync),
                                 replayed: recovery.entries.count)
        // Start-up's read of the host is the engine's cached view from the start: reconciliation and
        // reaping patch it as they change the host (or drop it when a step fails), as every lease step
        // does, so the PF-link check below and a first acquire (an in-process `sriovctl` command) do not
        // discover the host a second time.
        await engine.adoptInventory(inventory)
        if reconcile {
            _ = await engine.reconcile(using: inventory)
            _ = await engine.reapExpired()
            // The pooled PFs' links as they are now, so the first change after start-up is an event.
            await engine.refreshPFLinks()
        }
        return engine
    }

    /// Start-up's read of the host and the plan resolved against it. A pooled read that the
    /// configuration cannot be resolved against is done again whole, so a mistake in the configuration
    /// is reported exactly as against the whole host.
    static func discover(config: SRIOVConfig, book: LeaseBook, source: any HostInventorySource,
                         discovery: Discovery) throws(SRIOVError) -> (HostInventory, PoolPlan) {
        if discovery == .pooled, var scope = config.discoveryScope {
            for lease in book.leases.values {
                for vf in lease.vfs { scope.devices.insert(vf.pf) }
            }
            for vf in book.quarantine.keys { if let address = PCIAddress(vf) { scope.devices.insert(address) } }
            let inventory = try source.inventory(scope: scope)
            if let plan = try? config.resolve(against: inventory) { return (inventory, plan) }
        }
        let inventory = try source.inventory()
        return (inventory, try config.resolve(against: inventory))
    }

    init(host: Host, config: SRIOVConfig, plan: PoolPlan, journal: Journal, clock: any WallClock, monotonic: any Clock<Duration>,
         logger: Logger, book: LeaseBook, archive: AuditArchive, replayed: Int) {
        self.host = host
        self.archive = archive
        // The records replayed count towards the next snapshot: a daemon restarted more often than
        // a snapshot falls due would otherwise never compact (seen in Benchmarks/soak.py).
        self.appendsSinceSnapshot = replayed
        self.uptime = Uptime(monotonic)
        self.config = config
        self.plan = plan
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.book = book
    }

    /// Releases the state directory's lock. With `snapshottingLongReplay`, a snapshot is written
    /// first when the next start would replay more records than a snapshot holds (`replayIsLong`):
    /// start-up decodes every record after the snapshot, one by one, and the automatic snapshots of a
    /// long-running sriovd come only after 8 times the book's records, so a `--direct` command after
    /// a day of sriovd replayed tens of thousands of records (0.4 s of CPU for 30,000 on this
    /// project's VM, 0.04 s from a snapshot of the same book). sriovd's graceful stop, `sriovd
    /// apply` and every `--direct` command that succeeded ask for it; a failed snapshot is logged and
    /// changes nothing.
    public func close(snapshottingLongReplay: Bool = false) async {
        // An automatic snapshot in flight finishes first (its compaction holds the journal file).
        await awaitSnapshotTask()
        if snapshottingLongReplay, replayIsLong, journal.writeFailure == nil {
            do throws(SRIOVError) {
                guard await awaitQuiet(timeout: .seconds(5)) else {
                    throw SRIOVError(.busy, "lease operations still running")
                }
                try await writeSnapshot()
            } catch {
                logger.warning("journal: no snapshot at close; the next start replays the records after the last one",
                               metadata: ["records": "\(appendsSinceSnapshot)", "error": "\(error.message)"])
            }
        }
        // Records written but not yet fsync'd (`recordWritten`) go to disk before the lock is let go.
        do throws(SRIOVError) { try await journal.waitDurable(through: book.seq) } catch {
            logger.error("journal: queued records not flushed at close", metadata: ["error": "\(error.message)"])
        }
        // One a record finishing meanwhile started, too.
        await awaitSnapshotTask()
        await journal.close()
    }

    // MARK: Reading

    public func leases(owner: String? = nil) -> [Lease] {
        book.leases.values.filter { owner == nil || $0.owner == owner }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func lease(_ id: LeaseID) throws(SRIOVError) -> Lease {
        guard let lease = book.lease(id) else {
            throw SRIOVError(.notFound, "no lease \(id): it was released, expired, or never existed (`sriovctl lease list` shows the live ones)")
        }
        return lease
    }

    public var currentBook: LeaseBook { book }

    /// The quarantined VFs whose quarantine came from lease `id` (its release's failures): what a
    /// release answers with, read from the book (no host read, unlike `pools()`).
    public func quarantine(heldBy id: LeaseID) -> [String: Quarantine] {
        book.quarantine.filter { $0.value.lease == id }
    }

    /// Why the journal refuses to record (a failed write or fsync, e.g. ENOSPC), or nil: every step
    /// that changes something is refused until sriovd restarts, so the daemon is not ready.
    public nonisolated var journalFailure: SRIOVError? { journal.writeFailure }

    /// The journal's counters (appends, fsync batches, fsync time), for metrics and benchmarks.
    public var journalStatistics: JournalStatistics {
        get async { await journal.statistics }
    }

    public func pools() throws(SRIOVError) -> [PoolStatus] {
        let inventory = try host.source.inventory()
        let held = book.heldVFs
        var pfOf: [PCIAddress: PhysicalFunction] = [:]
        for pf in inventory.pfs {
            for vf in pf.vfs { pfOf[vf.pciAddress] = pf }
            // A whole device (`devices:` pool) is present when its function is.
            pfOf[pf.pciAddress] = pf
        }
        for function in inventory.functions { pfOf[function.pciAddress] = function.asPhysicalFunction }
        return plan.pools.keys.sorted().map { name in
            let vfs = plan.pools[name] ?? []
            let leased = vfs.filter { held[$0] != nil }.count
            let quarantined = vfs.filter { book.isQuarantined($0) && held[$0] == nil }.count
            let present = vfs.filter { pfOf[$0] != nil }.count
            let pfs = Set(vfs.compactMap { pfOf[$0]?.displayName }).sorted()
            return PoolStatus(name: name, total: vfs.count, free: max(0, present - leased - quarantined), leased: leased,
                              quarantined: quarantined, pfs: pfs, requireLink: (plan.config(of: name)?.requireLink ?? .up).rawValue,
                              pfLinks: poolPFLinks(vfs, pfOf: pfOf))
        }
    }

    // MARK: Host view

    /// The inventory to allocate from. A stale cache is still used while a rediscovery runs off the
    /// actor (a full discovery of thousands of VFs would stall every lease step); `fresh` reads the
    /// host now.
    func allocationInventory(fresh: Bool = false) throws(SRIOVError) -> HostInventory {
        let now = uptime.now
        if !fresh, let cached = cachedInventory {
            if now - cached.at >= inventoryMaxAge { refreshInventoryInBackground() }
            return cached.inventory
        }
        let inventory = try host.source.inventory()
        installInventory((now, inventory))
        return inventory
    }

    /// Takes an inventory read a moment ago (start-up's) as the cached view.
    func adoptInventory(_ inventory: HostInventory) {
        installInventory((uptime.now, inventory))
    }

    /// Replaces (or drops) the cached inventory and everything derived from it.
    func installInventory(_ value: (at: Duration, inventory: HostInventory)?) {
        cachedInventory = value
        cachedGroups = nil
        cachedPoolIndexes = [:]
        cachedPositions = [:]
        inventoryGeneration += 1
    }

    /// Drops the cached inventory: the next allocation reads the host.
    func invalidateInventory() {
        installInventory(nil)
    }

    private func refreshInventoryInBackground() {
        guard !refreshingInventory else { return }
        refreshingInventory = true
        patchesDuringRefresh = []
        let generation = inventoryGeneration
        let source = host.source
        let plan = self.plan
        let started = uptime.now
        Task {
            let result = await LeaseEngine.discover(source, plan: plan)
            self.finishRefresh(result, started: started, generation: generation)
        }
    }

    /// A fresh inventory with what the allocator derives from it (IOMMU groups, each pool's index,
    /// VF positions), so installing it costs the actor nothing on a host of thousands of VFs.
    struct Discovered: Sendable {
        var inventory: HostInventory
        var groups: [Int: IOMMUGroup]
        var poolIndexes: [String: Allocator.PoolIndex]
        var positions: [PCIAddress: VFPosition]
    }

    /// A full discovery and its indexes, off the actor.
    @concurrent
    nonisolated static func discover(_ source: any HostInventorySource, plan: PoolPlan) async -> Result<Discovered, SRIOVError> {
        // Thousands of blocking sysfs reads: on the host-step threads, not the cooperative pool.
        await HostStepThreads.run { () async -> Result<Discovered, SRIOVError> in
            do throws(SRIOVError) {
                let inventory = try source.inventory()
                let groups = Allocator.groupIndex(inventory)
                var indexes: [String: Allocator.PoolIndex] = [:]
                for pool in plan.pools.keys { indexes[pool] = Allocator(plan: plan).poolIndex(pool, inventory: inventory, groups: groups) }
                return .success(Discovered(inventory: inventory, groups: groups, poolIndexes: indexes,
                                           positions: LeaseEngine.positions(inventory)))
            } catch {
                return .failure(error)
            }
        }
    }

    func finishRefresh(_ result: Result<Discovered, SRIOVError>, started: Duration, generation: Int) {
        refreshingInventory = false
        inventoryMaxAge = max(.seconds(300), (uptime.now - started) * 50)
        let patches = patchesDuringRefresh
        patchesDuringRefresh = []
        // Dropped meanwhile (a failed step, a VF-count change): the next allocation reads afresh.
        guard generation == inventoryGeneration, case .success(let found) = result else { return }
        installInventory((started, found.inventory))
        cachedGroups = found.groups
        cachedPoolIndexes = found.poolIndexes
        cachedPositions = found.positions
        // What this engine changed while the discovery ran may not be in it.
        for status in patches { patchCached(status) }
    }

    /// Where each VF sits in `inventory` (PF and VF positions), for patching it in place.
    nonisolated static func positions(_ inventory: HostInventory) -> [PCIAddress: VFPosition] {
        var positions: [PCIAddress: VFPosition] = [:]
        for (p, pf) in inventory.pfs.enumerated() {
            for (v, vf) in pf.vfs.enumerated() { positions[vf.pciAddress] = VFPosition(pf: p, vf: v) }
        }
        return positions
    }

    /// The IOMMU groups of `inventory` (the cached one's are kept until it is refreshed).
    func allocationGroups(_ inventory: HostInventory) -> [Int: IOMMUGroup] {
        if let groups = cachedGroups { return groups }
        let groups = Allocator.groupIndex(inventory)
        if cachedInventory != nil { cachedGroups = groups }
        return groups
    }

    /// The allocator's index of `pool` over `inventory` (kept while `inventory` is the cached one).
    func allocationIndex(_ pool: String, _ inventory: HostInventory, groups: [Int: IOMMUGroup]) -> Allocator.PoolIndex {
        if let index = cachedPoolIndexes[pool] { return index }
        let index = Allocator(plan: plan).poolIndex(pool, inventory: inventory, groups: groups)
        if cachedInventory != nil { cachedPoolIndexes[pool] = index }
        return index
    }

    /// Re-reads one VF into the cached inventory after this engine changed its driver.
    func refreshCached(_ address: PCIAddress) {
        guard cachedInventory != nil else { return }
        guard let status = try? host.source.device(address) else {
            invalidateInventory()
            return
        }
        patchCached(status)
    }

    /// Puts a VF's status, just read, into the cached inventory (in place: no copy of its PF's VFs).
    func patchCached(_ status: DeviceStatus) {
        patchSerial &+= 1
        lastPatched[status.pciAddress] = patchSerial
        if refreshingInventory { patchesDuringRefresh.append(status) }
        guard let cached = cachedInventory else { return }
        if cachedPositions.isEmpty { cachedPositions = LeaseEngine.positions(cached.inventory) }
        guard let position = cachedPositions[status.pciAddress] else { return }
        let (p, v) = (position.pf, position.vf)
        cachedInventory?.inventory.pfs[p].vfs[v].driver = status.driver
        cachedInventory?.inventory.pfs[p].vfs[v].driverOverride = status.driverOverride
    }

    /// Changes the cached inventory in place (the host watcher's per-PF and per-device patches,
    /// `LeaseEngineHostEvents.swift`); the caller drops what it derived from the changed parts.
    func patchCachedInventory(_ body: (inout HostInventory) -> Void) {
        guard cachedInventory != nil else { return }
        body(&cachedInventory!.inventory)
    }

    // MARK: Journal

    /// Records an event durably, then applies it to the book.
    func record(_ event: LeaseEvent) async throws(SRIOVError) {
        try await record([event])
    }

    /// Records several events with one durable wait (consecutive in the journal), then applies them
    /// in order. Write-ahead still holds: every event is durable before the host step it announces.
    func record(_ events: [LeaseEvent]) async throws(SRIOVError) {
        guard !events.isEmpty else { return }
        inflight += 1
        defer { finishedRecording() }
        let last = try number(events)
        try await journal.waitDurable(through: last)
        guard snapshotDue else { return }
        // Preferably in a quiet moment; but under steady load there may be none (the soak saw 34,000
        // appends and no snapshot with 16 busy clients), so after `snapshotPatience` more appends it
        // is taken anyway: the book is exact at any actor turn. Its failure is not this record's:
        // the record is durable, so it is logged and the next append tries again.
        guard inflight == 1 || appendsSinceSnapshot >= snapshotThreshold + LeaseEngine.snapshotPatience else { return }
        startSnapshot()
    }

    /// Takes the automatic snapshot in a task of its own (on this actor), one at a time: the caller
    /// whose record made it due is answered once that record is durable, not after the audit trail is
    /// archived and the book (megabytes with a full trail) is encoded, written and fsync'd, and the
    /// journal compacted. Under `daemon-load` at 1,000 cycles/s that made one answer in ~100,000
    /// records take 43-58 ms. Its failure is logged; the next append that finds one due tries again.
    /// `close` and `snapshot()` wait for it (`awaitSnapshotTask`).
    func startSnapshot() {
        guard snapshotTask == nil else { return }
        snapshotTask = Task {
            do throws(SRIOVError) { try await writeSnapshot() } catch {
                logger.error("automatic snapshot failed; the journal keeps growing until one succeeds", metadata: ["error": "\(error.message)"])
            }
            snapshotTask = nil
        }
    }

    /// Returns once no automatic snapshot is being taken (one that a record finishing meanwhile
    /// started included).
    func awaitSnapshotTask() async {
        while let running = snapshotTask { await running.value }
    }

    /// Appends past a due snapshot after which it no longer waits for a quiet moment.
    static let snapshotPatience = 1_000

    /// Records events and returns once they are written to the journal file, without waiting for
    /// their fsync: for the intents of a lease cycle's host steps (`lease.reserved` with its steps,
    /// `lease.releasing`). Written records survive the process being killed, so recovery after a crash
    /// of sriovd finds them before any host step they announce. A power loss may take them, but it
    /// also takes what they announce (VF settings, driver bindings and VFs themselves do not survive a
    /// reboot), and it cannot take anything a caller was told: the answer to an acquire or release
    /// waits for the durable record at its end, and file order makes everything before it durable too.
    func recordWritten(_ events: [LeaseEvent]) async throws(SRIOVError) {
        guard !events.isEmpty else { return }
        inflight += 1
        defer { finishedRecording() }
        let last = try number(events)
        try await journal.waitWritten(through: last)
    }

    /// Queues the events in the journal (consecutive seqs) and applies them to the book, in the same
    /// actor turn: the book is always exactly the journal's records through `book.seq` (what a replay
    /// rebuilds). Returns the last seq.
    private func number(_ events: [LeaseEvent]) throws(SRIOVError) -> UInt64 {
        // `record` and `recordWritten` wait for these at once: no delayed flush for them.
        let last = try journal.appendQueued(encoded: events.map { (type: $0.type, json: $0.payloadJSON()) }, waitFollows: true)
        // Seqs are assigned only here, synchronously on the actor, so they follow the book's.
        assert(last - UInt64(events.count) == book.seq, "journal seq \(last) does not follow the book's \(book.seq)")
        let now = clock.now()
        for event in events {
            book.apply(event, at: now)
            book.seq += 1
            publish(event, seq: book.seq)
            resumeWaiters(after: event)
        }
        appendsSinceSnapshot += events.count
        return last
    }

    /// An audit record for `record(_:)`'s batch.
    func auditEvent(_ who: String?, _ action: String, _ target: String, _ result: String) -> LeaseEvent {
        .audit(AuditRecord(time: clock.now(), who: who ?? "unknown", action: action, target: target, result: result))
    }

    /// Writes the book as a snapshot and compacts the journal: start-up then reads only what follows.
    /// Waits until no lease record is in flight (`inflight`), up to 30 s on the engine's clock.
    public func snapshot() async throws(SRIOVError) {
        // After an automatic one in flight: the later snapshot covers the later seq.
        await awaitSnapshotTask()
        guard await awaitQuiet(timeout: .seconds(30)) else {
            throw SRIOVError(.busy, "cannot snapshot: lease operations kept the journal busy for 30 s; retry when it is quieter")
        }
        try await writeSnapshot()
    }

    /// The book is exact at any actor turn, so records may go on meanwhile: the snapshot is the book
    /// as of its first line, and the journal keeps every record after that seq.
    private func writeSnapshot() async throws(SRIOVError) {
        let book = self.book
        let seq = book.seq
        appendsSinceSnapshot = 0
        // Written records (`recordWritten`) may not be durable yet; the snapshot covers them only once they are.
        try await journal.waitDurable(through: seq)
        // Audit records trimmed from the book go to the archive (durably) before the snapshot lets the
        // compaction drop them from the journal. A crash after this and before the snapshot archives
        // them again next time; readers drop the duplicates.
        var snapshotBook = book
        if !book.unarchivedAudit.isEmpty {
            try await archive.append(book.unarchivedAudit)
            // Only what this snapshot archived leaves the book (another snapshot may have run meanwhile).
            if self.book.unarchivedAudit.starts(with: book.unarchivedAudit) {
                self.book.unarchivedAudit.removeFirst(book.unarchivedAudit.count)
            }
            snapshotBook.unarchivedAudit = []
        }
        // Encoded off the actor: lease steps go on meanwhile (the copy is the book as of `seq`).
        let data = await LeaseEngine.snapshotJSON(snapshotBook)
        try await journal.snapshot(seq: seq, data: data)
    }

    /// The book written as JSON on the background thread (`BackgroundWork`): with a full audit list
    /// that is megabytes, and on the cooperative pool it would hold a thread lease steps need.
    nonisolated static func snapshotJSON(_ book: LeaseBook) async -> [UInt8] {
        await BackgroundWork.run {
            var w = JSONWriter(capacity: 4096)
            book.writeJSON(&w)
            return w.bytes
        }
    }

    func audit(_ who: String?, _ action: String, _ target: String, _ result: String) async {
        let entry = AuditRecord(time: clock.now(), who: who ?? "unknown", action: action, target: target, result: result)
        do throws(SRIOVError) { try await record(.audit(entry)) } catch {
            logger.error("audit record not written", metadata: ["error": "\(error.message)"])
        }
    }

    /// The audit trail since `since` (inclusive), oldest first: the archive (records older than the
    /// book's latest 10,000, kept for good), the records trimmed since the last snapshot, then the
    /// book's own. An archive that cannot be read is logged and left out.
    public func auditLog(since: Double? = nil) async -> [AuditRecord] {
        let recent = book.unarchivedAudit + book.audit
        var archived: [AuditRecord] = []
        do throws(SRIOVError) { archived = try await archive.read(since: since) } catch {
            logger.error("audit archive not read", metadata: ["error": "\(error.message)"])
        }
        return AuditArchive.merge(archived: archived, recent: recent, since: since)
    }
}

/// A VF's place in an inventory: `pfs[pf].vfs[vf]`.
struct VFPosition: Sendable {
    var pf: Int
    var vf: Int
}
