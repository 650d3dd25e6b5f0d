import SRIOVCore

// The lease records read by hand (`JSONReader`): the same members and the same refusals as the
// synthesized `Codable` forms, which decode whatever these miss (LeaseReadingTests compare both).

extension LeaseRequest {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(pool: try r.string("pool"), owner: try r.string("owner"), count: try r.int("count"),
                  numaNode: try r.int(ifPresent: "numaNode"), placement: try r.raw("placement", as: Placement.self),
                  settings: try VFSettings(reading: r.member("settings")), ttlSeconds: try r.int(ifPresent: "ttlSeconds"),
                  requestID: try r.string(ifPresent: "requestID"),
                  consumer: try r.parsed(ifPresent: "consumer") { (t: String) throws(SRIOVError) in try LeaseConsumer(parsing: t) },
                  vfs: try r.member(ifPresent: "vfs").map { (list: JSONReader) throws(JSONReader.Miss) in
                      var vfs: [PCIAddress] = []
                      for element in try list.elements() {
                          vfs.append(try element.parsed { (t: String) throws(SRIOVError) in try PCIAddress(parsing: t) })
                      }
                      return vfs
                  },
                  deviceUser: try r.string(ifPresent: "deviceUser"), deviceGroup: try r.string(ifPresent: "deviceGroup"))
    }
}

extension LeasedVF {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(pciAddress: try r.parsed("pciAddress") { (t: String) throws(SRIOVError) in try PCIAddress(parsing: t) },
                  pf: try r.parsed("pf") { (t: String) throws(SRIOVError) in try PCIAddress(parsing: t) },
                  pfInterface: try r.parsed(ifPresent: "pfInterface") { (t: String) throws(SRIOVError) in try InterfaceName(parsing: t) },
                  index: try r.int("index"), iommuGroup: try r.int(ifPresent: "iommuGroup"), numaNode: try r.int(ifPresent: "numaNode"),
                  vfioDevice: try r.string(ifPresent: "vfioDevice"), settings: try VFSettings(reading: r.member("settings")),
                  saved: try r.member(ifPresent: "saved").map { (v: JSONReader) throws(JSONReader.Miss) in try VFState(reading: v) },
                  previousDriver: try r.string(ifPresent: "previousDriver"), stage: try r.raw("stage", as: LeaseStage.self))
    }
}

extension VFIOGrant {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(group: try r.int("group"), node: try r.string("node"), granted: try VFIONodeOwnership(reading: r.member("granted")),
                  previous: try VFIONodeOwnership(reading: r.member("previous")))
    }
}

extension Lease {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        var vfs: [LeasedVF] = []
        for element in try r.member("vfs").elements() { vfs.append(try LeasedVF(reading: element)) }
        var problems: [String] = []
        for element in try r.member("problems").elements() { problems.append(try element.string()) }
        var grants: [VFIOGrant]?
        if let list = try r.member(ifPresent: "vfioGrants") {
            var all: [VFIOGrant] = []
            for element in try list.elements() { all.append(try VFIOGrant(reading: element)) }
            grants = all
        }
        self.init(id: try r.parsed("id") { (t: String) throws(SRIOVError) in try LeaseID(parsing: t) },
                  owner: try r.string("owner"), pool: try r.string("pool"), request: try LeaseRequest(reading: r.member("request")),
                  vfs: vfs, state: try r.raw("state", as: LeaseState.self), createdAt: try r.double("createdAt"),
                  expiresAt: try r.double(ifPresent: "expiresAt"), requestedBy: try r.string(ifPresent: "requestedBy"),
                  problems: problems, condition: try r.raw(ifPresent: "condition", as: LeaseCondition.self), vfioGrants: grants)
    }
}

extension AuditRecord {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(time: try r.double("time"), who: try r.string("who"), action: try r.string("action"),
                  target: try r.string("target"), result: try r.string("result"))
    }
}

extension Quarantine {
    public init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init(reason: try r.string("reason"), since: try r.double("since"),
                  lease: try r.parsed(ifPresent: "lease") { (t: String) throws(SRIOVError) in try LeaseID(parsing: t) })
    }
}
