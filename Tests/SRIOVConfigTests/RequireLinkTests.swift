import Testing
import SRIOVConfig
import SRIOVCore

@Suite("Config: require_link")
struct RequireLinkTests {
    static func yaml(_ line: String) -> String {
        """
        pools:
          - name: uplink
        \(line)
            selectors:
              - vfs: "ens1f0#0-3"
        """
    }

    @Test func defaultsToUpAndTakesAny() throws {
        #expect(try SRIOVConfig.parse(yaml: Self.yaml(""), source: "t.yaml").pools.first?.requireLink == .up)
        #expect(try SRIOVConfig.parse(yaml: Self.yaml("    require_link: any"), source: "t.yaml").pools.first?.requireLink == .any)
        #expect(try SRIOVConfig.parse(yaml: Self.yaml("    require_link: up"), source: "t.yaml").pools.first?.requireLink == .up)
    }

    @Test func anUnknownValueIsRefusedWithTheChoices() throws {
        let error = #expect(throws: SRIOVError.self) {
            try SRIOVConfig.parse(yaml: Self.yaml("    require_link: carrier"), source: "t.yaml")
        }
        #expect(error?.message.contains("unknown require_link 'carrier'; use up") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("or any") == true)
    }
}
