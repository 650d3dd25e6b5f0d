import ArgumentParser
import Foundation
import SRIOVCore
import SRIOVTestSupport
import Testing
@testable import sriovctl

/// The fast path (`FastPath`) parses `vf set` without ArgumentParser; it must never disagree with it.
@Suite("sriovctl's fast path agrees with ArgumentParser", .ownThread)
struct FastPathTests {
    /// What ArgumentParser makes of the same arguments (parse and validate), or nil when it refuses them.
    /// On a thread of its own with a 16 MiB stack: ArgumentParser builds the whole command tree by
    /// reflection, deep in a debug build, and on a pool thread's stack it once overflowed in CI (SIGSEGV
    /// at a guard page inside `UniqueNamesValidator`). One long-lived thread for every command line:
    /// a thread started and ended per line (hundreds, each mapping and unmapping a 16 MiB stack) ran
    /// beside other suites' `Process.run()`, which then crashed inside Foundation (a `memmove` through
    /// an unmapped page) in three whole-suite runs out of three. The suite runs on its own thread
    /// (`.ownThread`): waiting on a pool thread held one of the pool's two threads for a minute and
    /// stalled every async test beside it.
    func argumentParser(_ arguments: [String]) -> VFSetInvocation? {
        ParserThread.shared.run { (try? VFSet.parse(arguments))?.invocation }
    }

    /// A thread with a 16 MiB stack that runs one job at a time.
    final class ParserThread: @unchecked Sendable {
        static let shared = ParserThread()
        private let condition = NSCondition()
        private var jobs: [() -> Void] = []

        private init() {
            let thread = Thread { [self] in
                while true {
                    condition.lock()
                    while jobs.isEmpty { condition.wait() }
                    let job = jobs.removeFirst()
                    condition.unlock()
                    job()
                }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }

        final class Box<T>: @unchecked Sendable { var value: T? }

        func run<T>(_ work: @escaping () -> T?) -> T? {
            let box = Box<T>()
            let done = DispatchSemaphore(value: 0)
            condition.lock()
            jobs.append {
                box.value = work()
                done.signal()
            }
            condition.signal()
            condition.unlock()
            done.wait()
            return box.value
        }
    }

    @Test func theBenchmarkAndScriptLinesTakeTheFastPath() throws {
        let lines: [[String]] = [
            ["ens1f0", "3", "--mac", "02:50:00:00:00:01", "--vlan", "100", "--spoofchk", "on", "--trust", "off", "--socket", "/run/s.sock"],
            ["0000:3b:00.0", "3", "--mac", "02:50:00:00:00:01", "--vlan", "100", "--spoofchk", "on", "--trust", "off",
             "--direct", "--config", "/tmp/d/sriovd.yaml", "--state-dir", "/tmp/d/direct"],
            ["ens1f0", "0", "--vlan=7", "--qos=3", "--vlan-proto=802.1ad", "--force", "--json"],
            ["ens1f0", "0", "--state", "disable", "--min-tx-rate", "0", "--max-tx-rate", "1000", "--query-rss", "on",
             "--direct", "--simulated", "--state-dir", "/tmp/s"],
            ["--mac", "00:00:00:00:00:00", "ens1f0", "--trust", "on", "12"],
        ]
        for line in lines {
            let fast = try #require(FastPath.vfSet(line[...]), "the fast path declined \(line)")
            #expect(fast == argumentParser(line), "\(line)")
        }
        let first = try #require(FastPath.vfSet(lines[0][...]))
        #expect(first.pf == "ens1f0" && first.vf.value == 3 && first.mac?.description == "02:50:00:00:00:01")
        #expect(first.vlan == 100 && first.spoofCheck == true && first.trust == false && !first.force)
        #expect(first.door == DoorChoice(socket: "/run/s.sock", direct: false) && first.host == HostChoice())
        #expect(try #require(FastPath.vfSet(lines[2][...])).vlanProto == .dot1AD)
    }

    /// Lines ArgumentParser must see: help, the end-of-options marker, short or unknown options,
    /// repeats, bad or missing values, invalid combinations. The fast path declines each of them.
    @Test func everythingElseGoesToArgumentParser() {
        let lines: [[String]] = [
            ["--help"], ["ens1f0", "0", "-h"], ["ens1f0", "0", "--vlan", "7", "--help"], ["ens1f0", "--", "0", "--vlan", "7"],
            ["ens1f0", "0", "--vlan", "7", "--vlan", "8"], ["ens1f0", "0", "--vlan", "7", "--force", "--force"],
            ["ens1f0", "0", "--vlan", "4095"], ["ens1f0", "0", "--vlan", "-1"], ["ens1f0", "0", "--mac", "zz"],
            ["ens1f0", "0", "--mac"], ["ens1f0", "0"], ["ens1f0", "--vlan", "7"], ["ens1f0", "0", "1", "--vlan", "7"],
            ["ens1f0", "-1", "--vlan", "7"], ["ens1f0", "0", "--qos", "3"], ["ens1f0", "0", "--vlan", "7", "--bogus"],
            ["ens1f0", "0", "--vlan", "7", "--force=yes"], ["ens1f0", "0", "--vlan", "7", "--socket", ""],
            ["ens1f0", "0", "--vlan", "7", "--state-dir", "/tmp/x"], ["ens1f0", "0", "--vlan", "7", "--direct", "--socket", "/s"],
            ["ens1f0", "0", "--vlan", "7", "--direct", "--simulated", "--sysfs-root", "/sys2"],
            ["ens1f0", "0", "--vlan", "7", "--direct", "--state-dir", ""], ["", "0", "--vlan", "7"],
        ]
        for line in lines {
            #expect(FastPath.vfSet(line[...]) == nil, "the fast path took \(line)")
        }
    }

    /// Random command lines from valid and invalid pieces, in random order and both option forms:
    /// whenever the fast path takes one, ArgumentParser takes it too, with the same result.
    @Test func randomCommandLinesNeverDisagree() {
        var random = SplitMix(seed: 0x5EED_0F_FA57)
        let values: [(String, [String])] = [
            ("--mac", ["02:00:00:00:00:01", "52:54:00:12:34:56", "00:00:00:00:00:00", "01:00:5e:00:00:01", "zz", "-x"]),
            ("--vlan", ["0", "7", "4094", "4095", "-1", "abc", "+5"]),
            ("--qos", ["0", "7", "8"]), ("--vlan-proto", ["802.1Q", "802.1ad", "8021q"]),
            ("--spoofchk", ["on", "off", "yes"]), ("--trust", ["on", "off", "true"]), ("--query-rss", ["on", "off"]),
            ("--state", ["auto", "enable", "disable", "up"]),
            ("--min-tx-rate", ["0", "100", "-5", "x"]), ("--max-tx-rate", ["0", "25000", "4294967296"]),
            ("--socket", ["/tmp/s.sock", ""]), ("--config", ["/etc/sriovd/x.yaml"]), ("--state-dir", ["/tmp/st", ""]),
            ("--sysfs-root", ["/sys2"]), ("--procfs-root", ["/proc2"]),
        ]
        let flags = ["--force", "--json", "--direct", "--force", "--json", "--direct", "--simulated", "--bogus", "-h", "--"]
        let pfs = ["ens1f0", "0000:3b:00.0", "-1", ""]
        let vfs = ["0", "3", "65535", "65536", "-1", "x"]
        var taken = 0
        for _ in 0..<4_000 {
            // Mostly a PF and a VF (as valid lines have), sometimes one too few or too many.
            var pieces: [[String]] = [[pfs[random.next(below: 4) == 0 ? random.next(below: pfs.count) : 0]],
                                      [vfs[random.next(below: 4) == 0 ? random.next(below: vfs.count) : 1]]]
            switch random.next(below: 10) {
            case 0: pieces.removeLast()
            case 1: pieces.append(["7"])
            default: break
            }
            let line = random.commandLine(pieces, options: random.next(below: 6), values: values, flags: flags)
            guard let fast = FastPath.vfSet(line[...]) else { continue }
            taken += 1
            #expect(fast == argumentParser(line), "\(line)")
        }
        // The generator makes enough valid lines for the agreement to mean something.
        #expect(taken >= 150, "only \(taken) of 4,000 random lines took the fast path")
    }
}

/// Command lines from the shared generator (SRIOVTestSupport's SplitMix), so a failure names a line
/// that can be replayed.
extension SplitMix {
    /// `pieces` plus `options` random options (mostly a valued one with its first, valid value,
    /// sometimes any value, in either form; sometimes a flag), all in random order.
    mutating func commandLine(_ pieces: [[String]], options: Int, values: [(String, [String])], flags: [String]) -> [String] {
        var pieces = pieces
        for _ in 0..<options {
            if next(below: 6) == 0 {
                pieces.append([flags[next(below: flags.count)]])
            } else {
                let (name, choices) = values[next(below: values.count)]
                let value = choices[next(below: 3) == 0 ? next(below: choices.count) : 0]
                pieces.append(next(below: 3) == 0 ? ["\(name)=\(value)"] : [name, value])
            }
        }
        for i in pieces.indices.reversed() where i > 0 { pieces.swapAt(i, next(below: i + 1)) }
        return pieces.flatMap { $0 }
    }
}
