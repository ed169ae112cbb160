/// A CLI string that is not a schedule; the message says what was wrong and what is accepted.
public struct LRScheduleParseError: Error, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String

    public var description: String {
        "invalid learning-rate schedule '\(text)': \(reason). Expected one of: constant, step:EVERY[:GAMMA], "
            + "multistep:M1,M2,...[:GAMMA], cosine[:EPOCHS[:MIN_LR]], linear[:EPOCHS[:MIN_LR]], onecycle[:EPOCHS[:PCT_START]], optionally prefixed by warmup:EPOCHS[:START_FACTOR]+ "
            + "(e.g. 'warmup:5:0.1+multistep:30,60,80:0.1')"
    }
}

extension LRSchedule: CustomStringConvertible {
    /// Parses the CLI form: `constant`, `step:30:0.1`, `multistep:30,60,80:0.1`, `cosine`,
    /// `cosine:90:0.0001`, `warmup:5:0.1+cosine`. Gammas and warmup's start factor default to 0.1,
    /// and a bare `cosine` spans `totalEpochs` (the run's length, which the CLI knows).
    public init(parsing text: String, totalEpochs: Int? = nil) throws {
        func fail(_ reason: String) -> LRScheduleParseError { LRScheduleParseError(text: text, reason: reason) }
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let plus = trimmed.firstIndex(of: "+") {
            let head = String(trimmed[..<plus]).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard head.first == "warmup" else { throw fail("only a warmup:... prefix may come before '+'") }
            guard (2...3).contains(head.count), let epochs = Int(head[1]), epochs > 0 else {
                throw fail("warmup needs a positive whole number of epochs")
            }
            let start = head.count == 3 ? Float(head[2]) : 0.1
            guard let start, start.isFinite, (0...1).contains(start) else { throw fail("warmup's start factor must lie in [0, 1]") }
            let rest = String(trimmed[trimmed.index(after: plus)...])
            let inner: LRSchedule
            do { inner = try LRSchedule(parsing: rest, totalEpochs: totalEpochs) } catch { throw fail("after '+': '\(rest)' is not a schedule") }
            if case .warmup = inner { throw fail("only one warmup may be given") }
            self = .warmup(epochs: epochs, startFactor: start, then: inner)
            return
        }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func gamma(at index: Int) throws -> Float {
            guard parts.count > index else { return 0.1 }
            // A decay factor: above 1 the rate grows without bound, and 1e39 is already infinite as a Float.
            guard let g = Float(parts[index]), g.isFinite, g > 0, g <= 1 else { throw fail("gamma '\(parts[index])' must be a number in (0, 1]") }
            return g
        }
        /// `NAME[:EPOCHS[:PARAMETER]]`, the form of the schedules that span the run: EPOCHS defaults to
        /// the run's length, PARAMETER to `fallback`.
        func spanAndParameter(_ parameter: String, default fallback: Float, valid: (Float) -> Bool,
                              _ invalid: String) throws -> (epochs: Int, value: Float) {
            let name = parts[0]
            guard parts.count <= 3 else { throw fail("\(name) takes [EPOCHS[:\(parameter)]]") }
            let epochs = parts.count >= 2 ? Int(parts[1]) : totalEpochs
            guard let epochs, epochs > 0 else {
                throw fail(parts.count >= 2 ? "\(name) epochs '\(parts[1])' must be a positive whole number"
                                            : "\(name) needs its length: give \(name):EPOCHS or the total epochs")
            }
            let value = parts.count == 3 ? Float(parts[2]) : fallback
            guard let value, value.isFinite, valid(value) else { throw fail("\(name)'s \(invalid)") }
            return (epochs, value)
        }
        switch parts[0] {
        case "constant":
            guard parts.count == 1 else { throw fail("constant takes no arguments") }
            self = .constant
        case "warmup":
            guard (2...3).contains(parts.count) else { throw fail("warmup takes EPOCHS[:START_FACTOR]") }
            self = try LRSchedule(parsing: trimmed + "+constant", totalEpochs: totalEpochs)
        case "step":
            guard (2...3).contains(parts.count) else { throw fail("step takes EVERY[:GAMMA]") }
            guard let every = Int(parts[1]), every > 0 else { throw fail("step interval '\(parts[1])' must be a positive whole number of epochs") }
            self = .step(every: every, gamma: try gamma(at: 2))
        case "multistep":
            guard (2...3).contains(parts.count) else { throw fail("multistep takes M1,M2,...[:GAMMA]") }
            let milestones = parts[1].split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            guard !milestones.isEmpty, milestones.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw fail("milestones '\(parts[1])' must be positive whole epochs separated by commas")
            }
            let values = milestones.map { $0! }
            guard zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }) else { throw fail("milestones must increase") }
            self = .multiStep(milestones: values, gamma: try gamma(at: 2))
        case "cosine":
            let (epochs, minimum) = try spanAndParameter("MIN_LR", default: 0, valid: { $0 >= 0 }, "minimum learning rate must be a non-negative number")
            self = .cosine(epochs: epochs, minimum: minimum)
        case "linear":
            let (epochs, minimum) = try spanAndParameter("MIN_LR", default: 0, valid: { $0 >= 0 }, "minimum learning rate must be a non-negative number")
            self = .linear(epochs: epochs, minimum: minimum)
        case "onecycle":
            let (epochs, rise) = try spanAndParameter("PCT_START", default: 0.3, valid: { $0 > 0 && $0 < 1 },
                                                      "PCT_START (the rising part of the run) must lie in (0, 1)")
            self = .oneCycle(epochs: epochs, rise: rise)
        default:
            throw fail("unknown schedule '\(parts[0])'")
        }
    }

    /// The CLI form, which `init(parsing:)` reads back to the same value.
    public var description: String {
        switch self {
        case .constant: return "constant"
        case .step(let every, let gamma): return "step:\(every):\(gamma)"
        case .multiStep(let milestones, let gamma): return "multistep:\(milestones.map(String.init).joined(separator: ",")):\(gamma)"
        case .cosine(let epochs, let minimum): return "cosine:\(epochs):\(minimum)"
        case .linear(let epochs, let minimum): return "linear:\(epochs):\(minimum)"
        case .oneCycle(let epochs, let rise): return "onecycle:\(epochs):\(rise)"
        case .warmup(let epochs, let startFactor, let inner): return "warmup:\(epochs):\(startFactor)+\(inner)"
        }
    }
}

import Foundation
