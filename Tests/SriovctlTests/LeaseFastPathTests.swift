import ArgumentParser
import SRIOVCore
import SRIOVLeasing
import SRIOVTestSupport
import Testing
@testable import sriovctl

/// The fast path parses `lease acquire` and `lease release` without ArgumentParser; it must never
/// disagree with it (see FastPathTests for `vf set` and the parser thread).
@Suite("sriovctl's lease fast path agrees with ArgumentParser", .ownThread)
struct LeaseFastPathTests {
    func acquireParser(_ arguments: [String]) -> LeaseAcquireInvocation? {
        FastPathTests.ParserThread.shared.run { (try? LeaseAcquire.parse(arguments))?.invocation }
    }

    func releaseParser(_ arguments: [String]) -> LeaseReleaseInvocation? {
        FastPathTests.ParserThread.shared.run { (try? LeaseRelease.parse(arguments))?.invocation }
    }

    @Test func theBenchmarkAndScriptLinesTakeTheFastPath() throws {
        let acquires: [[String]] = [
            ["--pool", "bench", "--owner", "bench-cli", "--json"],
            ["--pool", "bench", "--owner", "bench-cli", "--json", "--direct", "--config", "/tmp/d/direct.yaml", "--state-dir", "/tmp/d/direct"],
            ["--pool=uplink", "--owner=vm1", "--count=2", "--placement=spread", "--numa", "1", "--ttl", "1h30m", "--request-id", "r-1",
             "--socket", "/run/s.sock"],
            ["--owner", "vm1", "--pool", "uplink", "--mac", "02:50:00:00:00:01", "--vlan", "100", "--qos", "3", "--trust", "on",
             "--spoofchk", "off", "--min-tx-rate", "10", "--max-tx-rate", "1000", "--consumer", "pid:4242",
             "--device-user", "qemu", "--device-group", "kvm", "--direct", "--simulated", "--state-dir", "/tmp/s"],
        ]
        for line in acquires {
            let fast = try #require(FastPath.leaseAcquire(line[...]), "the fast path declined \(line)")
            #expect(fast == acquireParser(line), "\(line)")
        }
        let first = try #require(FastPath.leaseAcquire(acquires[0][...]))
        #expect(first.request == LeaseRequest(pool: "bench", owner: "bench-cli", count: 1))
        #expect(first.json && first.door == DoorChoice() && first.host == HostChoice() && first.configPath == nil)
        let full = try #require(FastPath.leaseAcquire(acquires[3][...])).request
        #expect(full.settings.vlan == (try VLAN(id: 100, qos: 3)) && full.settings.trust == true && full.settings.spoofCheck == false)
        #expect(full.consumer?.description == "pid:4242" && full.deviceUser == "qemu" && full.deviceGroup == "kvm")
        #expect(try #require(FastPath.leaseAcquire(acquires[2][...])).request.ttlSeconds == 5400)

        let releases: [[String]] = [
            ["l-0123456789abcdef"], ["l-0123456789abcdef", "--socket", "/run/s.sock"],
            ["--direct", "l-0123456789abcdef", "--config=/tmp/d/direct.yaml", "--state-dir", "/tmp/d/direct"],
            ["l-0123456789abcdef", "--direct", "--simulated", "--state-dir", "/tmp/s"],
        ]
        for line in releases {
            let fast = try #require(FastPath.leaseRelease(line[...]), "the fast path declined \(line)")
            #expect(fast == releaseParser(line), "\(line)")
        }
        #expect(try #require(FastPath.leaseRelease(releases[0][...])).id.value == "l-0123456789abcdef")
    }

    /// Lines ArgumentParser must see: help, missing or repeated options, `--vf`, bad values, invalid
    /// combinations. The fast path declines each of them.
    @Test func everythingElseGoesToArgumentParser() {
        let acquires: [[String]] = [
            ["--help"], ["--pool", "p", "--owner", "o", "-h"], ["--pool", "p"], ["--owner", "o"], ["--pool", "p", "--owner", "o", "extra"],
            ["--pool", "p", "--owner", "o", "--vf", "0000:3b:02.0"], ["--pool", "p", "--owner", "o", "--pool", "q"],
            ["--pool", "p", "--owner", "o", "--vlan", "4095"], ["--pool", "p", "--owner", "o", "--vlan", "-1"],
            ["--pool", "p", "--owner", "o", "--qos", "3"], ["--pool", "p", "--owner", "o", "--placement", "random"],
            ["--pool", "p", "--owner", "o", "--count", "0"], ["--pool", "p", "--owner", "o", "--count", "x"],
            ["--pool", "p", "--owner", "o", "--ttl", "forever"], ["--pool", "p", "--owner", "o", "--consumer", "vm:1"],
            ["--pool", "p", "--owner", "o", "--mac", "zz"], ["--pool", "p", "--owner", "o", "--trust", "maybe"],
            ["--pool", "p", "--owner", "o", "--state-dir", "/tmp/x"], ["--pool", "p", "--owner", "o", "--direct", "--socket", "/s"],
            ["--pool", "p", "--owner", "o", "--direct", "--simulated", "--sysfs-root", "/sys2"], ["--pool", "", "--owner", "o"],
            ["--pool", "p", "--owner", "o", "--json", "--json"], ["--pool", "p", "--owner", "o", "--json=yes"], ["--", "--pool", "p", "--owner", "o"],
        ]
        for line in acquires {
            #expect(FastPath.leaseAcquire(line[...]) == nil, "the fast path took \(line)")
        }
        let releases: [[String]] = [
            [], ["--help"], ["l-0123456789abcdef", "-h"], ["x-1"], ["l-0123456789abcdef", "l-0123456789abcdef"],
            ["l-0123456789abcdef", "--config", "/c.yaml"], ["l-0123456789abcdef", "--direct", "--socket", "/s"], ["--", "l-0123456789abcdef"],
            ["l-0123456789abcdef", "--bogus"], ["l-0123456789abcdef", "--socket", ""],
        ]
        for line in releases {
            #expect(FastPath.leaseRelease(line[...]) == nil, "the fast path took \(line)")
        }
    }

    /// Random command lines from valid and invalid pieces, in random order and both option forms:
    /// whenever the fast path takes one, ArgumentParser takes it too, with the same result.
    @Test func randomCommandLinesNeverDisagree() {
        var random = SplitMix(seed: 0x1EA5_E0F_FA57)
        let values: [(String, [String])] = [
            ("--count", ["2", "1", "64", "65", "0", "+3", "x"]), ("--consumer", ["pid:42", "libvirt:6f1c5c8e-0b8a-4c1e-9d1a-0f0e0d0c0b0a", "unit:x.service", "vm:1"]),
            ("--numa", ["0", "1", "-1", "x"]), ("--placement", ["spread", "pack", "random"]),
            ("--mac", ["02:00:00:00:00:01", "01:00:5e:00:00:01", "zz"]), ("--vlan", ["7", "0", "4094", "4095", "-1"]),
            ("--qos", ["3", "0", "8"]), ("--trust", ["on", "off", "true"]), ("--spoofchk", ["off", "on", "1"]),
            ("--min-tx-rate", ["10", "0", "x"]), ("--max-tx-rate", ["1000", "4294967296"]), ("--ttl", ["1h", "90", "30m15s", "0s", "1y"]),
            ("--request-id", ["r-1", "retry"]), ("--device-user", ["qemu", "107"]), ("--device-group", ["kvm", "36"]),
            ("--socket", ["/tmp/s.sock", ""]), ("--config", ["/etc/sriovd/x.yaml"]), ("--state-dir", ["/tmp/st", ""]),
            ("--sysfs-root", ["/sys2"]), ("--procfs-root", ["/proc2"]), ("--vf", ["0000:3b:02.0"]),
        ]
        let flags = ["--json", "--direct", "--json", "--direct", "--simulated", "--bogus", "-h", "--"]
        var taken = 0
        for _ in 0..<3_000 {
            var pieces: [[String]] = []
            if random.next(below: 12) != 0 { pieces.append(random.next(below: 2) == 0 ? ["--pool", "uplink"] : ["--pool=uplink"]) }
            if random.next(below: 12) != 0 { pieces.append(["--owner", random.next(below: 8) == 0 ? "" : "vm1"]) }
            if random.next(below: 20) == 0 { pieces.append(["stray"]) }
            let line = random.commandLine(pieces, options: random.next(below: 5), values: values, flags: flags)
            guard let fast = FastPath.leaseAcquire(line[...]) else { continue }
            taken += 1
            #expect(fast == acquireParser(line), "\(line)")
        }
        #expect(taken >= 150, "only \(taken) of 3,000 random lines took the fast path")

        let ids = ["l-0123456789abcdef", "l-0123456789abcdef", "l-x", "", "-l"]
        let releaseValues: [(String, [String])] = [("--socket", ["/s"]), ("--config", ["/c.yaml"]), ("--state-dir", ["/st"]),
                                                   ("--sysfs-root", ["/sys2"])]
        let releaseFlags = ["--direct", "--simulated", "--bogus", "--json"]
        var releasesTaken = 0
        for _ in 0..<1_000 {
            var pieces: [[String]] = [[ids[random.next(below: ids.count)]]]
            if random.next(below: 15) == 0 { pieces.append([ids[0]]) }
            if random.next(below: 15) == 0 { pieces.removeAll() }
            let line = random.commandLine(pieces, options: random.next(below: 4), values: releaseValues, flags: releaseFlags)
            guard let fast = FastPath.leaseRelease(line[...]) else { continue }
            releasesTaken += 1
            #expect(fast == releaseParser(line), "\(line)")
        }
        #expect(releasesTaken >= 100, "only \(releasesTaken) of 1,000 random release lines took the fast path")
    }
}
