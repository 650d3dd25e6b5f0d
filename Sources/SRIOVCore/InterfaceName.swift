/// A network interface name, valid by the kernel's `dev_valid_name()` rules: 1-15 bytes (IFNAMSIZ - 1),
/// not `.` or `..`, and no `/`, `:` or white space.
public struct InterfaceName: Hashable, Comparable, Sendable, CustomStringConvertible, LosslessStringConvertible, Codable {
    public static let maxLength = 15
    public let name: String

    public init(parsing text: String) throws(SRIOVError) {
        let fail = { (why: String) -> SRIOVError in
            SRIOVError(.invalidArgument, "invalid interface name \(Quote.shell(text)): \(why)")
        }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw fail("it is empty") }
        guard bytes.count <= InterfaceName.maxLength else {
            throw fail("it is \(bytes.count) bytes; the kernel allows at most \(InterfaceName.maxLength) (IFNAMSIZ 16 with the NUL)")
        }
        guard text != "." && text != ".." else { throw fail("'.' and '..' are not interface names") }
        for byte in bytes {
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: ":") {
                throw fail("it contains \(Quote.char(byte)), which the kernel does not allow")
            }
            if byte <= 0x20 || byte == 0x7f {
                throw fail("it contains white space or a control character")
            }
        }
        self.name = text
    }

    public init?(_ description: String) {
        guard let n = try? InterfaceName(parsing: description) else { return nil }
        self = n
    }

    public var description: String { name }

    public static func < (lhs: InterfaceName, rhs: InterfaceName) -> Bool { lhs.name < rhs.name }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try InterfaceName(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
