import CNetlink
import SRIOVCore

/// libnl's own error space: `NLE_*` codes (returned negated by libnl calls) are not errno values.
/// They are kept as `SRIOVError.Cause.netlink` with libnl's text from `nl_geterror`.
public enum NetlinkError {
    /// libnl's description of an `NLE_*` code (sign ignored).
    public static func text(forLibnlCode code: Int32) -> String {
        guard let cString = nl_geterror(code < 0 ? -code : code) else { return "unknown libnl error \(code)" }
        return String(cString: cString)
    }

    /// The `SRIOVError` for a negative libnl return value.
    public static func make(_ libnlReturn: Int32, _ context: String) -> SRIOVError {
        let code = libnlReturn < 0 ? -libnlReturn : libnlReturn
        let text = text(forLibnlCode: code)
        return SRIOVError(.kernelRefused, "\(context): \(text) (libnl NLE \(code))", cause: .netlink(code, text))
    }

    /// The libnl code that means "the kernel answered with an errno libnl could not map" (NLE_FAILURE).
    public static var failureCode: Int32 { Int32(NLE_FAILURE) }
    /// NLE_OPNOTSUPP: what libnl makes of the kernel's EOPNOTSUPP.
    public static var operationNotSupportedCode: Int32 { Int32(NLE_OPNOTSUPP) }
    /// NLE_NOMEM: libnl 3.7's answer to a PF with 128+ VFs in `rtnl_link_get_kernel` (see KERNEL-FACTS).
    public static var noMemoryCode: Int32 { Int32(NLE_NOMEM) }
}
