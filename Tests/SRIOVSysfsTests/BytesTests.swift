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
}
