import Testing
import SRIOVConfig
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing

/// PF health in the allocator (`require_link`, `pf.down`/`pf.up`) and PF maintenance by drain, on the
/// in-memory host with `LeaseFixture`'s configuration: pool uplink is ens1f0 VFs 0-3 and ens4f0np0
/// VFs 0-3.
@Suite("PF health and drain")
struct PFHealthDrainTests {
    static let ens1f0 = InterfaceName("ens1f0")!
    static let ens4f0 = InterfaceName("ens4f0np0")!

    @Test func aPFWithoutCarrierIsLeftOutAndTheRefusalNamesIt() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        // Both up: only the carrier of the PF the choice takes from is read (no rediscovery, and
        // not every PF of the pool).
        let (before1, before4) = (f.fake.linkReads(Self.ens1f0), f.fake.linkReads(Self.ens4f0))
        let first = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-0"))
        #expect(first.vfs.map(\.pfInterface) == [Self.ens1f0])
        #expect(f.fake.linkReads(Self.ens1f0) == before1 + 1 && f.fake.linkReads(Self.ens4f0) == before4)
        _ = try await engine.release(first.id)

        f.fake.setLink(Self.ens1f0, up: false)
        let reads = f.fake.linkReads(Self.ens1f0)
        let placed = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        #expect(placed.vfs.map(\.pfInterface) == [Self.ens4f0], "placed on the PF that has carrier")
        // The first choice took ens1f0, whose carrier is gone: every PF of the pool is read and the
        // VF placed again (ens1f0 read twice, ens4f0 once).
        #expect(f.fake.linkReads(Self.ens1f0) == reads + 2)

        f.fake.setLink(Self.ens4f0, up: false)
        let refusal = await #expect(throws: SRIOVError.self) {
            try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2"))
        }
        #expect(refusal?.code == .busy)
        let message = refusal?.message ?? ""
        #expect(message.contains("7 on a PF with no carrier"), "\(message)")
        #expect(message.contains("pool uplink: 2 of 2 PFs have no carrier (ens1f0, ens4f0np0); plug them in"), "\(message)")
        #expect(message.contains("or set require_link: any on the pool"), "\(message)")

        f.fake.setLink(Self.ens1f0, up: true)
        let again = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2"))
        #expect(again.vfs.map(\.pfInterface) == [Self.ens1f0], "offered again once the link is back")
        let pools = try await engine.pools()
        let uplink = try #require(pools.first { $0.name == "uplink" })
        #expect(uplink.requireLink == "up")
        #expect(uplink.pfsWithoutCarrier == 1)
        #expect(uplink.pfLinks?.map(\.summary) == ["up", "no carrier"])
        await engine.close()
    }

    @Test func requireLinkAnyOffersVFsOfAPFWithoutCarrier() async throws {
        let yaml = LeaseFixture.yaml.replacingOccurrences(of: "  - name: uplink\n", with: "  - name: uplink\n    require_link: any\n")
        let f = try LeaseFixture(yaml: yaml)
        #expect(f.config.pools.first { $0.name == "uplink" }?.requireLink == .any)
        let engine = try await f.engine()
        f.fake.setLink(Self.ens1f0, up: false)
        f.fake.setLink(Self.ens4f0, up: false)
        let reads = f.fake.linkReads(Self.ens1f0)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        #expect(lease.vfs.count == 1)
        #expect(f.fake.linkReads(Self.ens1f0) == reads, "require_link: any reads no carrier")
        await engine.close()
    }

    @Test func linkChangesAreEventsNamingTheLeases() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        let subscription = engine.eventFeed.subscribe()
        // The first read only remembers each PF.
        #expect(await engine.refreshPFLinks().isEmpty)
        f.fake.setLink(pf, up: false)
        let down = await engine.refreshPFLinks()
        #expect(down.map(\.interface) == [pf.name])
        #expect(down.first?.leases == [lease.id.value])
        #expect(down.first?.carrier == false)
        #expect(await engine.refreshPFLinks().isEmpty, "no change, no event")
        // What a kernel link event calls: by netdev or by PCI address.
        #expect(await engine.pfLinkChanged(pf.name) == nil)
        f.fake.setLink(pf, up: true)
        let up = await engine.pfLinkChanged(lease.vfs[0].pf.description)
        #expect(up?.carrier == true)
        #expect(up?.leases == [lease.id.value])
        var kinds: [EngineEvent.Kind] = []
        for await event in subscription.events {
            kinds.append(event.kind)
            if case .pfLink(let record) = event.payload { #expect(record.leases == [lease.id.value]) }
            if kinds.count == 2 { break }
        }
        #expect(kinds == [.pfDown, .pfUp])
        await engine.close()
    }

    @Test func aKernelLinkEventReachesPFHealthWithoutWaitingForTheReaper() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        #expect(await engine.refreshPFLinks().isEmpty, "the first read only remembers each PF")
        let subscription = engine.eventFeed.subscribe()
        _ = f.fake.takeAnnounced()
        f.fake.setLink(pf, up: false)
        // The batch the host watcher would hand over: the PF's RTM_NEWLINK with carrier off.
        _ = await engine.observe(HostEventBatch(f.fake.takeAnnounced()))
        for await event in subscription.events {
            guard case .pfLink(let record) = event.payload else { continue }
            #expect(event.kind == .pfDown && record.interface == pf.name && record.leases == [lease.id.value])
            break
        }
        #expect(await engine.refreshPFLinks().isEmpty, "the event already took the change in")
        await engine.close()
    }

    @Test func drainWaitsForTheReleaseThenTheVFCountChangesWithoutForce() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        let subscription = engine.eventFeed.subscribe()
        let drain = Task { try await engine.drainPF(pf.name, deadline: .seconds(600), evict: false, requestedBy: "ops") }
        var draining: EngineEvent?
        for await event in subscription.events where event.kind == .pfDraining {
            draining = event
            break
        }
        guard case .pfDrain(let record)? = draining?.payload else {
            Issue.record("no pf.draining event")
            return
        }
        #expect(record.leases == [lease.id.value])
        #expect(record.interface == pf.name)
        // No new lease on the draining PF: the next one goes to the other PF of the pool.
        let other = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2"))
        #expect(other.vfs.allSatisfy { $0.pfInterface != pf })
        _ = try await engine.release(lease.id, requestedBy: "vm-1")
        let status = try await drain.value
        #expect(status.state == .drained)
        #expect(status.evicted.isEmpty)
        // Drained: a VF-count change needs no --force.
        let changed = try await engine.setNumVFs(pf: pf.name, to: 6, autoprobe: false, force: false, requestedBy: "ops")
        #expect(changed.after == 6)
        #expect(await engine.drainingPFs[lease.vfs[0].pf.description] != nil, "it stays draining until undrain")
        let back = try await engine.undrainPF(pf.name, requestedBy: "ops")
        #expect(back.state == .inService)
        #expect(await engine.drainingPFs.isEmpty)
        let audit = await engine.auditLog().filter { $0.action.hasPrefix("pf.") && $0.action != "pf.set-numvfs" }
        #expect(audit.map(\.action) == ["pf.drain", "pf.drain", "pf.undrain"])
        #expect(audit.map(\.result).dropFirst().first == "drained")
        await engine.close()
    }

    @Test func atTheDeadlineADrainIsRefusedNamingTheLeases() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        let refusal = await #expect(throws: SRIOVError.self) {
            try await engine.drainPF(pf.name, deadline: .zero, evict: false, requestedBy: "ops")
        }
        #expect(refusal?.code == .busy)
        let message = refusal?.message ?? ""
        #expect(message.contains("the drain's deadline passed with lease \(lease.id) (owner vm-1) still on it; the PF stays draining"), "\(message)")
        #expect(message.contains("--evict"), "\(message)")
        #expect(try await engine.lease(lease.id).state == .active, "a refused drain releases nothing")
        #expect(await engine.auditLog().last?.result == "refused: deadline passed with 1 lease on it")
        await engine.close()
    }

    @Test func evictReleasesWhatIsLeftAtTheDeadline() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        let status = try await engine.drainPF(pf.name, deadline: .zero, evict: true, requestedBy: "ops")
        #expect(status.state == .drained)
        #expect(status.evicted == [lease.id.value])
        #expect(await engine.leases().isEmpty)
        let audit = await engine.auditLog()
        #expect(audit.contains { $0.action == "lease.evict" && $0.target.hasPrefix("\(lease.id)") })
        #expect(audit.last?.action == "pf.drain")
        #expect(audit.last?.result == "drained: evicted \(lease.id)")
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test func anUndrainEndsAWaitingDrain() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        let subscription = engine.eventFeed.subscribe()
        let drain = Task { try await engine.drainPF(pf.name, deadline: .seconds(600), evict: false, requestedBy: "ops") }
        for await event in subscription.events where event.kind == .pfDraining { break }
        #expect(try await engine.undrainPF(pf.name, requestedBy: "ops").state == .inService)
        let ended = await #expect(throws: SRIOVError.self) { try await drain.value }
        #expect(ended?.message.contains("the drain was ended (`pf undrain`) while waiting for lease \(lease.id)") == true, "\(ended?.message ?? "")")
        #expect(try await engine.lease(lease.id).state == .active)
        await engine.close()
    }

    @Test(arguments: [false, true])
    func aRestartMidDrainGoesOnDraining(snapshot: Bool) async throws {
        let f = try LeaseFixture()
        var engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        // The drain is journaled before the wait: a crash while waiting leaves exactly this.
        await #expect(throws: SRIOVError.self) {
            try await engine.drainPF(pf.name, deadline: .zero, evict: false, requestedBy: "ops")
        }
        if snapshot { try await engine.snapshot() }
        await engine.close()

        engine = try await f.engine()
        let key = lease.vfs[0].pf.description
        #expect(await engine.drainingPFs[key]?.leases == [lease.id.value])
        // Seven VFs of the pool are free, but only the other PF's four may be leased.
        let refusal = await #expect(throws: SRIOVError.self) {
            try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2", count: 5))
        }
        #expect(refusal?.message.contains("3 on a draining PF") == true, "\(refusal?.message ?? "")")
        #expect(refusal?.message.contains("pool uplink: 1 of 2 PFs is draining (\(pf.name)); `sriovctl pf undrain <pf>` returns it to service") == true,
                "\(refusal?.message ?? "")")
        _ = try await engine.release(lease.id, requestedBy: "vm-1")
        #expect(try await engine.drainPF(pf.name, deadline: .zero, evict: false, requestedBy: "ops").state == .drained)
        _ = try await engine.undrainPF(pf.name, requestedBy: "ops")
        #expect(try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2", count: 5)).vfs.count == 5)
        await engine.close()
    }
}
