import Foundation
import Testing
import SRIOVCore
@testable import SRIOVConfig

@Suite("SRIOVConfig: the access section")
struct AccessConfigTests {
    static let pools = """
        pools:
          - name: uplink
            selectors: [{vfs: "ens1f0#0-3"}]
          - name: storage
            selectors: [{pf: ens1f1, range: 0-7}]

        """

    @Test func parsesEveryKey() throws {
        let config = try SRIOVConfig.parse(yaml: Self.pools + """
            access:
              socket_group: sriovd
              listen_tcp: "[::1]:8443"
              tokens_file: /etc/sriovd/tokens
              tenants:
                - name: nfv
                  uids: [1000, 1001]
                  gids: 2000
                  pools: [uplink, uplink]
                  max_leases: 8
                  max_vfs: 16
                  rights: [trust, spoofchk_off, mac]
                - name: orch
                  tokens: [orch-1, "orch.2"]
                  pools: ["*"]
                  rights: admin
                - name: readers
                  gids: [3000]
            """, source: "a.yaml")
        let access = try #require(config.access)
        #expect(access.socketGroup == "sriovd")
        #expect(access.listenTCP == ListenAddress(host: "::1", port: 8443))
        #expect(access.tokensFile == "/etc/sriovd/tokens")
        #expect(access.tenants == [
            TenantConfig(name: "nfv", uids: [1000, 1001], gids: [2000], pools: .only(["uplink"]), maxLeases: 8, maxVFs: 16,
                         rights: [.trust, .spoofchkOff, .mac], keyPath: "access.tenants[0]"),
            TenantConfig(name: "orch", tokens: ["orch-1", "orch.2"], pools: .all, rights: [.admin], keyPath: "access.tenants[1]"),
            TenantConfig(name: "readers", gids: [3000], keyPath: "access.tenants[2]"),
        ])
        #expect(access.tenants[1].has(.trust) && !access.tenants[0].has(.admin) && !access.tenants[2].has(.mac))
        #expect(access.tenants[2].pools.description == "no pool" && !access.tenants[2].pools.contains("uplink"))
    }

    @Test func noSectionMeansTheBuiltInPolicy() throws {
        #expect(try SRIOVConfig.parse(yaml: Self.pools, source: "a.yaml").access == nil)
        #expect(try SRIOVConfig.parse(yaml: Self.pools + "access:\n", source: "a.yaml").access == nil)
        #expect(try SRIOVConfig.parse(yaml: Self.pools + "access: {}\n", source: "a.yaml").access == AccessConfig())
    }

    /// The sample's access section is commented out (so the README demo works as any user); once
    /// uncommented, as an operator would, it is valid.
    @Test func samplesCommentedAccessSectionIsValid() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sample = try String(contentsOf: repo.appendingPathComponent("Config/sriovd.yaml"), encoding: .utf8)
        #expect(try SRIOVConfig.parse(yaml: sample, source: "sample").access == nil)
        let lines = sample.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: "# access:"))
        let uncommented = lines[..<start] + lines[start...].map { $0.hasPrefix("# ") ? $0.dropFirst(2) : $0 }
        let config = try SRIOVConfig.parse(yaml: uncommented.joined(separator: "\n"), source: "sample")
        let access = try #require(config.access)
        #expect(access.tenants.map(\.name) == ["nfv", "orch"])
        #expect(access.listenTCP?.isLoopback == true)
    }

    static let tenant = pools + "access:\n  tenants:\n    - name: t\n"

    static let bad: [ConfigParseTests.Bad] = [
        .init(name: "unknown pool in a tenant", yaml: tenant + "      uids: [1]\n      pools: [uplnk]\n",
              expect: ["bad.yaml: access.tenants[0].pools[0] (line 10)", "tenant t names pool 'uplnk', which is not configured",
                       "did you mean 'uplink'?", "configured pools: uplink, storage"]),
        .init(name: "unknown key in a tenant", yaml: tenant + "      uids: [1]\n      max_vf: 3\n",
              expect: ["access.tenants[0].max_vf (line 10)", "unknown key 'max_vf' in a tenant", "did you mean 'max_vfs'?"]),
        .init(name: "unknown key in access", yaml: pools + "access:\n  tenant: []\n",
              expect: ["access.tenant (line 7)", "did you mean 'tenants'?", "allowed keys: tenants, tokens_file, listen_tcp or socket_group"]),
        .init(name: "unknown right", yaml: tenant + "      uids: [1]\n      rights: [trusted]\n",
              expect: ["access.tenants[0].rights[0]", "unknown right 'trusted'", "did you mean 'trust'?"]),
        .init(name: "a tenant that names nobody", yaml: tenant + "      pools: [uplink]\n",
              expect: ["access.tenants[0] (line 8)", "tenant t names nobody"]),
        .init(name: "tokens without a tokens file", yaml: tenant + "      tokens: [a]\n",
              expect: ["access.tenants[0].tokens", "access.tokens_file is not set"]),
        .init(name: "a uid in two tenants", yaml: tenant + "      uids: [1000]\n    - name: u\n      uids: [7, 1000]\n",
              expect: ["access.tenants[1]", "uid 1000 is already in tenant t"]),
        .init(name: "a gid in two tenants", yaml: tenant + "      gids: [5]\n    - name: u\n      gids: 5\n",
              expect: ["access.tenants[1]", "gid 5 is already in tenant t"]),
        .init(name: "a token in two tenants",
              yaml: pools + "access:\n  tokens_file: /t\n  tenants:\n    - {name: a, tokens: [x]}\n    - {name: b, tokens: [x]}\n",
              expect: ["access.tenants[1]", "token 'x' is already in tenant a"]),
        .init(name: "duplicate tenant names", yaml: tenant + "      uids: [1]\n    - name: t\n      uids: [2]\n",
              expect: ["access.tenants[1]", "tenant name 't' is already used"]),
        .init(name: "invalid tenant name", yaml: pools + "access:\n  tenants:\n    - {name: Ops, uids: [1]}\n",
              expect: ["access.tenants[0].name", "invalid tenant name 'Ops'"]),
        .init(name: "a quoted uid", yaml: tenant + "      uids: [\"1000\"]\n",
              expect: ["access.tenants[0].uids[0]", "remove the quotes"]),
        .init(name: "uid -1", yaml: tenant + "      uids: [4294967295]\n",
              expect: ["access.tenants[0].uids[0]", "out of range"]),
        .init(name: "star and names", yaml: tenant + "      uids: [1]\n      pools: [\"*\", uplink]\n",
              expect: ["access.tenants[0].pools", "\"*\" already means every pool"]),
        .init(name: "listen_tcp without a port", yaml: pools + "access:\n  listen_tcp: 127.0.0.1\n",
              expect: ["access.listen_tcp (line 7)", "no port"]),
        .init(name: "listen_tcp with an unbracketed IPv6", yaml: pools + "access:\n  listen_tcp: \"::1:8443\"\n",
              expect: ["access.listen_tcp", "put an IPv6 address in brackets"]),
        .init(name: "listen_tcp port out of range", yaml: pools + "access:\n  listen_tcp: \"127.0.0.1:70000\"\n",
              expect: ["access.listen_tcp", "port '70000' is not 0-65535"]),
        .init(name: "a bad socket group", yaml: pools + "access:\n  socket_group: \"Bad Group\"\n",
              expect: ["access.socket_group", "invalid socket_group 'Bad Group'"]),
        .init(name: "an invalid token name", yaml: pools + "access:\n  tokens_file: /t\n  tenants:\n    - {name: a, tokens: [\"no space\"]}\n",
              expect: ["access.tenants[0].tokens[0]", "invalid token name 'no space'"]),
    ]

    @Test(arguments: bad)
    func refuses(_ c: ConfigParseTests.Bad) {
        do {
            let config = try SRIOVConfig.parse(yaml: c.yaml, source: "bad.yaml")
            Issue.record("accepted: \(config)")
        } catch {
            #expect(error.code == c.code, "\(error.message)")
            for fragment in c.expect {
                #expect(error.message.contains(fragment), "missing \(Quote.shell(fragment)) in: \(error.message)")
            }
        }
    }

    @Test(arguments: [
        ("127.0.0.1:8443", "127.0.0.1", 8443, true),
        ("[::1]:0", "::1", 0, true),
        ("localhost:80", "localhost", 80, true),
        ("0.0.0.0:8443", "0.0.0.0", 8443, false),
        ("[fe80::1%eth0]:9000", "fe80::1%eth0", 9000, false),
    ])
    func listenAddresses(_ text: String, _ host: String, _ port: Int, _ loopback: Bool) throws {
        let address = try ListenAddress.parse(text)
        #expect(address.host == host && address.port == port && address.isLoopback == loopback)
        #expect(try ListenAddress.parse(address.description) == address)
    }
}
