#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// Streams a file's lines through one reusable buffer (pread from offset 0, so an O_APPEND descriptor's
/// position does not matter), without holding the whole file in memory.
struct LineReader {
    /// A line without its newline; `bytes` is valid only during the callback.
    struct Line {
        var bytes: UnsafeRawBufferPointer
        /// 1-based.
        var number: Int
        /// Byte offset of the line's first byte in the file.
        var offset: Int
        /// False only for a final fragment after the last newline.
        var hasNewline: Bool
        var end: Int { offset + bytes.count + (hasNewline ? 1 : 0) }
    }

    static let chunkSize = 4 << 20

    /// Calls `body` for each line until it returns false or the file (up to `limit` bytes) ends.
    static func forEachLine(fd: Int32, path: String, limit: Int = .max,
                            _ body: (Line) throws(SRIOVError) -> Bool) throws(SRIOVError) {
        var capacity = chunkSize
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var filled = 0          // valid bytes in buffer
        var start = 0           // first unconsumed byte in buffer
        var fileOffset = 0      // file offset of buffer[0]
        var readOffset = 0      // next file offset to read
        var number = 0
        while true {
            if start > 0 {
                // Move the partial line to the front.
                let rest = filled - start
                if rest > 0, let base = buffer.baseAddress { memmove(base, base + start, rest) }
                fileOffset += start
                filled = rest
                start = 0
            }
            if filled == capacity {
                // One line longer than the buffer: grow.
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity * 2, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
            let want = min(capacity - filled, limit - readOffset)
            let n = want <= 0 ? 0 : try DurableFile.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + want)]),
                                                       at: readOffset, path: path)
            guard let base = buffer.baseAddress else { return }
            if n == 0 {
                if start < filled {
                    number += 1
                    let line = Line(bytes: UnsafeRawBufferPointer(start: base + start, count: filled - start),
                                    number: number, offset: fileOffset + start, hasNewline: false)
                    _ = try body(line)
                }
                return
            }
            readOffset += n
            filled += n
            while start < filled {
                guard let nl = memchr(base + start, 0x0a, filled - start) else { break }
                let end = base.distance(to: UnsafeMutableRawPointer(nl))
                number += 1
                let line = Line(bytes: UnsafeRawBufferPointer(start: base + start, count: end - start),
                                number: number, offset: fileOffset + start, hasNewline: true)
                start = end + 1
                guard try body(line) else { return }
            }
        }
    }
}
