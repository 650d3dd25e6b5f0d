import SRIOVCore

// The journal's hot records written by hand (`JSONWriter`): members in sorted key order, nil ones left
// out, byte for byte what JSONEncoder writes for the Codable forms (LeaseRecordJSONTests).

extension LeaseID: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(value) }
}

extension Placement: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension LeaseState: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension ReleaseCause: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension LeaseCondition: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension LeaseStage: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(rawValue) }
}

extension LeaseRequest: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("consumer", consumer)
            w.member("count", count)
            w.member("deviceGroup", deviceGroup)
            w.member("deviceUser", deviceUser)
            w.member("numaNode", numaNode)
            w.member("owner", owner)
            w.member("placement", placement)
            w.member("pool", pool)
            w.member("requestID", requestID)
            w.member("settings", settings)
            w.member("ttlSeconds", ttlSeconds)
            if let vfs {
                w.key("vfs")
                w.array(vfs) { w, vf in vf.writeJSON(&w) }
            }
        }
    }
}

extension LeasedVF: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("index", index)
            w.member("iommuGroup", iommuGroup)
            w.member("numaNode", numaNode)
            w.member("pciAddress", pciAddress)
            w.member("pf", pf)
            w.member("pfInterface", pfInterface)
            w.member("previousDriver", previousDriver)
            w.member("saved", saved)
            w.member("settings", settings)
            w.member("stage", stage)
            w.member("vfioDevice", vfioDevice)
        }
    }
}

extension Lease: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("condition", condition)
            w.member("createdAt", createdAt)
            w.member("expiresAt", expiresAt)
            w.member("id", id)
            w.member("owner", owner)
            w.member("pool", pool)
            w.key("problems")
            w.array(problems) { w, p in w.string(p) }
            w.member("request", request)
            w.member("requestedBy", requestedBy)
            w.member("state", state)
            if let vfioGrants {
                w.key("vfioGrants")
                w.array(vfioGrants) { w, grant in grant.writeJSON(&w) }
            }
            w.key("vfs")
            w.array(vfs) { w, vf in vf.writeJSON(&w) }
        }
    }
}

extension VFIONodeOwnership: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("gid", gid)
            w.member("mode", mode)
            w.member("uid", uid)
        }
    }
}

extension VFIOGrant: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("granted", granted)
            w.member("group", group)
            w.member("node", node)
            w.member("previous", previous)
        }
    }
}

extension AuditRecord: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("action", action)
            w.member("result", result)
            w.member("target", target)
            w.member("time", time)
            w.member("who", who)
        }
    }
}

extension LeaseEvent {
    /// The record's payload as journal JSON: the same bytes as `payload()` through JSONEncoder.
    func payloadJSON() -> [UInt8] {
        var w = JSONWriter()
        switch self {
        case .reserved(let lease):
            lease.writeJSON(&w)
        case .saved(let lease, let vf, let state, let driver):
            w.object { w in
                w.member("driver", driver)
                w.member("lease", lease)
                w.member("state", state)
                w.member("vf", vf)
            }
        case .configuring(let lease, let vf), .binding(let lease, let vf), .returned(let lease, let vf):
            w.object { w in
                w.member("lease", lease)
                w.member("vf", vf)
            }
        case .activated(let lease, let devices):
            w.object { w in
                w.member("lease", lease)
                w.key("vfio")
                w.object { w in
                    for (address, node) in devices.map({ ($0.key.description, $0.value) }).sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }) {
                        w.key(address)
                        w.string(node)
                    }
                }
            }
        case .renewed(let lease, let expiresAt):
            w.object { w in
                w.member("expiresAt", expiresAt)
                w.member("lease", lease)
            }
        case .releasing(let lease, let cause, let reason):
            w.object { w in
                w.member("cause", cause)
                w.member("lease", lease)
                w.member("reason", reason)
            }
        case .released(let lease):
            w.object { w in w.member("lease", lease) }
        case .quarantined(let vf, let reason, let lease):
            w.object { w in
                w.member("lease", lease)
                w.member("reason", reason)
                w.member("vf", vf)
            }
        case .unquarantined(let vf):
            w.object { w in w.member("vf", vf) }
        case .drift(let lease, let vf, let reason):
            w.object { w in
                w.member("lease", lease)
                w.member("reason", reason)
                w.member("vf", vf)
            }
        case .marked(let lease, let condition, let reason):
            w.object { w in
                w.member("condition", condition)
                w.member("lease", lease)
                w.member("reason", reason)
            }
        case .vfDrift(let record):
            w.object { w in
                w.member("action", record.action.rawValue)
                w.key("changes")
                w.array(record.changes) { w, change in
                    w.object { w in
                        w.member("actual", change.actual)
                        w.member("field", change.field)
                        w.member("wanted", change.wanted)
                    }
                }
                w.member("index", record.index)
                w.member("interface", record.interface)
                w.member("lease", record.lease)
                w.member("vf", record.vf)
            }
        case .numVFsChanged(let change):
            w.object { w in
                w.member("after", change.after)
                w.member("before", change.before)
                w.member("interface", change.interface)
                w.member("pf", change.pf)
                w.member("requestedBy", change.requestedBy)
            }
        case .vfioGranted(let lease, let grant):
            w.object { w in
                w.member("grant", grant)
                w.member("lease", lease)
            }
        case .pfLink(let r):
            r.writeJSON(&w)
        case .pfDraining(let r):
            r.writeJSON(&w)
        case .pfUndrained(let r):
            w.object { w in
                w.member("interface", r.interface)
                w.member("pf", r.pf)
                w.member("requestedBy", r.requestedBy)
            }
        case .audit(let record):
            record.writeJSON(&w)
        }
        return w.bytes
    }
}

extension Quarantine: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("lease", lease)
            w.member("reason", reason)
            w.member("since", since)
        }
    }
}

extension LeaseBook: JSONWritable {
    /// The snapshot document (megabytes with a full audit list: written by hand, off the engine's actor).
    public func writeJSON(_ w: inout JSONWriter) {
        func sortedKeys<V>(_ d: [String: V]) -> [String] { d.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
        w.object { w in
            w.key("audit")
            w.array(audit) { w, record in record.writeJSON(&w) }
            w.key("draining")
            w.object { w in
                for pf in sortedKeys(draining) { if let entry = draining[pf] { w.key(pf); entry.writeJSON(&w) } }
            }
            w.key("leases")
            w.object { w in
                for id in sortedKeys(leases) { if let lease = leases[id] { w.key(id); lease.writeJSON(&w) } }
            }
            w.key("quarantine")
            w.object { w in
                for vf in sortedKeys(quarantine) { if let entry = quarantine[vf] { w.key(vf); entry.writeJSON(&w) } }
            }
            w.key("requestIndex")
            w.object { w in
                for rid in sortedKeys(requestIndex) { if let id = requestIndex[rid] { w.key(rid); id.writeJSON(&w) } }
            }
            w.member("seq", seq)
            w.key("unarchivedAudit")
            w.array(unarchivedAudit) { w, record in record.writeJSON(&w) }
        }
    }
}
