import Testing
import SRIOVCore
import SRIOVLeasing
import SRIOVTestSupport

/// 64 concurrent requesters, 10,000 random acquire/release/renew operations: the invariants hold
/// throughout, and the journal replays to exactly the final state.
@Suite("Concurrency stress")
struct StressTests {

    struct Tally: Sendable {
        var acquired = 0, released = 0, renewed = 0, refused = 0
        var unexpected: [String] = []
    }

    @Test func sixtyFourRequestersTenThousandOperations() async throws {
        let f = try LeaseFixture(yaml: """
            pools:
              - name: uplink
                selectors: [{vfs: "ens1f0#0-7"}, {vfs: "ens4f0np0#0-3"}]
              - name: open
                selectors: [{pf: ens1f1, range: 0-7}]
                policy: {allow_trust: true}
                on_release: rebind-host-driver
            """)
        let engine = try await f.engine()
        // Snapshots and compactions happen while requests run (the replay check below covers them).
        await engine.setSnapshotInterval(500)
        let requesters = 64
        let total = 10_000
        let tallies = await withTaskGroup(of: Tally.self) { group in
            for r in 0..<requesters {
                group.addTask {
                    var rng = SplitMix(seed: UInt64(r) &* 7919)
                    var tally = Tally()
                    var mine: [LeaseID] = []
                    for _ in 0..<(total / requesters) {
                        let roll = Int.random(in: 0..<10, using: &rng)
                        do {
                            if roll < 5 || mine.isEmpty {
                                let pool = Bool.random(using: &rng) ? "uplink" : "open"
                                let count = Int.random(in: 1...2, using: &rng)
                                let lease = try await engine.acquire(LeaseRequest(
                                    pool: pool, owner: "vm-\(r)", count: count,
                                    placement: Bool.random(using: &rng) ? .spread : .pack, ttlSeconds: 3600,
                                    requestID: Int.random(in: 0..<4, using: &rng) == 0 ? "r\(r)-\(tally.acquired)" : nil))
                                if !mine.contains(lease.id) { mine.append(lease.id) }
                                tally.acquired += 1
                            } else if roll < 9 {
                                let id = mine.remove(at: Int.random(in: 0..<mine.count, using: &rng))
                                _ = try await engine.release(id)
                                tally.released += 1
                            } else {
                                _ = try await engine.renew(mine[Int.random(in: 0..<mine.count, using: &rng)])
                                tally.renewed += 1
                            }
                        } catch let error as SRIOVError where error.code == .busy {
                            tally.refused += 1 // pool exhausted: expected under contention
                        } catch {
                            tally.unexpected.append("\(error)")
                        }
                    }
                    return tally
                }
            }
            var all: [Tally] = []
            for await t in group { all.append(t) }
            return all
        }
        let unexpected = tallies.flatMap(\.unexpected)
        #expect(unexpected.isEmpty, "\(unexpected.prefix(5))")
        let acquired = tallies.reduce(0) { $0 + $1.acquired }
        let released = tallies.reduce(0) { $0 + $1.released }
        let renewed = tallies.reduce(0) { $0 + $1.renewed }
        let refused = tallies.reduce(0) { $0 + $1.refused }
        // Every operation ran and ended in a success or an expected refusal (20 VFs for 64 requesters).
        #expect(acquired + released + renewed + refused + unexpected.count == requesters * (total / requesters))
        #expect(acquired > 200 && released > 100 && renewed > 20, "acquired \(acquired), released \(released), renewed \(renewed), refused \(refused)")
        #expect(try await f.invariants(engine).isEmpty)
        let final = await engine.currentBook
        await engine.close()
        let replayed = try await f.engine(reconcile: false)
        #expect(await replayed.currentBook == final)
        #expect(try await f.invariants(replayed).isEmpty)
    }
}
