import SRIOVConfig
import SRIOVCore
@testable import SRIOVService
import Synchronization
import Testing

/// SO_PEERCRED read once per connection, and the caller it maps to kept for the connection's requests.
@Suite("A kept-alive connection's identity")
struct ConnectionIdentityTests {
    @Test func theUserDatabaseIsAskedOncePerConnection() {
        let lookups = Mutex(0)
        // uid 1501 is in no tenant by uid: its groups decide (ops lists gid 2001).
        let control = AccessControl(policy: AccessPolicy(access: AccessPolicyTests.access, source: "test", daemonUID: 990),
                                    groups: { _, gid in lookups.withLock { $0 += 1 }; return [gid, 2001] })
        let connection = ConnectionIdentity(peer: PeerCredentials(uid: 1501, gid: 1501, pid: 7))
        for _ in 0..<3 {
            let caller = connection.caller(control, from: PeerCredentials(uid: 1501, gid: 1501, pid: 7))
            #expect(caller.description == "tenant ops (uid 1501 via gid 2001)")
        }
        #expect(lookups.withLock { $0 } == 1)
        // Another access control (another router) decides afresh.
        let other = AccessControl(policy: AccessPolicy(access: nil, source: "test", daemonUID: 990),
                                  groups: { _, gid in lookups.withLock { $0 += 1 }; return [gid] })
        #expect(connection.caller(other, from: PeerCredentials(uid: 1501, gid: 1501, pid: 7)).tenant == nil)
        #expect(connection.caller(control, from: PeerCredentials(uid: 1501, gid: 1501, pid: 7)).tenant?.name == "ops")
    }
}
