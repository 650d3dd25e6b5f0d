import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// The `<lease>` argument of release, renew and show.
struct LeaseIDArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The lease id (l-...).", valueName: "lease"),
              transform: { s in try Parse.wrap { () throws(SRIOVError) in try LeaseID(parsing: s) } })
    var id: LeaseID
}
