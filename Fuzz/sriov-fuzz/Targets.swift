/// One fuzz target: a name (`SRIOV_FUZZ_TARGET`, the corpus folder) and the properties it checks for an input.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable ([UInt8]) throws(FuzzFailure) -> Void
}

enum Targets {
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "journal", summary: "journal.jsonl: record codec and the start-up/verify scan", run: JournalTarget.run),
        FuzzTarget(name: "statedir", summary: "journal.jsonl NUL snapshot.json: start-up (Journal.open) against journal verify", run: StateDirectoryTarget.run),
        FuzzTarget(name: "snapshot", summary: "snapshot.json: the snapshot file's codec, then its lease book", run: SnapshotTarget.run),
        FuzzTarget(name: "leasebook", summary: "a snapshot's data: LeaseBook JSON decode and JSONWriter re-encode", run: LeaseBookTarget.run),
        FuzzTarget(name: "record", summary: "a journal record's payload: LeaseEvent decode and re-encode (byte 0 picks the type)", run: RecordTarget.run),
        FuzzTarget(name: "config", summary: "sriovd.yaml: SRIOVConfig.parse and resolve against the simulated standard host", run: ConfigTarget.run),
        FuzzTarget(name: "netlink", summary: "an RTM_NEWLINK reply: LinkMessageParser.parse", run: NetlinkTarget.run),
        FuzzTarget(name: "uevent", summary: "a kernel uevent datagram: UeventParser.parse (the host watch)", run: UeventTarget.run),
        FuzzTarget(name: "bodies", summary: "HTTP request bodies (byte 0 picks acquire, renew, numvfs or VF settings)", run: BodiesTarget.run),
        FuzzTarget(name: "addresses", summary: "PCI address, MAC, VLAN, interface name, lease id, listen address parsers", run: AddressesTarget.run),
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}
