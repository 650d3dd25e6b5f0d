import Testing
import SRIOVCore
@testable import SRIOVLeasing

@Suite("Attach specs")
struct AttachSpecTests {
    /// The byte-wise hex writer against the standard library's radix formatting, at and past each width.
    @Test func hexAsStringRadixWritesIt() {
        for width in [1, 2, 4] {
            for v: UInt64 in [0, 1, 9, 10, 15, 16, 0xab, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, .max] {
                let d = String(v, radix: 16)
                #expect(AttachSpec.hex(v, width) == "0x" + String(repeating: "0", count: max(0, width - d.count)) + d)
            }
        }
    }

    @Test func libvirtAddressNamesEachPart() throws {
        let a = try PCIAddress(parsing: "0001:af:1f.7")
        #expect(AttachSpec.libvirtAddress(a) == "domain='0x0001' bus='0xaf' slot='0x1f' function='0x7'")
    }
}
