import Foundation
import SRIOVCore

/// One replayed record. `data` stays raw JSON so replay does not pay for decoding payloads the caller
/// may skip; `decode(_:)` decodes it when needed.
public struct JournalEntry: Sendable, Equatable {
    /// 1, 2, 3 ... strictly increasing, never reused.
    public let seq: UInt64
    /// Unix seconds, when the record was appended.
    public let time: Double
    /// The record type chosen by the caller, e.g. `lease.reserved`.
    public let type: String
    /// The payload's JSON bytes.
    public let data: [UInt8]

    public init(seq: UInt64, time: Double, type: String, data: [UInt8]) {
        self.seq = seq
        self.time = time
        self.type = type
        self.data = data
    }

    /// The payload decoded as `T`.
    public func decode<T: Decodable>(_ type: T.Type) throws(SRIOVError) -> T {
        do {
            return try CompactJSONDecoder().decode(T.self, from: data)
        } catch {
            throw SRIOVError(.corrupt,
                             "journal record seq \(seq) (\(self.type)): its payload does not decode as \(T.self): \(error); was it written by another sriovd version?",
                             cause: .other(String(describing: error)))
        }
    }
}

/// The caller's state as of `seq`, as last written by `Journal.snapshot(seq:data:)`.
public struct JournalSnapshot: Sendable, Equatable {
    public let seq: UInt64
    /// The caller's JSON bytes.
    public let data: [UInt8]

    public init(seq: UInt64, data: [UInt8]) {
        self.seq = seq
        self.data = data
    }
}

/// What `Journal.open` found: replay the snapshot, then the entries, in order.
public struct JournalRecovery: Sendable {
    /// The newest valid snapshot, if any.
    public var snapshot: JournalSnapshot?
    /// Entries with seq > snapshot.seq, in order.
    public var entries: [JournalEntry]
    /// Description of a dropped torn last line, if one was dropped.
    public var droppedTornTail: String?
    /// The highest seq in the snapshot or the journal (0 for an empty state directory).
    public var lastSeq: UInt64

    public init(snapshot: JournalSnapshot?, entries: [JournalEntry], droppedTornTail: String?, lastSeq: UInt64) {
        self.snapshot = snapshot
        self.entries = entries
        self.droppedTornTail = droppedTornTail
        self.lastSeq = lastSeq
    }
}

/// Counters for metrics.
public struct JournalStatistics: Sendable {
    /// Records made durable by this `Journal`.
    public var appends: Int
    /// Batches written (one write(2) + one fsync each; with `fsync: false`, batches written).
    public var fsyncs: Int
    /// Total wall time spent in fsync.
    public var fsyncSeconds: Double

    public init(appends: Int = 0, fsyncs: Int = 0, fsyncSeconds: Double = 0) {
        self.appends = appends
        self.fsyncs = fsyncs
        self.fsyncSeconds = fsyncSeconds
    }
}
