import Foundation
import Testing
import SRIOVCore
import SRIOVTestSupport
@testable import SRIOVConfig

@Suite("SRIOVConfig: reading the file")
struct ConfigFileTests {
    @Test func missingFileIsNotFound() {
        #expect {
            try SRIOVConfig.load(path: "/nonexistent/sriovd.yaml")
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .notFound && e?.errno == Errno.ENOENT && e?.message.hasPrefix("/nonexistent/sriovd.yaml: no such config file") == true
        }
    }

    @Test func directoryIsRefused() throws {
        let dir = try TempDirectory("config")
        #expect {
            try SRIOVConfig.load(path: dir.path)
        } throws: { ($0 as? SRIOVError)?.message.contains("is not a regular file") == true }
    }

    @Test func loadNamesTheFileInErrorsAndResults() throws {
        let dir = try TempDirectory("config")
        try dir.file("ok.yaml", "pools:\n  - name: a\n    selectors: [{pf: ens1f0}]\n")
        try dir.file("bad.yaml", "pools:\n  - name: a\n    selectorz: []\n")
        try dir.file("syntax.yaml", "pools: [\n")
        #expect(try SRIOVConfig.load(path: dir.path + "/ok.yaml").source == dir.path + "/ok.yaml")
        #expect {
            try SRIOVConfig.load(path: dir.path + "/bad.yaml")
        } throws: { ($0 as? SRIOVError)?.message.hasPrefix("\(dir.path)/bad.yaml: pools[0].selectorz (line 3): unknown key") == true }
        #expect {
            try SRIOVConfig.load(path: dir.path + "/syntax.yaml")
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .corrupt && e?.message.hasPrefix("\(dir.path)/syntax.yaml (line 2") == true
        }
    }

    @Test func notUTF8IsCorrupt() throws {
        let dir = try TempDirectory("config")
        let path = dir.path + "/latin1.yaml"
        // "pools: é" in Latin-1.
        try Data([0x70, 0x6f, 0x6f, 0x6c, 0x73, 0x3a, 0x20, 0xe9, 0x0a]).write(to: URL(fileURLWithPath: path))
        #expect {
            try SRIOVConfig.load(path: path)
        } throws: { ($0 as? SRIOVError)?.code == .corrupt }
    }
}
