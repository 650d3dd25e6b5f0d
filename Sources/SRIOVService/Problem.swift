import Foundation
import Hummingbird
import NIOCore
import SRIOVCore

/// An RFC 9457 problem details body (`application/problem+json`).
public struct Problem: Codable, Sendable, Equatable {
    /// `urn:sriovd:problem:<code>`: stable, and not a URL that pretends to resolve.
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// `SRIOVError.Code`'s raw value, or `internal` for an error sriovd did not expect.
    public var code: String

    public init(status: HTTPResponse.Status, code: String, detail: String) {
        self.type = "urn:sriovd:problem:\(code)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.code = code
    }

    public static let mediaType = "application/problem+json"
}

/// A request body over the most sriovd reads (`ServiceRequestContext.maxUploadSize`): 413, not the 500
/// of an unexpected error.
public struct ContentTooLarge: Error, Sendable {
    public let limit: Int

    public var detail: String {
        "the request body is over \(limit) bytes (\(limit / 1024) KiB), the most sriovd reads; send only the fields Docs/openapi.yaml lists (a lease request is a few hundred bytes)"
    }
}

/// The one place where library errors become HTTP statuses (documented in Docs/openapi.yaml).
public enum ProblemMapping {
    public static func status(for code: SRIOVError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidArgument: return .badRequest                 // 400
        case .permissionDenied, .protected, .forbidden, .quotaExceeded:
            return .forbidden                                     // 403
        case .unauthenticated: return .unauthorized               // 401 (with WWW-Authenticate: Bearer)
        case .notFound: return .notFound                          // 404
        case .busy: return .conflict                              // 409
        case .corrupt, .io, .kernelRefused, .verificationFailed:
            return .internalServerError                           // 500
        case .unsupported: return .notImplemented                 // 501
        case .timeout: return .serviceUnavailable                 // 503
        }
    }

    /// The status of an error: its code's, except that a device refusing the values the request asked
    /// for (the errno says so: EINVAL, ERANGE, ENOSPC, EOPNOTSUPP, EPROTONOSUPPORT) is 422 with the
    /// same code (`kernel-refused`, `unsupported`): the caller changes the request, as the detail says;
    /// nothing is wrong with sriovd, so it is not a 5xx.
    public static func status(for error: SRIOVError) -> HTTPResponse.Status {
        if error.code == .kernelRefused || error.code == .unsupported, let errno = error.errno, refusedValues.contains(errno) {
            return .unprocessableContent
        }
        return status(for: error.code)
    }

    static let refusedValues: Set<Int32> = [Errno.EINVAL, Errno.ERANGE, Errno.ENOSPC, Errno.EOPNOTSUPP, Errno.EPROTONOSUPPORT]

    /// Any error a handler throws, as a problem.
    public static func problem(for error: any Error) -> Problem {
        switch error {
        case let error as SRIOVError:
            return Problem(status: status(for: error), code: error.code.rawValue, detail: error.message)
        case let error as ServiceUnavailable:
            return Problem(status: .serviceUnavailable, code: SRIOVError.Code.busy.rawValue, detail: error.detail)
        case let error as ContentTooLarge:
            return Problem(status: .contentTooLarge, code: SRIOVError.Code.invalidArgument.rawValue, detail: error.detail)
        case is NIOTooManyBytesError:
            // Its maxBytes is what was left after the first chunk, not the limit: say none.
            return Problem(status: .contentTooLarge, code: SRIOVError.Code.invalidArgument.rawValue,
                           detail: "the request body is over the most sriovd reads; send only the fields Docs/openapi.yaml lists")
        case let error as MethodNotAllowed:
            return Problem(status: .methodNotAllowed, code: SRIOVError.Code.unsupported.rawValue, detail: error.detail)
        case let error as DecodingError:
            return Problem(status: .badRequest, code: SRIOVError.Code.invalidArgument.rawValue,
                           detail: "invalid JSON body: \(DecodingErrorText.describe(error))")
        case let error as HTTPError:
            let code: SRIOVError.Code = switch error.status.code {
            case 404: .notFound
            case 405: .unsupported
            case 413: .invalidArgument
            case 400..<500: .invalidArgument
            default: .io
            }
            let detail = error.body ?? (error.status == .notFound ? "no such route; Docs/openapi.yaml lists the API" : error.status.reasonPhrase)
            return Problem(status: error.status, code: code.rawValue, detail: detail)
        default:
            return Problem(status: .internalServerError, code: "internal", detail: "unexpected error: \(error)")
        }
    }

    /// The headers an error adds to its problem: `Allow` for 405 (RFC 9110, section 15.5.6).
    public static func headers(for error: any Error) -> HTTPFields {
        guard let error = error as? MethodNotAllowed else { return [:] }
        return [.allow: error.allowHeader]
    }

    public static func response(_ problem: Problem, headers extra: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(problem)) ?? Data("{\"status\":\(problem.status)}".utf8)
        var headers: HTTPFields = [.contentType: Problem.mediaType]
        headers.append(contentsOf: extra)
        // RFC 6750: a 401 names the scheme the caller must use (bearer tokens on TCP).
        if problem.status == 401 { headers[.wwwAuthenticate] = #"Bearer realm="sriovd""# }
        return Response(status: .init(code: problem.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A decoder's reason, said the way a caller can fix it ("settings.vlan: expected a number").
enum DecodingErrorText {
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the body" : text
        }
        switch error {
        case .dataCorrupted(let c):
            let underlying = (c.underlyingError as NSError?).flatMap { $0.userInfo[NSDebugDescriptionErrorKey] as? String }
            return "\(path(c.codingPath)): \(c.debugDescription)" + (underlying.map { " (\($0))" } ?? "")
        case .keyNotFound(let key, let c):
            return "missing field \(path(c.codingPath + [key]))"
        case .typeMismatch(let type, let c):
            return "\(path(c.codingPath)): expected \(typeName(type)); \(c.debugDescription)"
        case .valueNotFound(let type, let c):
            return "\(path(c.codingPath)): expected \(typeName(type)), found null"
        @unknown default:
            return "\(error)"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is UInt32.Type, is Int64.Type: return "an integer"
        case is Bool.Type: return "true or false"
        default: return "\(type)"
        }
    }
}

/// Turns every error a route throws into problem details; the only error path out of the API.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = ProblemMapping.problem(for: error)
            if problem.status >= 500 && problem.status != 503 {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(problem.detail)"])
            }
            return ProblemMapping.response(problem, headers: ProblemMapping.headers(for: error))
        }
    }
}
