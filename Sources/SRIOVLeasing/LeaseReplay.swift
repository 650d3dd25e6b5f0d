import SRIOVCore
import SRIOVJournal

/// What start-up does with what the journal returns, and what `sriovctl journal verify` checks: the
/// snapshot decodes as a `LeaseBook`, and every record after it is a known record type whose payload
/// decodes. One set of rules for both, so verify fails exactly when start-up would.
public enum LeaseReplay {
    /// The book the snapshot and the records after it rebuild; the first record that does not decode
    /// stops start-up.
    static func book(_ recovery: JournalRecovery, directory: String) throws(SRIOVError) -> LeaseBook {
        var book = LeaseBook()
        if let snapshot = recovery.snapshot {
            book = try decode(snapshot, directory: directory)
            book.seq = snapshot.seq
        }
        for entry in recovery.entries {
            book.apply(try decode(entry, directory: directory), at: entry.time)
            book.seq = entry.seq
        }
        return book
    }

    /// Every problem start-up's replay would stop at, for `JournalMaintenance.verify(directory:replay:)`.
    public static func problems(directory: String) -> (JournalSnapshot?, [JournalEntry]) -> [JournalReplayProblem] {
        { snapshot, entries in
            var problems: [JournalReplayProblem] = []
            if let snapshot {
                do throws(SRIOVError) { _ = try decode(snapshot, directory: directory) } catch {
                    problems.append(JournalReplayProblem(seq: nil, message: error.message))
                }
            }
            for entry in entries {
                do throws(SRIOVError) { _ = try decode(entry, directory: directory) } catch {
                    problems.append(JournalReplayProblem(seq: entry.seq, message: error.message))
                }
            }
            return problems
        }
    }

    static func decode(_ snapshot: JournalSnapshot, directory: String) throws(SRIOVError) -> LeaseBook {
        do throws(SRIOVError) {
            return try JSONCoding.decodeBook(from: snapshot.data, what: "the lease book")
        } catch {
            throw SRIOVError(.corrupt, "\(directory)/snapshot.json (seq \(snapshot.seq)): \(error.message); its checksum is valid, so it was written this way, by another sriovd version? Run that sriovd (or a newer one), or restore snapshot.json from a backup (`sriovctl journal repair` cannot fix a snapshot)")
        }
    }

    static func decode(_ entry: JournalEntry, directory: String) throws(SRIOVError) -> LeaseEvent {
        do throws(SRIOVError) {
            return try LeaseEvent.decode(type: entry.type, data: entry.data)
        } catch {
            throw SRIOVError(.corrupt, "\(directory)/journal.jsonl record seq \(entry.seq): \(error.message); its checksum is valid, so `sriovctl journal repair` keeps it and cannot fix this: run the sriovd that wrote it (or a newer one), or restore the state directory from a backup")
        }
    }
}
