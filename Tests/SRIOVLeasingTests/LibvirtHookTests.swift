import Foundation
import Testing
import SRIOVAPI
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing

/// `sriovctl libvirt-hook`'s decisions and its prepare / release paths, with the fixture domain XMLs
/// in Tests/Fixtures/libvirt, against the engine on the fake host (through the same front door).
@Suite("libvirt hook")
struct LibvirtHookTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/libvirt")
    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }
    static let uuid = "6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10"

    func engine(_ f: LeaseFixture) async throws -> (LeaseEngine, FakeConsumers) {
        var host = f.host
        let consumers = FakeConsumers()
        host.consumers = consumers
        return (try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config, host: host, clock: f.clock, fsync: false), consumers)
    }

    @Test func domainXMLBecomesTheRequest() throws {
        let request = try #require(try LibvirtHook.request(fromDomainXML: try Self.fixture("domain-with-lease.xml")))
        #expect(request.pool == "uplink" && request.owner == "vnf-1")
        #expect(request.vfs == [PCIAddress("0000:3b:02.0")!, PCIAddress("0000:3b:02.2")!], "the managed='no' hostdev and hostdev interface, not the managed one")
        #expect(request.count == 2 && request.settings.vlan?.id == 100)
        #expect(request.requestID == "libvirt-\(Self.uuid)" && request.consumer == .libvirt(uuid: Self.uuid))
    }

    @Test func prepareRetriedPrepareReleaseRetriedRelease() async throws {
        let f = try LeaseFixture()
        let (engine, _) = try await engine(f)
        let door = LocalFrontDoor(engine: engine, caller: "libvirt-hook")
        let xml = try Self.fixture("domain-with-lease.xml")
        let prepare = try LibvirtHook.action(arguments: ["vnf&1", "prepare", "begin", "-"], domainXML: xml)
        guard case .acquire = prepare else { Issue.record("prepare begin acquires: \(prepare)"); return }
        _ = try await LibvirtHook.run(prepare, door: door)
        let leases = await engine.leases()
        #expect(leases.count == 1)
        let lease = try #require(leases.first)
        #expect(lease.vfs.map(\.pciAddress) == [PCIAddress("0000:3b:02.0")!, PCIAddress("0000:3b:02.2")!])
        for vf in lease.vfs { #expect(try f.vf(vf.pciAddress).driver == "vfio-pci") }
        // libvirt retries the start (or the hook ran twice): the same lease, nothing more.
        _ = try await LibvirtHook.run(try LibvirtHook.action(arguments: ["vnf&1", "prepare", "begin", "-"], domainXML: xml), door: door)
        #expect(await engine.leases().map(\.id) == [lease.id])

        let release = try LibvirtHook.action(arguments: ["vnf&1", "release", "end", "-"], domainXML: xml)
        #expect(release == .release(requestID: "libvirt-\(Self.uuid)"))
        let said = try await LibvirtHook.run(release, door: door)
        #expect(said.contains(lease.id.description))
        #expect(await engine.leases().isEmpty)
        for vf in lease.vfs { #expect(try f.vf(vf.pciAddress).driver != "vfio-pci", "scrubbed and off vfio-pci") }
        // A second release end (libvirt calls it again after a failed start): success, nothing to do.
        let again = try await LibvirtHook.run(release, door: door)
        #expect(again.contains("nothing to release"))
        #expect(try await f.invariants(engine).isEmpty)
        await engine.close()
    }

    @Test func prepareThatCannotLeaseFailsAndLeavesNothing() async throws {
        let f = try LeaseFixture()
        let (engine, _) = try await engine(f)
        let door = LocalFrontDoor(engine: engine, caller: "libvirt-hook")
        let other = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "someone", vfs: [PCIAddress("0000:3b:02.2")!]))
        let action = try LibvirtHook.action(arguments: ["vnf&1", "prepare", "begin", "-"], domainXML: try Self.fixture("domain-with-lease.xml"))
        await #expect {
            try await LibvirtHook.run(action, door: door)
        } throws: { error in
            let m = (error as? SRIOVError)?.message ?? ""
            return m.hasPrefix("sriovd cannot lease the domain's VFs from pool uplink") && m.contains("0000:3b:02.2 is leased (lease \(other.id))")
        }
        #expect(await engine.leases().map(\.id) == [other.id], "no half-made lease")
        #expect(try f.vf(PCIAddress("0000:3b:02.0")!).driver != "vfio-pci")
        await engine.close()
    }

    @Test func migrateAndOtherOperationsDoNothing() throws {
        let xml = try Self.fixture("domain-with-lease.xml")
        for (op, sub) in [("migrate", "begin"), ("start", "begin"), ("started", "begin"), ("stopped", "end"), ("prepare", "end"),
                          ("release", "begin"), ("restore", "begin"), ("reconnect", "begin"), ("attach", "begin")] {
            guard case .ignore = try LibvirtHook.action(arguments: ["vnf&1", op, sub, "-"], domainXML: xml) else {
                Issue.record("\(op) \(sub) must do nothing")
                continue
            }
        }
    }

    @Test func domainWithoutMetadataIsIgnoredWithoutParsing() throws {
        let xml = try Self.fixture("domain-without-metadata.xml")
        #expect(try LibvirtHook.action(arguments: ["plain", "prepare", "begin", "-"], domainXML: xml) == .ignore("domain plain has no sriovd metadata"))
        // Not even well-formed: without our namespace it is never parsed.
        #expect(try LibvirtHook.action(arguments: ["x", "prepare", "begin", "-"], domainXML: "<domain><oops") == .ignore("domain x has no sriovd metadata"))
    }

    @Test func malformedMetadataIsAClearError() throws {
        #expect {
            try LibvirtHook.action(arguments: ["broken", "prepare", "begin", "-"], domainXML: try Self.fixture("domain-malformed-metadata.xml"))
        } throws: { error in
            (error as? SRIOVError)?.message.contains("unknown attribute vlna on <sriovd:lease>") == true
        }
        let base = try Self.fixture("domain-with-lease.xml")
        let cases: [(String, String)] = [
            (base.replacingOccurrences(of: "pool=\"uplink\" ", with: ""), "needs pool="),
            (base.replacingOccurrences(of: "vlan=\"100\"", with: "vlan=\"5000\""), "<sriovd:lease>:"),
            (base.replacingOccurrences(of: "</metadata>", with: ""), "malformed XML"),
            (base.replacingOccurrences(of: "vnf&amp;1", with: "vnf&nbsp;1"), "undefined entity"),
            (base.replacingOccurrences(of: "xmlns:sriovd=\"urn:sriovd:libvirt:1\" ", with: "") + "<!-- urn:sriovd:libvirt:1 -->", "undefined namespace prefix sriovd"),
            (base.replacingOccurrences(of: "managed='no'", with: "managed='yes'"), "has no <hostdev"),
            (base.replacingOccurrences(of: "slot='0x02'", with: "slot='0x40'"), "invalid slot='0x40'"),
            ("<!DOCTYPE domain [<!ENTITY x 'urn:sriovd:libvirt:1'>]><domain/>", "document type declaration"),
        ]
        for (xml, expected) in cases {
            #expect {
                try LibvirtHook.action(arguments: ["vnf", "prepare", "begin", "-"], domainXML: xml)
            } throws: { error in
                (error as? SRIOVError)?.message.contains(expected) == true
            }
        }
    }

    @Test func miniXMLEntitiesNamespacesAndStrictness() throws {
        let doc = try MiniXML.parse("""
            <?xml version='1.0'?><!-- c --><a xmlns='urn:d' xmlns:p="urn:p" x='1 &lt; 2 &amp; &#x41;&#66;'>t&gt;<p:b y="&quot;q&apos;"/><c><![CDATA[<raw>]]></c></a>
            """)
        #expect(doc.namespace == "urn:d" && doc.attributes["x"] == "1 < 2 & AB" && doc.text == "t>")
        let b = try #require(doc.child("b", namespace: "urn:p"))
        #expect(b.name == "p:b" && b.attributes["y"] == "\"q'")
        #expect(doc.child("c", namespace: "urn:d")?.text == "<raw>")
        for bad in ["<a>", "<a></b>", "<a x='1' x='2'/>", "<a x='<'/>", "<a/><b/>", "text<a/>", "<a>&bogus;</a>", "<q:a/>", "<a x=1/>", "<a>&#0;</a>"] {
            #expect(throws: SRIOVError.self, "\(bad)") { try MiniXML.parse(bad) }
        }
    }
}
