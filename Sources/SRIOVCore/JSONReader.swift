/// Reads a parsed JSON document by hand, without `Codable`: for the records every short-lived
/// process decodes (a `--direct` command replays the journal's lease records and reads the
/// snapshot's book), where `Codable`'s first use of each container and optional type costs more
/// than the reading itself (runtime metadata and mangled-name lookups: ~0.3M instructions for the
/// first lease record; a `--direct` release 8% fewer instructions; Docs/Performance.md).
///
/// It accepts only what the types' `Codable` conformances accept through `CompactJSONDecoder`,
/// with the same result. Anything else (a missing member, a wrong type, a value a type refuses, a
/// number that is not plainly an integer) is a `Miss`: the caller then decodes the same bytes
/// through `Codable`, which gives the verdict and names the problem. So a hand-written reader can
/// be stricter than `Codable`, never looser.
///
/// Members are looked up as `CompactJSONDecoder`'s keyed container does (the first occurrence of a
/// name counts; other members are ignored); an optional member that is absent or `null` is nil, as
/// `decodeIfPresent` has it.
public struct JSONReader {
    /// The document is not one the hand-written reading is sure of; decode it through `Codable`.
    public struct Miss: Error {
        public init() {}
    }

    let value: CompactJSONValue

    /// The parsed document, or nil when `bytes` is not JSON `CompactJSONDecoder` accepts.
    public static func parse(_ bytes: [UInt8]) -> JSONReader? { try? parsing(bytes) }

    /// The parsed document; throws what `CompactJSONDecoder.decode` throws for text it refuses.
    public static func parsing(_ bytes: [UInt8]) throws -> JSONReader {
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = CompactJSONParser(buffer)
            return JSONReader(value: try parser.parseDocument())
        }
    }

    /// This value through `T`'s `Codable` conformance, as `CompactJSONDecoder.decode` decodes it
    /// from the text: for what the hand-written reading leaves, without parsing the text again.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: CompactJSONValueDecoder(value: value, path: nil))
    }

    // MARK: This value

    public func string() throws(Miss) -> String {
        guard case .string(let s) = value else { throw Miss() }
        return s
    }

    public func bool() throws(Miss) -> Bool {
        guard case .bool(let b) = value else { throw Miss() }
        return b
    }

    /// A number written as a plain integer in range (`12`, `-3`); `1e3` or `2.0` go to `Codable`.
    public func int() throws(Miss) -> Int { try integer(Int.self) }
    public func uint64() throws(Miss) -> UInt64 { try integer(UInt64.self) }
    public func uint32() throws(Miss) -> UInt32 { try integer(UInt32.self) }
    public func uint16() throws(Miss) -> UInt16 { try integer(UInt16.self) }
    public func uint8() throws(Miss) -> UInt8 { try integer(UInt8.self) }

    @inline(__always)
    func integer<I: FixedWidthInteger>(_ type: I.Type) throws(Miss) -> I {
        guard case .number(let text) = value, let n = I(text) else { throw Miss() }
        return n
    }

    /// This string read by a type's own parser (`PCIAddress(parsing:)`, ...); a refusal is a miss.
    public func parsed<T>(_ parse: (String) throws(SRIOVError) -> T) throws(Miss) -> T {
        let text = try string()
        do { return try parse(text) } catch { throw Miss() }
    }

    /// A finite number, as `CompactJSONDecoder` reads a `Double`.
    public func double() throws(Miss) -> Double {
        guard case .number(let text) = value, let d = Double(text), d.isFinite else { throw Miss() }
        return d
    }

    /// The elements of an array.
    public func elements() throws(Miss) -> [JSONReader] {
        guard case .array(let elements) = value else { throw Miss() }
        return elements.map { JSONReader(value: $0) }
    }

    /// The members of an object, each name once (its first occurrence), in document order.
    public func members() throws(Miss) -> [(name: String, value: JSONReader)] {
        guard case .object(let object) = value else { throw Miss() }
        var seen = Set<String>()
        var out: [(name: String, value: JSONReader)] = []
        for i in object.keys.indices where seen.insert(object.keys[i]).inserted {
            out.append((object.keys[i], JSONReader(value: object.values[i])))
        }
        return out
    }

    // MARK: Members of this object

    /// The member `name` (present, any value, `null` included).
    public func member(_ name: String) throws(Miss) -> JSONReader {
        guard case .object(let object) = value, let member = object.value(name) else { throw Miss() }
        return JSONReader(value: member)
    }

    /// The member `name`, or nil when it is absent or `null` (`decodeIfPresent`).
    public func member(ifPresent name: String) throws(Miss) -> JSONReader? {
        guard case .object(let object) = value else { throw Miss() }
        guard let member = object.value(name) else { return nil }
        if case .null = member { return nil }
        return JSONReader(value: member)
    }

    public func string(_ name: String) throws(Miss) -> String { try member(name).string() }
    public func string(ifPresent name: String) throws(Miss) -> String? { try member(ifPresent: name)?.string() }
    public func bool(_ name: String) throws(Miss) -> Bool { try member(name).bool() }
    public func bool(ifPresent name: String) throws(Miss) -> Bool? { try member(ifPresent: name)?.bool() }
    public func int(_ name: String) throws(Miss) -> Int { try member(name).int() }
    public func int(ifPresent name: String) throws(Miss) -> Int? { try member(ifPresent: name)?.int() }
    public func uint32(_ name: String) throws(Miss) -> UInt32 { try member(name).uint32() }
    public func uint32(ifPresent name: String) throws(Miss) -> UInt32? { try member(ifPresent: name)?.uint32() }
    public func double(_ name: String) throws(Miss) -> Double { try member(name).double() }
    public func double(ifPresent name: String) throws(Miss) -> Double? { try member(ifPresent: name)?.double() }

    /// A string member read by a type's own parser (`PCIAddress(parsing:)`, ...); a refusal is a miss.
    public func parsed<T>(_ name: String, _ parse: (String) throws(SRIOVError) -> T) throws(Miss) -> T {
        try member(name).parsed(parse)
    }

    public func parsed<T>(ifPresent name: String, _ parse: (String) throws(SRIOVError) -> T) throws(Miss) -> T? {
        try member(ifPresent: name)?.parsed(parse)
    }

    /// A string member naming a case of a `String`-backed enum (its raw value, exactly).
    public func raw<E: RawRepresentable>(_ name: String, as type: E.Type) throws(Miss) -> E where E.RawValue == String {
        guard let e = E(rawValue: try string(name)) else { throw Miss() }
        return e
    }

    public func raw<E: RawRepresentable>(ifPresent name: String, as type: E.Type) throws(Miss) -> E? where E.RawValue == String {
        guard let text = try string(ifPresent: name) else { return nil }
        guard let e = E(rawValue: text) else { throw Miss() }
        return e
    }
}

// MARK: Readers of SRIOVCore's journaled types (the same members as their Codable forms)

extension VLAN {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(uncheckedID: try r.member("id").uint16(), qos: try r.member("qos").uint8(), proto: try r.raw("proto", as: VLANProtocol.self))
    }
}

extension VFSettings {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(mac: try r.parsed(ifPresent: "mac") { (t: String) throws(SRIOVError) in try MACAddress(parsing: t) },
                  vlan: try r.member(ifPresent: "vlan").map { (v: JSONReader) throws(JSONReader.Miss) in try VLAN(reading: v) },
                  spoofCheck: try r.bool(ifPresent: "spoofCheck"), trust: try r.bool(ifPresent: "trust"),
                  linkState: try r.raw(ifPresent: "linkState", as: VFLinkState.self),
                  minTxRate: try r.uint32(ifPresent: "minTxRate"), maxTxRate: try r.uint32(ifPresent: "maxTxRate"),
                  queryRSS: try r.bool(ifPresent: "queryRSS"))
    }
}

extension VFState {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(index: try r.int("index"), mac: try r.parsed("mac") { (t: String) throws(SRIOVError) in try MACAddress(parsing: t) },
                  vlan: try VLAN(reading: r.member("vlan")), spoofCheck: try r.bool(ifPresent: "spoofCheck"),
                  trust: try r.bool(ifPresent: "trust"), linkState: try r.raw(ifPresent: "linkState", as: VFLinkState.self),
                  minTxRate: try r.uint32("minTxRate"), maxTxRate: try r.uint32("maxTxRate"), queryRSS: try r.bool(ifPresent: "queryRSS"))
    }
}

extension VFIONodeOwnership {
    /// As the synthesized decoding: `mode` as written (the memberwise init masks it; decoding does not).
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(uid: try r.uint32("uid"), gid: try r.uint32("gid"), mode: 0)
        mode = try r.uint32("mode")
    }
}
