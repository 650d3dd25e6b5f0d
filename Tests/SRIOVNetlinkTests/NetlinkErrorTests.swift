import Testing
import SRIOVCore
@testable import SRIOVNetlink

@Suite("libnl error mapping")
struct NetlinkErrorTests {
    @Test func libnlCodesAreNotErrno() {
        let e = NetlinkError.make(-NetlinkError.noMemoryCode, "ens1f0: reading VF info")
        #expect(e.message == "ens1f0: reading VF info: Out of memory (libnl NLE \(NetlinkError.noMemoryCode))")
        #expect(e.errno == nil)
        if case .netlink(let code, let text)? = e.cause {
            #expect(code == NetlinkError.noMemoryCode && text == "Out of memory")
        } else {
            Issue.record("cause should be a libnl code, got \(String(describing: e.cause))")
        }
        #expect(NetlinkError.text(forLibnlCode: NetlinkError.operationNotSupportedCode) == "Operation not supported")
    }
}
