import SRIOVCore

/// A TCP address to serve the API on: `127.0.0.1:8443`, `[::1]:8443`, `localhost:8443`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal (without brackets) or a host name.
    public var host: String
    /// 0 asks the kernel for a free port (tests); the daemon logs the one it got.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for 127.0.0.0/8, ::1 and localhost: a bearer token never leaves the host.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Parses `host:port` (IPv6 in brackets); the error says what is wrong and how to write it.
    public static func parse(_ text: String) throws(SRIOVError) -> ListenAddress {
        let example = "write host:port, such as 127.0.0.1:8443 or [::1]:8443"
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw SRIOVError(.invalidArgument, "invalid listen address \(Quote.shell(text)): an IPv6 address needs brackets and a port; \(example)")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw SRIOVError(.invalidArgument, "invalid listen address \(Quote.shell(text)): " + (text.contains(":") ? "put an IPv6 address in brackets; " : "no port; ") + example)
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        let hostBytes = host.utf8
        let hostOK = !hostBytes.isEmpty && hostBytes.count <= 253 && hostBytes.allSatisfy { b in
            (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: ":") || b == UInt8(ascii: "%")
        }
        guard hostOK else {
            throw SRIOVError(.invalidArgument, "invalid listen address \(Quote.shell(text)): \(Quote.shell(String(host))) is not an IP address or host name; \(example)")
        }
        guard !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let port = Int(portText), (0...65535).contains(port) else {
            throw SRIOVError(.invalidArgument, "invalid listen address \(Quote.shell(text)): port \(Quote.shell(String(portText))) is not 0-65535; \(example)")
        }
        return ListenAddress(host: String(host), port: port)
    }
}
