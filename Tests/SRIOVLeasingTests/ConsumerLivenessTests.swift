import Testing
import SRIOVConfig
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing
import SRIOVTestSupport

/// Leases that name their consumer: reclaimed (scrub, audit, `lease.reclaimed`) once the consumer is
/// gone, without a break, for the grace period; leases without one keep their TTL rules.
@Suite("Consumer liveness")
struct ConsumerLivenessTests {
    let f: LeaseFixture
    let consumers = FakeConsumers()

    init() throws { f = try LeaseFixture() }

    func engine() async throws -> LeaseEngine {
        var host = f.host
        host.consumers = consumers
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config, host: host, clock: f.clock, fsync: false)
        await engine.setConsumerGrace(seconds: 30)
        return engine
    }

    func acquire(_ engine: LeaseEngine, _ consumer: LeaseConsumer) async throws -> Lease {
        try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", consumer: consumer))
    }

    /// The consumer is gone: nothing before the grace, the lease reclaimed after it, scrubbed and audited.
    func expectReclaimedAfterGrace(_ engine: LeaseEngine, _ lease: Lease) async throws {
        let releasedBefore = engine.eventFeed.count(.leaseReleased)
        #expect(await engine.reapGoneConsumers().isEmpty, "first seen gone: the grace starts")
        f.clock.advance(29)
        #expect(await engine.reapGoneConsumers().isEmpty, "29 s of 30")
        f.clock.advance(1)
        #expect(await engine.reapGoneConsumers() == [lease.id])
        #expect(await engine.leases().isEmpty)
        let vf = try f.vf(lease.vfs[0].pciAddress)
        #expect(vf.driver != "vfio-pci" && vf.driverOverride == nil, "released the normal way: off vfio-pci")
        #expect(try await f.state(lease.vfs[0]).mac == .zero, "scrubbed")
        #expect(engine.eventFeed.count(.leaseReclaimed) == 1 && engine.eventFeed.count(.leaseReleased) == releasedBefore)
        let audit = try #require(await engine.currentBook.audit.last { $0.action == "lease.reclaim" })
        #expect(audit.target.contains(lease.id.description) && audit.target.contains("consumer") && audit.result.hasPrefix("reclaimed"))
        #expect(try await f.invariants(engine).isEmpty)
    }

    @Test func pidWithoutStartTimeIsReadAtAcquireAndReclaimedWhenKilled() async throws {
        consumers.startProcess(4242, startTime: 777)
        let engine = try await engine()
        let lease = try await acquire(engine, .pid(4242, startTime: nil))
        #expect(lease.request.consumer == .pid(4242, startTime: 777), "sriovd stores the start time it read")
        #expect(await engine.reapGoneConsumers().isEmpty, "running: kept")
        f.clock.advance(3600)
        #expect(await engine.reapGoneConsumers().isEmpty, "still running after an hour: kept")
        consumers.killProcess(4242)
        try await expectReclaimedAfterGrace(engine, lease)
        await engine.close()
    }

    @Test func reusedPidIsGone() async throws {
        consumers.startProcess(4242, startTime: 777)
        let engine = try await engine()
        let lease = try await acquire(engine, .pid(4242, startTime: 777))
        // The QEMU exits and an unrelated process gets the same pid.
        consumers.startProcess(4242, startTime: 99_999)
        try await expectReclaimedAfterGrace(engine, lease)
        await engine.close()
    }

    @Test func pidThatDoesNotExistOrWasReusedIsRefusedAtAcquire() async throws {
        let engine = try await engine()
        await #expect { try await acquire(engine, .pid(5150, startTime: nil)) } throws: { error in
            (error as? SRIOVError)?.code == .notFound && (error as? SRIOVError)?.message.contains("no such process") == true
        }
        consumers.startProcess(5150, startTime: 10)
        await #expect { try await acquire(engine, .pid(5150, startTime: 11)) } throws: { error in
            (error as? SRIOVError)?.message.contains("reused") == true
        }
        #expect(await engine.leases().isEmpty, "a refused consumer reserves nothing")
        await engine.close()
    }

    @Test func consumerBackWithinTheGraceIsNotReclaimed() async throws {
        consumers.setDomain("6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10", running: true)
        let engine = try await engine()
        let lease = try await acquire(engine, .libvirt(uuid: "6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10"))
        consumers.setDomain("6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10", running: false)
        #expect(await engine.reapGoneConsumers().isEmpty)
        f.clock.advance(20)
        #expect(await engine.reapGoneConsumers().isEmpty)
        consumers.setDomain("6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10", running: true)
        f.clock.advance(20)
        #expect(await engine.reapGoneConsumers().isEmpty, "seen again: the grace starts over")
        consumers.setDomain("6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10", running: false)
        f.clock.advance(1)
        #expect(await engine.reapGoneConsumers().isEmpty, "40 s since first gone, but only 0 s in this run")
        f.clock.advance(29)
        #expect(await engine.reapGoneConsumers().isEmpty, "29 s in this run")
        f.clock.advance(1)
        #expect(await engine.reapGoneConsumers() == [lease.id])
        await engine.close()
    }

    @Test func libvirtDomainGone() async throws {
        consumers.setDomain("0a0b0c0d-0000-4000-8000-000000000001", running: true)
        let engine = try await engine()
        let lease = try await acquire(engine, .libvirt(uuid: "0a0b0c0d-0000-4000-8000-000000000001"))
        consumers.setDomain("0a0b0c0d-0000-4000-8000-000000000001", running: false)
        try await expectReclaimedAfterGrace(engine, lease)
        await engine.close()
    }

    @Test func cgroupEmptied() async throws {
        consumers.setCgroup("/machine.slice/vm1.scope", populated: true)
        let engine = try await engine()
        let lease = try await acquire(engine, .cgroup("/machine.slice/vm1.scope"))
        #expect(await engine.reapGoneConsumers().isEmpty)
        consumers.setCgroup("/machine.slice/vm1.scope", populated: false)
        try await expectReclaimedAfterGrace(engine, lease)
        await engine.close()
    }

    @Test func unitStopped() async throws {
        consumers.setCgroup("/system.slice/qemu-vm1.service", populated: true)
        let engine = try await engine()
        let lease = try await acquire(engine, .unit("qemu-vm1.service"))
        #expect(await engine.reapGoneConsumers().isEmpty)
        consumers.setCgroup("/system.slice/qemu-vm1.service", populated: nil)
        try await expectReclaimedAfterGrace(engine, lease)
        await engine.close()
    }

    @Test func leaseWithoutConsumerKeepsItsTTLRules() async throws {
        let engine = try await engine()
        let plain = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm2"))
        let timed = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm3", ttlSeconds: 60))
        f.clock.advance(3600)
        #expect(await engine.reapGoneConsumers().isEmpty)
        #expect(await engine.reapExpired() == [timed.id])
        #expect(await engine.leases().map(\.id) == [plain.id])
        await engine.close()
    }

    @Test func consumerSurvivesARestartInTheJournal() async throws {
        consumers.startProcess(31337, startTime: 5)
        var engine = try await engine()
        let lease = try await acquire(engine, .pid(31337, startTime: nil))
        await engine.close()
        engine = try await self.engine()
        let replayed = try await engine.lease(lease.id)
        #expect(replayed.request.consumer == .pid(31337, startTime: 5))
        #expect(await engine.reapGoneConsumers().isEmpty, "still running after the restart")
        // A retry of the request (the pid without its start time) is the same request.
        let again = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", requestID: nil, consumer: .pid(31337, startTime: nil)))
        #expect(again.id != lease.id, "without a request id a retry is a new lease")
        _ = try await engine.release(again.id)
        consumers.killProcess(31337)
        try await expectReclaimedAfterGrace(engine, lease)
        await engine.close()
    }

    @Test func retryWithTheSameRequestIDMatchesTheResolvedPid() async throws {
        consumers.startProcess(808, startTime: 42)
        let engine = try await engine()
        let first = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", requestID: "r-808", consumer: .pid(808, startTime: nil)))
        let retry = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", requestID: "r-808", consumer: .pid(808, startTime: nil)))
        #expect(retry.id == first.id)
        await #expect { try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", requestID: "r-808", consumer: .pid(809, startTime: nil))) } throws: { error in
            (error as? SRIOVError)?.message.contains("different request") == true
        }
        await engine.close()
    }

    @Test func hostWithoutAProbeRefusesConsumers() async throws {
        let engine = try await f.engine()
        await #expect { try await acquire(engine, .unit("a.service")) } throws: { error in
            (error as? SRIOVError)?.code == .unsupported
        }
        await engine.close()
    }

    @Test func consumerSyntax() throws {
        #expect(try LeaseConsumer(parsing: "libvirt:6F1C2E1A-8B4D-4C3E-9A7B-0D2E4F6A8B10") == .libvirt(uuid: "6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10"))
        #expect(try LeaseConsumer(parsing: "pid:12@345") == .pid(12, startTime: 345))
        #expect(try LeaseConsumer(parsing: "pid:12") == .pid(12, startTime: nil))
        #expect(try LeaseConsumer(parsing: "cgroup:/machine.slice/vm1.scope").description == "cgroup:/machine.slice/vm1.scope")
        #expect(try LeaseConsumer(parsing: "unit:qemu@vm1.service") == .unit("qemu@vm1.service"))
        for bad in ["vm1", "libvirt:nope", "pid:0", "pid:-3", "pid:12@", "pid:12@x", "cgroup:relative", "cgroup:/a/../b", "cgroup:/a b",
                    "unit:foo", "unit:../x.service", "docker:abc"] {
            #expect(throws: SRIOVError.self, "\(bad)") { try LeaseConsumer(parsing: bad) }
        }
    }
}
