/// Writes one line of JSON by hand, for the records written on every lease step (the journal's):
/// each type lists its members in sorted key order, leaving out nil ones, so the bytes are exactly
/// what `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes for its Codable form
/// (tests compare the two for every such type). Several times faster than any `Encoder`: no
/// containers, no boxes, no metadata lookups.
public struct JSONWriter: Sendable {
    /// The JSON written so far.
    public var bytes: [UInt8] = []
    /// A member was written in the object being written (the next needs a comma).
    @usableFromInline var needsComma = false

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    // The members below are inlinable so the writers in other modules (a lease, its VFs, a journal
    // record) get them specialized and inlined: called across the module boundary, each member was a
    // generic call through witness tables, and a lease document cost ~60K instructions.

    @inlinable
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Inlinable so callers in other modules get it specialized: unspecialized, the first use of each
    /// element type costs a short-lived process ~0.3M instructions of runtime type lookups.
    @inlinable
    public mutating func array<S: Sequence>(_ elements: S, _ body: (inout JSONWriter, S.Element) -> Void) {
        openArray()
        for element in elements {
            nextElement()
            body(&self, element)
        }
        closeArray()
    }

    /// `[`: `array`'s opening, public for its inlined body.
    @inlinable
    public mutating func openArray() {
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// The comma before an element that follows another.
    @inlinable
    public mutating func nextElement() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    /// `]`.
    @inlinable
    public mutating func closeArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// `"name":` (with the comma before it when needed); the value follows. The names are the
    /// types' own literals: ASCII, nothing to escape.
    ///
    /// Assembled on the stack and appended at once: a record or document writes hundreds of keys, and
    /// each single-byte append checks the array's uniqueness and capacity again.
    @inlinable
    public mutating func key(_ name: StaticString) {
        let comma = needsComma
        needsComma = false
        name.withUTF8Buffer { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: text.count + 4) { buffer in
                var n = 0
                if comma {
                    buffer[0] = UInt8(ascii: ",")
                    n = 1
                }
                buffer[n] = UInt8(ascii: "\"")
                n += 1
                if let source = text.baseAddress {
                    (buffer.baseAddress! + n).initialize(from: source, count: text.count)
                    n += text.count
                }
                buffer[n] = UInt8(ascii: "\"")
                buffer[n + 1] = UInt8(ascii: ":")
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<(n + 2)]))
            }
        }
    }

    /// A key that is not a literal (a dictionary's).
    public mutating func key(_ name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        CompactJSON.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        CompactJSON.writeString(value, into: &bytes)
        needsComma = true
    }

    /// A string value whose bytes `write` appends and that needs no escaping (a PCI or MAC address).
    @usableFromInline
    mutating func plainString(_ write: (inout [UInt8]) -> Void) {
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Written digit by digit into the buffer (`String(value)` allocated a string for each).
    @inlinable
    public mutating func int<I: BinaryInteger>(_ value: I) {
        if let small = Int64(exactly: value) {
            CompactJSON.writeInt64(small, into: &bytes)
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
        needsComma = true
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        (value ? "true" : "false" as StaticString).withUTF8Buffer { bytes.append(contentsOf: $0) }
        needsComma = true
    }

    /// Non-finite numbers cannot occur in the records (times and rates); they are written as 0
    /// rather than producing invalid JSON.
    public mutating func double(_ value: Double) {
        if value.isFinite { try? CompactJSON.writeDouble(value, path: nil, into: &bytes) } else { bytes.append(UInt8(ascii: "0")) }
        needsComma = true
    }

    // Members: `name` then the value; the optional forms write nothing for nil (as encodeIfPresent).

    @inlinable public mutating func member(_ name: StaticString, _ value: String) { key(name); string(value) }
    @inlinable public mutating func member(_ name: StaticString, _ value: String?) { if let value { member(name, value) } }
    @inlinable public mutating func member<I: BinaryInteger>(_ name: StaticString, _ value: I) { key(name); int(value) }
    @inlinable public mutating func member<I: BinaryInteger>(_ name: StaticString, _ value: I?) { if let value { member(name, value) } }
    @inlinable public mutating func member(_ name: StaticString, _ value: Bool) { key(name); bool(value) }
    @inlinable public mutating func member(_ name: StaticString, _ value: Bool?) { if let value { member(name, value) } }
    @inlinable public mutating func member(_ name: StaticString, _ value: Double) { key(name); double(value) }
    @inlinable public mutating func member(_ name: StaticString, _ value: Double?) { if let value { member(name, value) } }
    @inlinable public mutating func member<T: JSONWritable>(_ name: StaticString, _ value: T) { key(name); value.writeJSON(&self) }
    @inlinable public mutating func member<T: JSONWritable>(_ name: StaticString, _ value: T?) { if let value { member(name, value) } }
}

/// A type whose JSON `JSONWriter` writes by hand (the same bytes as its Codable form).
public protocol JSONWritable {
    func writeJSON(_ w: inout JSONWriter)
}

extension JSONWritable {
    /// The value as one line of JSON.
    public var json: [UInt8] {
        var w = JSONWriter()
        writeJSON(&w)
        return w.bytes
    }
}

extension MACAddress: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.plainString { appendText(to: &$0) } }
}

extension PCIAddress: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.plainString { appendText(to: &$0) } }
}

extension InterfaceName: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(name) }
}

extension VLANProtocol: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension VFLinkState: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension VLAN: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("id", id)
            w.member("proto", proto)
            w.member("qos", qos)
        }
    }
}

extension VFSettings: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("linkState", linkState)
            w.member("mac", mac)
            w.member("maxTxRate", maxTxRate)
            w.member("minTxRate", minTxRate)
            w.member("queryRSS", queryRSS)
            w.member("spoofCheck", spoofCheck)
            w.member("trust", trust)
            w.member("vlan", vlan)
        }
    }
}

extension VFState: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("index", index)
            w.member("linkState", linkState)
            w.member("mac", mac)
            w.member("maxTxRate", maxTxRate)
            w.member("minTxRate", minTxRate)
            w.member("queryRSS", queryRSS)
            w.member("spoofCheck", spoofCheck)
            w.member("trust", trust)
            w.member("vlan", vlan)
        }
    }
}
