import KubeModel

/// A `.flux.yaml` file (Flux v1 manifest generation, `version: 1`): exactly one of
/// `commandUpdated`, `patchUpdated` or `scanForFiles`.
public struct FluxConfig: Sendable, Equatable {
    public static let fileName = ".flux.yaml"

    public struct Command: Sendable, Equatable {
        public var command: String
        /// Flux v1's per-command `timeout`; nil means the instance's generator timeout.
        public var timeout: Duration?

        public init(command: String, timeout: Duration? = nil) {
            self.command = command
            self.timeout = timeout
        }
    }

    public struct Updater: Sendable, Equatable {
        public var containerImage: Command?
        public var policy: Command?
    }

    public enum Mode: Sendable, Equatable {
        case commandUpdated(generators: [Command], updaters: [Updater])
        case patchUpdated(generators: [Command], patchFile: String)
        case scanForFiles
    }

    public var mode: Mode
    /// Where the file is (relative to the repository root; "" is the root).
    public var directory: String

    public var generators: [Command] {
        switch mode {
        case .commandUpdated(let g, _), .patchUpdated(let g, _): return g
        case .scanForFiles: return []
        }
    }

    /// Parses and validates the file's text; errors name the file.
    public static func parse(_ bytes: [UInt8], directory: String) throws(RenderError) -> FluxConfig {
        let file = directory.isEmpty ? fileName : "\(directory)/\(fileName)"
        func fail(_ message: String) -> RenderError { RenderError(.generation, "\(file): \(message)") }
        let root: JSONValue
        do {
            root = try ManifestParser.documents(bytes).first?.value ?? .null
        } catch {
            throw RenderError(.generation, "\(file):\(error.line): \(error.message)")
        }
        guard root.objectValue != nil else { throw fail("must be a mapping with version: 1") }
        guard root["version"]?.intValue == 1 else { throw fail("version must be 1") }
        let modes = ["commandUpdated", "patchUpdated", "scanForFiles"].filter { root[$0] != nil }
        guard modes.count == 1 else {
            throw fail("must have exactly one of commandUpdated, patchUpdated or scanForFiles (found \(modes.isEmpty ? "none" : modes.joined(separator: ", ")))")
        }
        func commands(_ value: JSONValue?, _ field: String) throws(RenderError) -> [Command] {
            guard let list = value?.arrayValue, !list.isEmpty else { throw fail("\(field) must list at least one command") }
            var out: [Command] = []
            for (i, item) in list.enumerated() {
                out.append(try command(item, "\(field)[\(i)]"))
            }
            return out
        }
        func command(_ item: JSONValue, _ field: String) throws(RenderError) -> Command {
            guard let text = item["command"]?.stringValue, !text.isEmpty else { throw fail("\(field).command is required") }
            var timeout: Duration? = nil
            if let raw = item["timeout"] {
                guard let s = raw.stringValue, let d = DurationParser.parse(s) else {
                    throw fail("\(field).timeout must be a duration such as \"30s\"")
                }
                timeout = d
            }
            return Command(command: text, timeout: timeout)
        }
        let mode: Mode
        switch modes[0] {
        case "commandUpdated":
            let body = root["commandUpdated"]
            var updaters: [Updater] = []
            for (i, u) in (body?["updaters"]?.arrayValue ?? []).enumerated() {
                updaters.append(Updater(containerImage: try u["containerImage"].map { v throws(RenderError) in try command(v, "commandUpdated.updaters[\(i)].containerImage") },
                                        policy: try u["policy"].map { v throws(RenderError) in try command(v, "commandUpdated.updaters[\(i)].policy") }))
            }
            mode = .commandUpdated(generators: try commands(body?["generators"], "commandUpdated.generators"), updaters: updaters)
        case "patchUpdated":
            let body = root["patchUpdated"]
            guard let patchFile = body?["patchFile"]?.stringValue, !patchFile.isEmpty else { throw fail("patchUpdated.patchFile is required") }
            mode = .patchUpdated(generators: try commands(body?["generators"], "patchUpdated.generators"), patchFile: patchFile)
        default:
            mode = .scanForFiles
        }
        return FluxConfig(mode: mode, directory: directory)
    }
}
