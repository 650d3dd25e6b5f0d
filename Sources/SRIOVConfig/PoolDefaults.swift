import SRIOVCore

/// A pool's `defaults:`: the VF settings every lease from the pool gets unless the request overrides them.
enum PoolDefaults {
    static let keys = ["mac", "vlan", "qos", "vlan_proto", "spoofchk", "trust", "link_state",
                       "min_tx_rate", "max_tx_rate", "query_rss"]

    static func parse(_ value: YAMLValue) throws(SRIOVError) -> VFSettings {
        let map = try value.mapping("a pool's defaults", keys: keys)
        var settings = VFSettings()
        if let v = map["mac"] {
            do throws(SRIOVError) { settings.mac = try MACAddress(assignable: v.string("a MAC address")) } catch { throw v.fail(error) }
        }
        let id = try map.optional("vlan") { v throws(SRIOVError) in try vlanID(v) }
        let qos = try map.optional("qos") { v throws(SRIOVError) in try v.int("qos (VLAN priority)", in: 0...7) }
        let proto = try map.optional("vlan_proto") { v throws(SRIOVError) -> VLANProtocol in
            do throws(SRIOVError) { return try VLANProtocol(parsing: v.string("a VLAN protocol")) } catch { throw v.fail(error) }
        }
        if let id {
            do throws(SRIOVError) { settings.vlan = try VLAN(id: id, qos: qos ?? 0, proto: proto ?? .dot1Q) } catch {
                throw map["vlan"].map { $0.fail(error) } ?? value.fail(error)
            }
        } else {
            for key in ["qos", "vlan_proto"] {
                if let v = map[key] {
                    throw v.fail("\(key) only applies together with vlan; add vlan: <id> or remove \(key)")
                }
            }
        }
        settings.spoofCheck = try map.optional("spoofchk") { v throws(SRIOVError) in try v.bool("spoofchk") }
        settings.trust = try map.optional("trust") { v throws(SRIOVError) in try v.bool("trust") }
        settings.linkState = try map.optional("link_state") { v throws(SRIOVError) -> VFLinkState in
            do throws(SRIOVError) { return try VFLinkState(parsing: v.string("a link state")) } catch { throw v.fail(error) }
        }
        settings.minTxRate = try map.optional("min_tx_rate") { v throws(SRIOVError) in try rate(v, "min_tx_rate") }
        settings.maxTxRate = try map.optional("max_tx_rate") { v throws(SRIOVError) in try rate(v, "max_tx_rate") }
        settings.queryRSS = try map.optional("query_rss") { v throws(SRIOVError) in try v.bool("query_rss") }
        do throws(SRIOVError) { try settings.validate() } catch { throw (map["min_tx_rate"] ?? value).fail(error) }
        return settings
    }

    /// A VLAN id, with VLAN's own explanation for 4095 and friends.
    static func vlanID(_ value: YAMLValue) throws(SRIOVError) -> Int {
        let id = try value.int("vlan", in: Int.min...Int.max)
        do throws(SRIOVError) { _ = try VLAN(id: id) } catch { throw value.fail(error) }
        return id
    }

    static func rate(_ value: YAMLValue, _ what: String) throws(SRIOVError) -> UInt32 {
        UInt32(try value.int("\(what) (Mbit/s, 0 = no limit)", in: 0...Int(UInt32.max)))
    }
}
