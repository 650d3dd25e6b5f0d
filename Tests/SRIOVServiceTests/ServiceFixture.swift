import SRIOVRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import SRIOVSimulator
import SRIOVTestSupport

/// A simulated host in a temp dir, the sample configuration (Config/sriovd.yaml), and an engine slot.
struct ServiceFixture {
    let dir: TempDirectory
    let sim: SimulatedHost
    let config: SRIOVConfig
    let slot = EngineSlot()

    init() throws {
        dir = try TempDirectory("svc")
        sim = try SimulatedHost.create(directory: dir.path + "/sim", spec: .standard())
        config = try SRIOVConfig.parse(yaml: EmbeddedConfig.simulatedHost, source: "Config/sriovd.yaml")
    }

    var host: LeaseEngine.Host { LeaseEngine.Host(source: sim, control: sim, link: sim, paths: sim.paths) }

    /// Starts the engine (replay + reconcile) and marks the slot ready.
    func start() async throws -> LeaseEngine {
        let engine = try await LeaseEngine.start(stateDirectory: dir.path + "/state", config: config, host: host, fsync: false)
        slot.setReady(engine, host: host)
        return engine
    }

    /// The router; its callers are root on the Unix socket unless `access` says otherwise (the
    /// in-memory test channel has no SO_PEERCRED, so the caller comes from `AccessControl`).
    func app(access: AccessControl = ServiceFixture.rootAccess()) -> some ApplicationProtocol {
        Application(router: APIRoutes.router(slot: slot, access: access))
    }

    /// The built-in policy, with every request coming from uid 0 (the `local-admin` tenant).
    static func rootAccess() -> AccessControl {
        let policy = AccessPolicy(access: nil, source: "test", daemonUID: 0)
        return AccessControl(policy: policy, unsocketedCaller: policy.caller(PeerCredentials(uid: 0, gid: 0, pid: 1), groups: [0]))
    }
}

extension ByteBuffer {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(readableBytesView))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: self) }
}

func jsonBody(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())
}
