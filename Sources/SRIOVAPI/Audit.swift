import Foundation
import SRIOVCore

/// One audit record as the journal keeps it: who asked for what, and what came of it.
public struct AuditRecord: Sendable, Codable, Equatable {
    public var time: Double
    public var who: String
    public var action: String
    public var target: String
    public var result: String

    public init(time: Double, who: String, action: String, target: String, result: String) {
        self.time = time
        self.who = who
        self.action = action
        self.target = target
        self.result = result
    }
}

extension AuditRecord: CompactJSONFlatDecodable {
    public static let flatKeys: [StaticString] = ["time", "who", "action", "target", "result"]

    /// Read member by member from the snapshot's audit trail (`LeaseReplay`): the same members and
    /// checks as `init(from:)`.
    public init(flat members: CompactJSONFlatMembers) throws {
        time = try members.double(0)
        who = try members.string(1)
        action = try members.string(2)
        target = try members.string(3)
        result = try members.string(4)
    }
}

/// Times in audit queries and listings: RFC 3339 (`2026-11-25T21:00:00Z`, offsets and fractions
/// allowed) or Unix seconds (`1764104400`, `1764104400.5`), as `GET /v1/audit?since=` and
/// `sriovctl audit --since` take them.
public enum AuditTime {
    /// Unix seconds.
    public static func parse(_ text: String) throws(SRIOVError) -> Double {
        let trimmed = text.trimmingSpaces
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") }),
           trimmed.utf8.filter({ $0 == UInt8(ascii: ".") }).count <= 1, trimmed.first != ".", let seconds = Double(trimmed) {
            return seconds
        }
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: trimmed) { return date.timeIntervalSince1970 }
        }
        throw SRIOVError(.invalidArgument, "invalid time \(Quote.shell(text)): give an RFC 3339 time such as 2026-11-25T21:00:00Z (or with an offset, +01:00) or Unix seconds such as 1764104400")
    }

    /// RFC 3339 in UTC with milliseconds, rounded down: passing a listed time back as `since` lists
    /// that record again rather than skipping it.
    public static func format(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000))
    }
}

/// One audit record as the API and `sriovctl audit --json` show it.
public struct AuditDocument: Codable, Sendable, Equatable {
    /// RFC 3339, UTC, milliseconds.
    public var time: String
    /// The same instant in Unix seconds (exact: pass it back as `since`).
    public var unixTime: Double
    /// `tenant nfv (uid 1000)`, `tenant orch (token orch-1)`, `cli uid 0`, `sriovd` (expiry).
    public var who: String
    public var action: String
    public var target: String
    public var result: String

    public init(_ record: AuditRecord) {
        time = AuditTime.format(record.time)
        unixTime = record.time
        who = record.who
        action = record.action
        target = record.target
        result = record.result
    }
}
