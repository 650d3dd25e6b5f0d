import Foundation
import SRIOVAPI
import SRIOVCore

/// The HTTP API's request bodies, decoded as sriovd decodes them (`JSONDecoder`); byte 0 picks the body
/// (acquire, renew, numvfs, VF settings), the rest is the JSON.
///
/// Properties: a decoded body, encoded, decodes to the same body; its checks (`request`, `settings`,
/// `timeout`) either give a value or an `.invalidArgument` error that explains itself; a checked value
/// sent back the way sriovctl sends it (`AcquireBody(request)`, `VFSettingsBody(settings)`) checks to
/// the same value.
enum BodiesTarget {
    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        guard let selector = bytes.first else { return }
        let json = Data(bytes.dropFirst())
        switch selector % 4 {
        case 0: try acquire(json)
        case 1: try renew(json)
        case 2: try numVFs(json)
        default: try vfSettings(json)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) -> T? { try? JSONDecoder().decode(type, from: data) }

    static func roundTrip<T: Codable & Equatable>(_ body: T) throws(FuzzFailure) {
        let encoded: Data
        do { encoded = try JSONEncoder().encode(body) } catch {
            throw FuzzFailure(description: "\(T.self) decoded but does not encode: \(error)")
        }
        do {
            let again = try JSONDecoder().decode(T.self, from: encoded)
            try require(again == body, "\(T.self) changes through JSON: \(show(Array(encoded)))")
        } catch let failure as FuzzFailure {
            throw failure
        } catch {
            throw FuzzFailure(description: "\(T.self) encoded by JSONEncoder does not decode: \(error)\n  \(show(Array(encoded)))")
        }
    }

    static func acquire(_ json: Data) throws(FuzzFailure) {
        guard let body = decode(AcquireBody.self, json) else { return }
        try roundTrip(body)
        switch attempt({ () throws(SRIOVError) in try body.request(idempotencyKey: nil) }) {
        case .failure(let e):
            try requireExplained(e, "acquire body", code: .invalidArgument)
        case .success(let request):
            Tally.accepted = true
            let resent = AcquireBody(request)
            switch attempt({ () throws(SRIOVError) in try resent.request(idempotencyKey: nil) }) {
            case .success(let again): try require(again == request, "an acquire request changes when sent again: \(request) -> \(again)")
            case .failure(let e): throw FuzzFailure(description: "an accepted acquire request is refused when sent again: \(e.message)")
            }
            if let id = body.requestId {
                let same = attempt({ () throws(SRIOVError) in try body.request(idempotencyKey: id) })
                guard case .success(let r) = same, r == request else {
                    throw FuzzFailure(description: "the Idempotency-Key equal to requestId changes the request")
                }
                if case .success = attempt({ () throws(SRIOVError) in try body.request(idempotencyKey: id + "x") }) {
                    throw FuzzFailure(description: "an Idempotency-Key that differs from requestId was accepted")
                }
            }
        }
    }

    static func renew(_ json: Data) throws(FuzzFailure) {
        guard let body = decode(RenewBody.self, json) else { return }
        Tally.accepted = true
        let again = (try? JSONEncoder().encode(body)).flatMap { decode(RenewBody.self, $0) }
        try require(again?.ttlSeconds == body.ttlSeconds, "RenewBody changes through JSON")
    }

    static func numVFs(_ json: Data) throws(FuzzFailure) {
        guard let body = decode(NumVFsBody.self, json) else { return }
        try roundTrip(body)
        switch attempt({ () throws(SRIOVError) in try body.timeout() }) {
        case .success(let d):
            Tally.accepted = true
            let seconds = body.timeoutSeconds ?? 120
            try require((1...3600).contains(seconds) && d == .seconds(seconds), "timeoutSeconds \(String(describing: body.timeoutSeconds)) gives \(d)")
        case .failure(let e):
            try requireExplained(e, "numvfs body", code: .invalidArgument)
            try require(body.timeoutSeconds.map { !(1...3600).contains($0) } ?? false, "timeout refused for \(String(describing: body.timeoutSeconds))")
        }
    }

    static func vfSettings(_ json: Data) throws(FuzzFailure) {
        guard let body = decode(VFSettingsBody.self, json) else { return }
        try roundTrip(body)
        switch attempt({ () throws(SRIOVError) in try body.settings() }) {
        case .failure(let e):
            try requireExplained(e, "VF settings body", code: .invalidArgument)
        case .success(let settings):
            Tally.accepted = true
            try require(!settings.isEmpty, "empty settings accepted")
            let resent = VFSettingsBody(settings, force: body.force)
            switch attempt({ () throws(SRIOVError) in try resent.settings() }) {
            case .success(let again): try require(again == settings, "VF settings change when sent again: \(settings) -> \(again)")
            case .failure(let e): throw FuzzFailure(description: "accepted VF settings are refused when sent again: \(e.message)")
            }
        }
    }
}
