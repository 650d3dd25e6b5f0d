#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import SRIOVCore

extension Journal {
    /// Writes a snapshot of the caller's state as of `seq` (temp file, fsync, rename, fsync the
    /// directory), then compacts the journal to the records after `seq` the same way. A crash between
    /// the two leaves older records behind; start-up skips them. Appends go on while the snapshot is
    /// written and wait only while the journal file is replaced. `data` must hold every record up to
    /// `seq`: with concurrent appenders, that is the caller's job.
    public func snapshot(seq: UInt64, data: [UInt8]) async throws(SRIOVError) {
        try checkUsable()
        while snapshotting {
            await withCheckedContinuation { snapshotWaiters.append($0) }
        }
        try checkUsable()
        let durableSeq = commit.durableSeq
        guard seq <= durableSeq else {
            throw SRIOVError(.invalidArgument, "cannot snapshot \(directory) at seq \(seq): records are durable only through seq \(durableSeq)")
        }
        guard seq >= snapshotSeq else {
            throw SRIOVError(.invalidArgument, "cannot snapshot \(directory) at seq \(seq): snapshot.json already covers seq \(snapshotSeq)")
        }
        // A cheap shape check (a full parse of a megabyte-sized book would hold up the journal's actor).
        guard Journal.looksLikeJSONDocument(data) else {
            throw SRIOVError(.invalidArgument, "cannot snapshot \(directory) at seq \(seq): the snapshot data is not a JSON object or array")
        }
        snapshotting = true
        defer {
            snapshotting = false
            let waiters = snapshotWaiters
            snapshotWaiters = []
            for waiter in waiters { waiter.resume() }
            releaseIfIdle()
        }
        // The snapshot file is independent of the journal file: appends go on while it is written.
        let directory = self.directory, sync = self.sync
        // On the background thread (`BackgroundWork`): megabytes to write and a journal to scan, while
        // lease steps go on in the cooperative pool.
        let written = await BackgroundWork.run { () -> Result<UInt32, SRIOVError> in
            do throws(SRIOVError) {
                try SnapshotFile.write(directory: directory, seq: seq, data: data, sync: sync)
                return .success(CRC32C.checksum(data))
            } catch {
                return .failure(error)
            }
        }
        let crc = try written.get()
        snapshotSeq = seq
        try checkUsable()
        // A journal of records from seq 1 on needs no snapshot; there is nothing to compact.
        guard seq > 0 else { return }

        // Compaction, in two steps. First, with appends going on: find where the records after `seq`
        // start (a scan of the file) and copy them, as far as the file is written, to the temp file.
        let path = self.path
        let (fd0, length0) = commit.position()
        let prepared = try await BackgroundWork.run {
            Journal.prepareCompaction(path: path, fd: fd0, length: length0, through: seq, crc: crc, sync: sync)
        }.get()
        guard let prepared else { return }
        // Then, with appends paused: copy what was appended meanwhile, rename, fsync the directory.
        compacting = true
        let (fd, length) = await commit.pause()
        var replacement: (fd: Int32, length: Int)?
        defer {
            commit.resume(replacement: replacement)
            compacting = false
            releaseIfIdle()
        }
        do throws(SRIOVError) {
            try checkUsable()
            guard fd == fd0, length >= length0 else {
                throw SRIOVError(.io, "\(path) changed under the compaction; it was left as it is")
            }
        } catch {
            Glibc.close(prepared.fd)
            DurableFile.unlink(path + ".tmp")
            throw error
        }
        // On the journal's I/O thread: no batch runs there while appends are paused.
        let outcome = await onIOThread {
            Journal.finishCompaction(prepared, directory: directory, path: path, fd: fd, from: length0, to: length, sync: sync)
        }
        switch outcome {
        case .success(let replaced):
            replacement = (replaced.fd, replaced.length)
            if let error = replaced.directoryError {
                let stopped = SRIOVError(error.code, "\(error.message). The compacted journal's rename may not survive a power cut, so the journal stops accepting records: fix the disk, then restart sriovd, which re-reads the journal",
                                         cause: error.cause)
                commit.poison(stopped)
                throw stopped
            }
            logger.debug("journal: snapshot and compaction done",
                         metadata: ["seq": "\(seq)", "bytes": "\(replaced.length)", "dropped": "\(prepared.cut)"])
        case .failure(let error):
            // The snapshot is in place and the old journal is intact: start-up skips what it covers.
            throw error
        }
    }

    /// `{...}` or `[...]` around optional whitespace, one line (what the snapshot writers produce).
    static func looksLikeJSONDocument(_ data: [UInt8]) -> Bool {
        let space: Set<UInt8> = [0x20, 0x09, 0x0a, 0x0d]
        guard let first = data.firstIndex(where: { !space.contains($0) }),
              let last = data.lastIndex(where: { !space.contains($0) }), first < last else { return false }
        return (data[first] == UInt8(ascii: "{") && data[last] == UInt8(ascii: "}"))
            || (data[first] == UInt8(ascii: "[") && data[last] == UInt8(ascii: "]"))
    }

    struct Replacement: Sendable {
        var fd: Int32
        var length: Int
        /// The directory fsync after the rename failed.
        var directoryError: SRIOVError? = nil
    }

    /// A compaction's temp file: the record naming the snapshot, then the records after the snapshot
    /// as far as the journal was written when it was prepared.
    struct PreparedCompaction: Sendable {
        var fd: Int32
        /// Where the records after the snapshot start in the journal.
        var cut: Int
        /// The bytes written before them (the `journal.snapshot` record).
        var prefix: Int
    }

    /// Finds the first record after `seq`, writes the record naming the snapshot (`seq`, `crc`) to
    /// `journal.jsonl.tmp` and copies the journal from that record up to `length` (whole, written
    /// records; the file only grows meanwhile) after it, fsync'd. The compacted journal so says which
    /// snapshot it needs: start-up refuses to go on without that snapshot instead of starting empty.
    static func prepareCompaction(path: String, fd: Int32, length: Int, through seq: UInt64, crc: UInt32,
                                  sync: Bool) -> Result<PreparedCompaction?, SRIOVError> {
        do throws(SRIOVError) {
            // Records are in seq order: find the first one after the snapshot.
            var cut = length
            var unreadable: Int?
            try LineReader.forEachLine(fd: fd, path: path, limit: length) { line in
                guard let s = RecordCodec.quickSeq(line.bytes) else {
                    unreadable = line.number
                    return false
                }
                if s > seq {
                    cut = line.offset
                    return false
                }
                return true
            }
            if let unreadable {
                throw SRIOVError(.corrupt, "\(path) line \(unreadable): not a record while compacting; the snapshot was written, the journal was left as it is; run `sriovctl journal verify`")
            }
            let tmp = path + ".tmp"
            let newFD = try DurableFile.open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
            let base = RecordCodec.snapshotBase(seq: seq, crc: crc)
            do throws(SRIOVError) {
                try DurableFile.writeAll(newFD, base, path: tmp)
                try copy(from: fd, range: cut..<length, to: newFD, path: path, tmp: tmp)
                if sync { try DurableFile.sync(newFD, path: tmp) }
            } catch {
                Glibc.close(newFD)
                DurableFile.unlink(tmp)
                throw error
            }
            return .success(PreparedCompaction(fd: newFD, cut: cut, prefix: base.count))
        } catch {
            return .failure(error)
        }
    }

    /// With appends paused: copies what was appended since `prepareCompaction` (`from..<to`), fsyncs,
    /// renames the temp file over the journal and fsyncs the directory. Returns the new file, open
    /// for appending.
    static func finishCompaction(_ prepared: PreparedCompaction, directory: String, path: String, fd: Int32,
                                 from: Int, to length: Int, sync: Bool) -> Result<Replacement, SRIOVError> {
        let tmp = path + ".tmp"
        do throws(SRIOVError) {
            if length > from {
                try copy(from: fd, range: from..<length, to: prepared.fd, path: path, tmp: tmp)
                if sync { try DurableFile.sync(prepared.fd, path: tmp) }
            }
            try DurableFile.rename(tmp, path)
        } catch {
            Glibc.close(prepared.fd)
            DurableFile.unlink(tmp)
            return .failure(error)
        }
        // Renamed: the new file is the journal now. If the directory fsync fails, a power cut may bring
        // back the old file, and with it lose whatever is appended to the new one: the caller stops
        // the journal (found by the power-loss tests, which drop a rename that was not fsync'd).
        var directoryError: SRIOVError?
        if sync {
            do throws(SRIOVError) { try DurableFile.syncDirectory(directory) } catch { directoryError = error }
        }
        return .success(Replacement(fd: prepared.fd, length: prepared.prefix + length - prepared.cut, directoryError: directoryError))
    }

    static func copy(from source: Int32, range: Range<Int>, to target: Int32, path: String, tmp: String) throws(SRIOVError) {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let want = min(chunk.count, range.upperBound - offset)
            let n = try DurableFile.read(source, into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<want]), at: offset, path: path)
            guard n > 0 else {
                throw SRIOVError(.io, "\(path) ended at \(offset) bytes while compacting (expected \(range.upperBound)); was it changed by another program?")
            }
            try DurableFile.writeAll(target, UnsafeRawBufferPointer(rebasing: chunk[0..<n]), path: tmp)
            offset += n
        }
    }
}
