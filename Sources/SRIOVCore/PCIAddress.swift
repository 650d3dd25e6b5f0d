/// A PCI function address, `DDDD:BB:DD.F` (domain, bus, device, function).
///
/// Parsing one is the only way a device name reaches a sysfs path, so the grammar is strict: hex digits,
/// `:` and `.` only, nothing that could walk a path (`../`, `/`, spaces). The canonical form is lower case
/// with a zero-padded four-digit domain, as the kernel names devices in `/sys/bus/pci/devices`.
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible, LosslessStringConvertible, Codable {
    /// PCI segment. Usually 0; VMD domains use five hex digits (0x10000 and up).
    public let domain: UInt32
    public let bus: UInt8
    /// 0...31
    public let device: UInt8
    /// 0...7
    public let function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) throws(SRIOVError) {
        guard device < 32 else {
            throw SRIOVError(.invalidArgument, "PCI device number \(device) is out of range: it must be 0-31 (hex 00-1f)")
        }
        guard function < 8 else {
            throw SRIOVError(.invalidArgument, "PCI function number \(function) is out of range: it must be 0-7")
        }
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// One word into the hasher instead of four fields: VFs are dictionary keys on every lease step.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(UInt64(domain) << 16 | UInt64(routingID))
    }

    /// The 16-bit routing ID (bus << 8 | device << 3 | function) used by SR-IOV offset/stride arithmetic.
    public var routingID: UInt16 { UInt16(bus) << 8 | UInt16(device) << 3 | UInt16(function) }

    /// The address whose routing ID is `rid` in the same domain.
    public init(domain: UInt32, routingID rid: UInt16) {
        self.domain = domain
        self.bus = UInt8(rid >> 8)
        self.device = UInt8((rid >> 3) & 0x1f)
        self.function = UInt8(rid & 0x7)
    }

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (domain 0000); hex digits in either case.
    public init(parsing text: String) throws(SRIOVError) {
        let fail = { (why: String) -> SRIOVError in
            SRIOVError(.invalidArgument,
                       "invalid PCI address \(Quote.shell(text)): \(why); expected DDDD:BB:DD.F such as 0000:3b:00.0 (or BB:DD.F)")
        }
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { throw fail("it is empty") }
        guard utf8.count <= 16 else { throw fail("it is too long") }
        for byte in utf8 where !(Hex.value(byte) != nil || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")) {
            throw fail("character \(Quote.char(byte)) is not allowed")
        }
        // Split by byte offsets, not `split` (its Substring arrays cost a start-up ~1M instructions of
        // generic metadata, in every sriovctl process; the text is ASCII by now).
        let colons = utf8.indices.filter { utf8[$0] == UInt8(ascii: ":") }
        let domainRange: Range<Int>?
        let busRange: Range<Int>
        let devFn: Range<Int>
        switch colons.count {
        case 2: (domainRange, busRange, devFn) = (0..<colons[0], colons[0] + 1..<colons[1], colons[1] + 1..<utf8.count)
        case 1: (domainRange, busRange, devFn) = (nil, 0..<colons[0], colons[0] + 1..<utf8.count)
        default: throw fail("it needs one or two ':'")
        }
        let dots = devFn.filter { utf8[$0] == UInt8(ascii: ".") }
        guard dots.count == 1 else { throw fail("the device and function must be separated by one '.'") }
        let deviceRange = devFn.lowerBound..<dots[0]
        let functionRange = dots[0] + 1..<devFn.upperBound
        let domain: UInt64
        if let domainRange {
            guard (4...8).contains(domainRange.count), let d = Hex.parse(utf8[domainRange], maxDigits: 8) else {
                throw fail("the domain must be 4 to 8 hex digits")
            }
            domain = d
        } else {
            domain = 0
        }
        guard busRange.count == 2, let bus = Hex.parse(utf8[busRange], maxDigits: 2) else {
            throw fail("the bus must be 2 hex digits")
        }
        guard deviceRange.count == 2, let device = Hex.parse(utf8[deviceRange], maxDigits: 2) else {
            throw fail("the device must be 2 hex digits")
        }
        guard functionRange.count == 1, let function = Hex.parse(utf8[functionRange], maxDigits: 1) else {
            throw fail("the function must be 1 digit")
        }
        guard device < 32 else { throw fail("device \(String(decoding: utf8[deviceRange], as: UTF8.self)) is above 1f") }
        guard function < 8 else { throw fail("function \(String(decoding: utf8[functionRange], as: UTF8.self)) is above 7") }
        self.domain = UInt32(domain)
        self.bus = UInt8(bus)
        self.device = UInt8(device)
        self.function = UInt8(function)
    }

    public init?(_ description: String) {
        guard let parsed = try? PCIAddress(parsing: description) else { return nil }
        self = parsed
    }

    /// `dddd:bb:dd.f`, written into one buffer: this string keys sysfs paths and lease books, so it is
    /// formatted on every hot path.
    public var description: String {
        String(unsafeUninitializedCapacity: 16) { write(into: $0) }
    }

    /// Appends `description`'s bytes to `out` (JSON writers: no string in between).
    public func appendText(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<write(into: buffer)]))
        }
    }

    /// Writes the text into `out` (16 bytes are enough: a domain has at most 8 digits); returns its length.
    private func write(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        func digit(_ v: UInt32) -> UInt8 { ASCIIDigits.hexDigit(UInt64(v)) }
        var n = 0
        // Four digits, zero-padded; a wider domain (VMD) keeps all its digits.
        var width = 4
        while width < 8 && domain >> (4 * UInt32(width)) != 0 { width += 1 }
        for i in stride(from: width - 1, through: 0, by: -1) {
            out[n] = digit(domain >> (4 * UInt32(i)))
            n += 1
        }
        out[n] = UInt8(ascii: ":")
        out[n + 1] = digit(UInt32(bus) >> 4)
        out[n + 2] = digit(UInt32(bus))
        out[n + 3] = UInt8(ascii: ":")
        out[n + 4] = digit(UInt32(device) >> 4)
        out[n + 5] = digit(UInt32(device))
        out[n + 6] = UInt8(ascii: ".")
        out[n + 7] = digit(UInt32(function))
        return n + 8
    }

    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try PCIAddress(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Small hex helpers shared by the parsers (no Foundation).
enum Hex {
    static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func parse(_ text: Substring, maxDigits: Int) -> UInt64? {
        parse(text.utf8, maxDigits: maxDigits)
    }

    static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes, maxDigits: Int) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= maxDigits else { return nil }
        var result: UInt64 = 0
        for byte in bytes {
            guard let v = value(byte) else { return nil }
            result = result << 4 | UInt64(v)
        }
        return result
    }

    static func format(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// Quoting user input inside error messages, so that odd bytes are visible.
public enum Quote {
    /// `'text'`, with control characters escaped.
    public static func shell(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\\x" + Hex.format(UInt64(scalar.value), width: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    static func char(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7f { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "\\x" + Hex.format(UInt64(byte), width: 2)
    }
}
