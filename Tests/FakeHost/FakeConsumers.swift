import Synchronization
import SRIOVCore

/// Consumers in memory for the engine's tests: processes (pid -> start time), cgroups (path ->
/// populated) and running libvirt domains (UUIDs); a test starts, stops and reuses them at will.
public final class FakeConsumers: ConsumerProbe {
    struct State {
        var processes: [Int32: UInt64] = [:]
        var cgroups: [String: Bool] = [:]
        var domains: Set<String> = []
    }
    let state = Mutex(State())

    public init() {}

    public func startProcess(_ pid: Int32, startTime: UInt64) { state.withLock { $0.processes[pid] = startTime } }
    public func killProcess(_ pid: Int32) { _ = state.withLock { $0.processes.removeValue(forKey: pid) } }
    public func setCgroup(_ path: String, populated: Bool?) { state.withLock { $0.cgroups[path] = populated } }
    public func setDomain(_ uuid: String, running: Bool) {
        state.withLock { if running { $0.domains.insert(uuid) } else { $0.domains.remove(uuid) } }
    }

    public func processStartTime(_ pid: Int32) -> UInt64? { state.withLock { $0.processes[pid] } }

    public func presence(of consumer: LeaseConsumer) -> ConsumerPresence {
        state.withLock { s in
            switch consumer {
            case .pid(let pid, let start):
                guard let now = s.processes[pid] else { return .gone("process \(pid) does not exist") }
                return now == start ? .present : .gone("pid \(pid) reused")
            case .cgroup, .unit:
                for path in consumer.cgroupPaths {
                    if let populated = s.cgroups[path] { return populated ? .present : .gone("cgroup \(path) is empty") }
                }
                return .gone("no cgroup")
            case .libvirt(let uuid):
                return s.domains.contains(uuid) ? .present : .gone("domain \(uuid) not running")
            }
        }
    }
}
