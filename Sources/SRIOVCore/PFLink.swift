
/// A PF netdev's link as the kernel reports it: whether it has carrier, and its operstate. What the
/// allocator reads (once per PF of a pool) before it offers a VF whose traffic would go nowhere.
public struct PFLinkState: Sendable, Codable, Equatable {
    /// `carrier`: true with link, false without (a cable pulled, or the interface set down); nil when
    /// sriovd cannot tell (no such netdev, an unreadable attribute).
    public var carrier: Bool?
    /// `operstate` (`up`, `down`, `lowerlayerdown`, `unknown`, ...), nil when unreadable.
    public var operState: String?

    public init(carrier: Bool?, operState: String?) {
        self.carrier = carrier
        self.operState = operState
    }

    /// Only a PF that reports carrier counts as up; unknown counts as down for `require_link: up`.
    public var hasCarrier: Bool { carrier == true }

    /// "up", "no carrier", "unknown", for tables and messages.
    public var summary: String {
        switch carrier {
        case true?: return "up"
        case false?: return "no carrier"
        case nil: return "unknown"
        }
    }

    /// The rules for reading a netdev's link from sysfs, kept here so every reader applies them alike.
    ///
    /// Kernel interface: `/sys/class/net/<if>/carrier` reads `1` or `0`, and fails with EINVAL while the
    /// interface is administratively down (`ip link set <if> down`): that is no link too.
    /// `/sys/class/net/<if>/operstate`: read as is; used for carrier only when `carrier` does not exist
    /// (an old tree), where `up` is link and `down`/`lowerlayerdown`/`notpresent` is none.
    public static func fromSysfs(carrier: String?, carrierErrno: Int32, operState: String?) -> PFLinkState {
        let oper = operState.map { $0.trimmingWhitespace() }
        switch carrier.map({ $0.trimmingWhitespace() }) {
        case "1"?: return PFLinkState(carrier: true, operState: oper)
        case "0"?: return PFLinkState(carrier: false, operState: oper)
        case _?: return PFLinkState(carrier: nil, operState: oper)
        case nil:
            if carrierErrno == Errno.EINVAL { return PFLinkState(carrier: false, operState: oper ?? "down") }
            switch oper {
            case "up"?: return PFLinkState(carrier: true, operState: oper)
            case "down"?, "lowerlayerdown"?, "notpresent"?: return PFLinkState(carrier: false, operState: oper)
            default: return PFLinkState(carrier: nil, operState: oper)
            }
        }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        return String(s)
    }
}
