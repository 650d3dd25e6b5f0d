import SRIOVCore

/// A small, strict XML reader for what the libvirt hook needs from a domain's XML: elements, attributes,
/// text, comments, CDATA, processing instructions, the five predefined entities and character references,
/// and namespace prefixes resolved to their URIs. Refused, with where: a document type declaration (no
/// external or custom entities), an undefined entity or prefix, mismatched or unclosed tags, a repeated
/// attribute, a `<` in an attribute value, text outside the root element. (Foundation's XMLParser needs
/// FoundationXML and libxml2 at run time; sriovctl links neither.)
public struct MiniXMLElement: Sendable, Equatable {
    /// The name as written (`sriovd:lease`).
    public var name: String
    /// The name without its prefix (`lease`).
    public var localName: String
    /// The namespace URI the prefix (or the default namespace) resolves to; nil for none.
    public var namespace: String?
    /// Attributes by name as written (`pool`, `xmlns:sriovd`).
    public var attributes: [String: String]
    public var children: [MiniXMLElement]
    /// The element's own text (entities resolved), its children's left out.
    public var text: String

    public func child(_ localName: String, namespace: String? = nil) -> MiniXMLElement? {
        children.first { $0.localName == localName && $0.namespace == namespace }
    }

    public func all(_ localName: String, namespace: String? = nil) -> [MiniXMLElement] {
        children.filter { $0.localName == localName && $0.namespace == namespace }
    }
}

public enum MiniXML {
    public static func parse(_ text: String) throws(SRIOVError) -> MiniXMLElement {
        var reader = Reader(bytes: Array(text.utf8))
        return try reader.document()
    }

    struct Reader {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ what: String) -> SRIOVError {
            var line = 1
            for b in bytes[0..<min(i, bytes.count)] where b == 0x0a { line += 1 }
            return SRIOVError(.invalidArgument, "malformed XML at line \(line): \(what)")
        }

        func starts(_ s: String) -> Bool {
            let u = Array(s.utf8)
            return i + u.count <= bytes.count && Array(bytes[i..<(i + u.count)]) == u
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0a || bytes[i] == 0x0d { i += 1 }
        }

        /// Skips to just past `end`, or fails naming `what`.
        mutating func skip(past end: String, what: String) throws(SRIOVError) {
            while i < bytes.count {
                if starts(end) { i += end.utf8.count; return }
                i += 1
            }
            throw fail("\(what) is not closed with \(end)")
        }

        /// Comments, processing instructions and space between markup outside the root.
        mutating func misc() throws(SRIOVError) {
            while true {
                skipSpace()
                if starts("<?") { try skip(past: "?>", what: "a processing instruction") }
                else if starts("<!--") { try skip(past: "-->", what: "a comment") }
                else if starts("<!DOCTYPE") || starts("<!doctype") { throw fail("a document type declaration is not accepted (no custom entities)") }
                else { return }
            }
        }

        mutating func document() throws(SRIOVError) -> MiniXMLElement {
            if starts("\u{FEFF}") { i += 3 }
            try misc()
            guard i < bytes.count, bytes[i] == 0x3c else { throw fail(i < bytes.count ? "text before the root element" : "no root element") }
            let root = try element(scope: ["xml": "http://www.w3.org/XML/1998/namespace"])
            try misc()
            guard i == bytes.count else { throw fail("content after the root element") }
            return root
        }

        static func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f || b == 0x2e || b == 0x3a || b >= 0x80
        }

        mutating func name() throws(SRIOVError) -> String {
            let start = i
            while i < bytes.count, Reader.isNameByte(bytes[i]) { i += 1 }
            guard i > start, !(bytes[start] >= 0x30 && bytes[start] <= 0x39), bytes[start] != 0x2d, bytes[start] != 0x2e else {
                throw fail("a name was expected")
            }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        /// Text up to `stop` with entities and character references resolved.
        mutating func chars(until stop: UInt8, inAttribute: Bool) throws(SRIOVError) -> String {
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != stop {
                let b = bytes[i]
                if inAttribute && b == 0x3c { throw fail("'<' in an attribute value (write &lt;)") }
                if b == 0x26 {
                    i += 1
                    let start = i
                    while i < bytes.count, bytes[i] != 0x3b, i - start < 12 { i += 1 }
                    guard i < bytes.count, bytes[i] == 0x3b else { throw fail("an entity reference without ';'") }
                    let ref = String(decoding: bytes[start..<i], as: UTF8.self)
                    i += 1
                    switch ref {
                    case "lt": out.append(0x3c)
                    case "gt": out.append(0x3e)
                    case "amp": out.append(0x26)
                    case "apos": out.append(0x27)
                    case "quot": out.append(0x22)
                    default:
                        var code: UInt32?
                        if ref.hasPrefix("#x") { code = UInt32(ref.dropFirst(2), radix: 16) }
                        else if ref.hasPrefix("#") { code = UInt32(ref.dropFirst(1), radix: 10) }
                        else { throw fail("undefined entity &\(ref);") }
                        guard let code, code != 0, let scalar = Unicode.Scalar(code) else { throw fail("invalid character reference &\(ref);") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    }
                    continue
                }
                out.append(b)
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }

        static func split(_ qname: String) -> (prefix: String?, local: String) {
            guard let colon = qname.firstIndex(of: ":") else { return (nil, qname) }
            return (String(qname[..<colon]), String(qname[qname.index(after: colon)...]))
        }

        /// An element starting at `<`; `scope`: the prefixes in force ("" is the default namespace).
        mutating func element(scope outer: [String: String]) throws(SRIOVError) -> MiniXMLElement {
            i += 1
            let qname = try name()
            var attributes: [String: String] = [:]
            var order: [String] = []
            while true {
                let before = i
                skipSpace()
                guard i < bytes.count else { throw fail("<\(qname)> is not closed") }
                if bytes[i] == 0x3e || (bytes[i] == 0x2f) { break }
                guard i > before else { throw fail("space expected between attributes of <\(qname)>") }
                let key = try name()
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x3d else { throw fail("'=' expected after attribute \(key) of <\(qname)>") }
                i += 1
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x22 || bytes[i] == 0x27 else { throw fail("attribute \(key) of <\(qname)> needs a quoted value") }
                let quote = bytes[i]
                i += 1
                let value = try chars(until: quote, inAttribute: true)
                guard i < bytes.count else { throw fail("attribute \(key) of <\(qname)> is not closed") }
                i += 1
                guard attributes[key] == nil else { throw fail("attribute \(key) repeated on <\(qname)>") }
                attributes[key] = value
                order.append(key)
            }
            var scope = outer
            for key in order {
                if key == "xmlns" { scope[""] = attributes[key] }
                else if key.hasPrefix("xmlns:") {
                    let prefix = String(key.dropFirst(6))
                    guard let uri = attributes[key], !uri.isEmpty else { throw fail("namespace prefix \(prefix) bound to an empty URI") }
                    scope[prefix] = uri
                }
            }
            let (prefix, local) = Reader.split(qname)
            let namespace: String?
            if let prefix {
                guard let uri = scope[prefix] else { throw fail("undefined namespace prefix \(prefix) in <\(qname)>") }
                namespace = uri
            } else {
                namespace = scope[""].flatMap { $0.isEmpty ? nil : $0 }
            }
            for key in order where !key.hasPrefix("xmlns") {
                if let p = Reader.split(key).prefix, scope[p] == nil { throw fail("undefined namespace prefix \(p) in attribute \(key)") }
            }
            var node = MiniXMLElement(name: qname, localName: local, namespace: namespace, attributes: attributes, children: [], text: "")
            if bytes[i] == 0x2f {
                i += 1
                guard i < bytes.count, bytes[i] == 0x3e else { throw fail("'>' expected after '/' in <\(qname)>") }
                i += 1
                return node
            }
            i += 1
            while true {
                guard i < bytes.count else { throw fail("<\(qname)> is not closed") }
                if starts("</") {
                    i += 2
                    let end = try name()
                    skipSpace()
                    guard end == qname, i < bytes.count, bytes[i] == 0x3e else { throw fail("</\(end)> closes <\(qname)>") }
                    i += 1
                    return node
                } else if starts("<!--") {
                    try skip(past: "-->", what: "a comment")
                } else if starts("<![CDATA[") {
                    i += 9
                    let start = i
                    try skip(past: "]]>", what: "a CDATA section")
                    node.text += String(decoding: bytes[start..<(i - 3)], as: UTF8.self)
                } else if starts("<?") {
                    try skip(past: "?>", what: "a processing instruction")
                } else if starts("<!") {
                    throw fail("markup declarations are not accepted inside <\(qname)>")
                } else if bytes[i] == 0x3c {
                    node.children.append(try element(scope: scope))
                } else {
                    node.text += try chars(until: 0x3c, inAttribute: false)
                }
            }
        }
    }
}
