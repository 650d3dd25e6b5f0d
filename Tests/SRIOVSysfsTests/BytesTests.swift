import Foundation
import SRIOVSysfs
import Testing

/// The byte scanners that replaced `String` searches and splits in discovery's procfs reading.
@Suite("Byte scanning of procfs text")
struct BytesTests {
    @Test("contains", arguments: [
        ("", " IR-", false), (" IR-", " IR-", true), ("  25:  IR-PCI-MSI 512000-edge", " IR-", true),
        ("  25:  PCI-MSI IR", " IR-", false), ("IIIR- IR", " IR-", false), ("x IRx IR-", " IR-", true),
        ("abc", "", true), ("ab", "abc", false), ("kernel/drivers/vfio/pci/vfio-pci.ko:", "/vfio-pci.ko", true),
    ])
    func contains(haystack: String, needle: String, expected: Bool) {
        #expect(Bytes.contains(Array(haystack.utf8), needle) == expected)
    }

    @Test func fieldsSplitOnSpacesAndTabsAndDropEmptyOnes() {
        let route = "Iface\tDestination\tGateway \n eth0\t00000000\t0102A8C0  \n\nlo 0 0\n"
        let fields = Bytes.fields(Array(route.utf8)).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        #expect(fields == [["Iface", "Destination", "Gateway"], ["eth0", "00000000", "0102A8C0"], ["lo", "0", "0"]])
        #expect(Bytes.equal(Array("00000000".utf8)[...], "00000000"))
        #expect(!Bytes.equal(Array("0000000".utf8)[...], "00000000"))
    }

    /// Path components split by byte: what `String.split(separator: "/")` gives, non-ASCII included.
    @Test(arguments: ["../../devices/pci0000:00/0000:00:03.0/virtio0/net/eth0", "/a//b/", "", "/", "x", "é/ß//✓", "//a"])
    func pathComponentsAsSplit(path: String) {
        #expect(FileSystem.components(path) == path.split(separator: "/"))
        for n in 0...8 {
            #expect(FileSystem.lastComponents(path, n) == Array(path.split(separator: "/").suffix(n)), "last \(n) of \(path)")
        }
    }

    @Test func linkBasenameIsTheLastComponentOfTheTarget() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/sriov-bytes-test-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(symlink("../../../bus/pci/drivers/vfio-pci", dir + "/driver") == 0)
        #expect(symlink("plain", dir + "/plain") == 0)
        #expect(FileSystem.linkBasename(dir + "/driver") == "vfio-pci")
        #expect(FileSystem.linkBasename(dir + "/plain") == "plain")
        #expect(FileSystem.linkBasename(dir + "/missing") == nil)
    }
}
