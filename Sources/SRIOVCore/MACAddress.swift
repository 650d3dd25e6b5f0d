/// A 48-bit Ethernet address.
///
/// `init(parsing:)` accepts any well-formed address (what the kernel reports); `init(assignable:)` is
/// what a user gives to a VF: unicast only, and all-zero only as the explicit "clear" value.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible, Codable {
    /// The six octets, first octet in the most significant of the low 48 bits. Stored inline (not
    /// as an array) so a VF's settings copy without reference counting: readouts hold hundreds.
    public let value: UInt64

    /// The six octets, in wire order.
    public var octets: [UInt8] { (0..<6).map { octet($0) } }

    /// Octet `i` (0 is the first on the wire).
    @inlinable public func octet(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: value >> UInt64(8 * (5 - i))) }

    public static let zero = MACAddress(value: 0)
    /// What sriovd writes when a driver refuses the all-zero MAC on scrub: locally administered,
    /// unicast, and recognisable (libvirt uses the same fallback).
    public static let scrubPlaceholder = MACAddress(value: 0x02_00_00_00_00_00)

    init(unchecked octets: [UInt8]) { self.value = MACAddress.pack(octets) }

    /// The address whose octets are the low 48 bits of `value`, first octet most significant.
    public init(value: UInt64) { self.value = value & 0xffff_ffff_ffff }

    static func pack(_ octets: [UInt8]) -> UInt64 {
        octets.prefix(6).reduce(0) { $0 << 8 | UInt64($1) }
    }

    public init(octets: [UInt8]) throws(SRIOVError) {
        guard octets.count == 6 else {
            throw SRIOVError(.invalidArgument, "a MAC address has 6 octets, got \(octets.count)")
        }
        self.value = MACAddress.pack(octets)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (either case; `-` also accepted as the separator).
    public init(parsing text: String) throws(SRIOVError) {
        let fail = { (why: String) -> SRIOVError in
            SRIOVError(.invalidArgument,
                       "invalid MAC address \(Quote.shell(text)): \(why); expected six hex pairs such as 52:54:00:12:34:56")
        }
        let separator: Character = text.contains("-") && !text.contains(":") ? "-" : ":"
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        guard parts.count == 6 else { throw fail("it has \(parts.count) groups, not 6") }
        var packed: UInt64 = 0
        for part in parts {
            guard part.utf8.count == 2, let v = Hex.parse(part, maxDigits: 2) else {
                throw fail("\(Quote.shell(String(part))) is not a two-digit hex octet")
            }
            packed = packed << 8 | UInt64(v)
        }
        self.value = packed
    }

    /// Parses an address a user wants to assign to a VF: unicast, not broadcast; zero means "clear".
    public init(assignable text: String) throws(SRIOVError) {
        let mac = try MACAddress(parsing: text)
        try mac.checkAssignable(text)
        self = mac
    }

    public func checkAssignable(_ original: String? = nil) throws(SRIOVError) {
        // Quoted only for an error: every VF setting passes through here.
        guard isBroadcast || isMulticast else { return }
        let shown = Quote.shell(original ?? description)
        if isBroadcast {
            throw SRIOVError(.invalidArgument, "MAC \(shown) is the broadcast address and cannot be assigned to a VF; use a unicast address such as 02:00:00:00:00:01")
        }
        if isMulticast {
            throw SRIOVError(.invalidArgument, "MAC \(shown) is a multicast address (lowest bit of the first octet set) and cannot be assigned to a VF; clear that bit, e.g. use a locally administered 02:xx:xx:xx:xx:xx")
        }
    }

    public init?(_ description: String) {
        guard let mac = try? MACAddress(parsing: description) else { return nil }
        self = mac
    }

    public var isZero: Bool { value == 0 }
    public var isBroadcast: Bool { value == 0xffff_ffff_ffff }
    public var isMulticast: Bool { octet(0) & 0x01 != 0 }
    public var isLocallyAdministered: Bool { octet(0) & 0x02 != 0 }

    public var description: String {
        String(unsafeUninitializedCapacity: 17) { write(into: $0) }
    }

    /// Appends `description`'s bytes to `out` (JSON writers: no string in between).
    public func appendText(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 17) { buffer in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<write(into: buffer)]))
        }
    }

    /// `aa:bb:cc:dd:ee:ff` into `out` (17 bytes); returns 17.
    private func write(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var n = 0
        for i in 0..<6 {
            let o = octet(i)
            if i > 0 { out[n] = UInt8(ascii: ":"); n += 1 }
            out[n] = ASCIIDigits.hexDigit(UInt64(o >> 4))
            out[n + 1] = ASCIIDigits.hexDigit(UInt64(o))
            n += 2
        }
        return n
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try MACAddress(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
