import FlotillaAPI
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeRuntime
import KubeModel
import Logging
import Manifests
import Sync

extension InstanceReconciler {
    /// Runs automation when it is due; returns true when it pushed a commit (sync it now).
    func automateIfDue(mirror: GitMirror, head: String, branch: String) async -> Bool {
        guard let images = settings.images else {
            if imagesStatus != nil { imagesStatus = nil }
            return false
        }
        guard schedule.automationDue(now: Date()) else { return false }
        lastAutomation = Date()
        defer { rescan = [] }  // scanned afresh by this run
        var status = ImagesStatus()
        status.lastScanTime = KubeTime.string()
        status.lastCommit = imagesStatus?.lastCommit
        var pushed = false
        do {
            let report = try await automationReport(mirror: mirror, head: head, images: images)
            status.scanned = report.scanned
            status.workloads = report.workloads.isEmpty ? nil : Array(report.workloads.prefix(100))
            var errors = report.errors
            if !report.changes.isEmpty {
                if settings.source.readonly {
                    errors.append("read-only: would update \(report.changes.map { "\($0.workload) \($0.container) to \($0.to)" }.joined(separator: ", "))")
                } else if let commit = try await commit(report.changes, mirror: mirror, branch: branch, head: head) {
                    status.lastCommit = commit
                    pushed = true
                    logger.notice("automation pushed", metadata: ["commit": "\(commit.prefix(7))", "changes": "\(report.changes.count)"])
                    let summary = "Commit \(commit.prefix(7)): " + report.changes.map { "\($0.workload) \($0.container) → \($0.to)" }.joined(separator: ", ")
                    await env.events.record(await instanceObject(), type: .normal, reason: "ImagesUpdated", message: summary)
                    await notify(.imageUpdated, revision: commit, message: summary)
                }
            }
            status.error = errors.isEmpty ? nil : String(errors.joined(separator: "; ").prefix(2000))
            for e in report.errors { logger.warning("automation", metadata: ["error": "\(e)"]) }
        } catch {
            status.error = "\(error)"
            logger.warning("automation failed", metadata: ["error": "\(error)"])
        }
        imagesStatus = status
        return pushed
    }

    func automationReport(mirror: GitMirror, head: String, images: InstanceSettings.ImageSettings) async throws -> AutomationReport {
        var report = AutomationReport()
        let found = try await workloads(mirror: mirror, head: head)
        report.errors = found.errors
        let automated = found.workloads.filter { $0.policy.automated && !$0.policy.locked && found.updatable($0) }
        guard !automated.isEmpty else { return report }
        let scan = try await scanImages(of: automated, images: images)
        report.scanned = scan.repositories
        report.errors += scan.errors
        for c in scan.containers {
            report.workloads.append(c.status)
            if let to = c.update {
                report.changes.append(AutomationChange(file: c.workload.file, workload: c.workload.id, container: c.container.name, from: c.container.image, to: to))
            }
        }
        return report
    }

    /// What the registries say about the containers of `workloads`: their tags, the newest their
    /// filter allows, and the image to move to when that is newer than the one running. Scanned
    /// through the shared, credential-scoped cache with Flux v1's credentials: the pod's
    /// `imagePullSecrets`, its ServiceAccount's (both read as the instance), then
    /// `spec.registry.dockerConfigSecretRef`. `allInfos` asks for every tag's creation time (to
    /// list them newest first), not just the candidates'.
    func scanImages(of workloads: [Workload], images: InstanceSettings.ImageSettings, allInfos: Bool = false) async throws -> ImageScan {
        var out = ImageScan()
        let specCredentials = try await registryCredentials(images)
        var pullSecrets = PullSecrets(client: env.client.impersonating(.serviceAccount(namespace: settings.ref.namespace, name: env.tenancy.identity(of: settings).name)))
        let cache = env.registryCache
        var scans: [String: RepositoryScan] = [:]
        var scanErrors: [String: String] = [:]
        for workload in workloads.sorted(by: { $0.id < $1.id }) {
            let (workloadCredentials, credentialErrors) = await pullSecrets.credentials(for: workload)
            out.errors += credentialErrors
            let credentials = workloadCredentials.merging(specCredentials) { mine, _ in mine }
            for container in workload.containers {
                var c = ContainerScan(workload: workload, container: container,
                                      status: WorkloadImageStatus(workload: workload.id.description, container: container.name, current: container.image))
                defer { out.containers.append(c) }
                guard let ref = ImageRef(container.image) else {
                    c.status.error = "\(workload.file): \(container.image) is not an image reference"
                    out.errors.append(c.status.error!)
                    continue
                }
                guard ref.isScanned(include: images.include, exclude: images.exclude) else {
                    c.excluded = true
                    continue
                }
                let filter: TagFilter
                do { filter = try workload.policy.filter(for: container.name) } catch {
                    c.status.error = "\(workload.file): \(workload.id) container \(container.name): \(error.description)"
                    out.errors.append(c.status.error!)
                    continue
                }
                c.filter = filter
                var hostSettings = RegistryHostSettings()
                hostSettings.insecure = images.insecureHosts.contains(ref.host)
                hostSettings.rps = images.rps
                hostSettings.burst = images.burst
                var creds = credentials[ref.host] ?? (ref.host == ImageRef.dockerHub ? credentials["index.docker.io"] : nil)
                if let failure = scanErrors[ref.name] {
                    c.status.error = failure
                    continue
                }
                if creds == nil {
                    // No Secret for the host: a cloud registry's login from the pod's platform
                    // identity, when the install lends it to this namespace.
                    do { creds = try await env.platformCredentials.credentials(for: ref.host, namespace: settings.ref.namespace) } catch {
                        scanErrors[ref.name] = error.message
                        c.status.error = error.message
                        out.errors.append(error.message)
                        continue
                    }
                }
                let scan: RepositoryScan
                if let known = scans[ref.name] {
                    scan = known
                } else {
                    do {
                        scan = try await cache.tags(ref, credentials: creds, settings: hostSettings,
                                                    maxAge: rescan.contains(ref.name) ? .zero : images.pollInterval)
                        scans[ref.name] = scan
                        out.repositories += 1
                    } catch {
                        scanErrors[ref.name] = error.message
                        c.status.error = error.message
                        out.errors.append(error.message)
                        continue
                    }
                }
                c.tags = scan.tags
                if allInfos || !filter.ordersByVersion {
                    let wanted = allInfos ? scan.tags : scan.tags.filter(filter.matches)
                    do { c.info = try await cache.infos(ref, tags: wanted, credentials: creds, settings: hostSettings) } catch {
                        c.status.error = error.message
                        out.errors.append(error.message)
                        continue
                    }
                }
                guard let latest = TagSelection.latest(tags: scan.tags, filter: filter, info: c.info) else { continue }
                c.status.latest = latest
                if latest != ref.tag, let image = ImageRef.retag(container.image, to: latest) {
                    // With glob/regex, never move to an image older than the one running.
                    if !filter.ordersByVersion, let current = ref.tag, let now = c.info[current]?.created,
                       let next = c.info[latest]?.created, next <= now { continue }
                    if filter.ordersByVersion, let current = ref.tag.flatMap(SemanticVersion.init),
                       let next = SemanticVersion(latest), next <= current { continue }
                    c.update = image
                }
            }
        }
        return out
    }

    /// Every workload at `head` (from the plain files under the paths, and from generator output
    /// for paths a `.flux.yaml` generates), read and parsed once per head (and scope): an
    /// instance without automated workloads costs nothing between commits.
    func workloads(mirror: GitMirror, head: String) async throws -> KnownWorkloads {
        let scope = "\(settings.paths)|\(settings.manifestGeneration)|\(settings.defaultNamespace)"
        if let known = knownWorkloads, known.head == head, known.scope == scope { return known }
        let found = try await findWorkloads(mirror: mirror, head: head, scope: scope)
        knownWorkloads = found
        return found
    }

    func findWorkloads(mirror: GitMirror, head: String, scope: String) async throws -> KnownWorkloads {
        var found = KnownWorkloads(head: head, scope: scope)
        // Paths a `.flux.yaml` generates, as the renderer sees them: their files are generator
        // input (never edited as manifests); their workloads come from the generators' output
        // and are updated by the `containerImage` updaters.
        var generated: [GeneratedPath] = []
        if settings.manifestGeneration, let renderer {
            generated = try await renderer.generatedPaths(revision: head, options: try await renderOptions(manifestGeneration: true))
        }
        let files = try await mirror.files(at: head, paths: settings.paths).filter { f in
            (f.path.hasSuffix(".yaml") || f.path.hasSuffix(".yml")) && !generated.contains { $0.path.isEmpty || f.path.hasPrefix($0.path + "/") }
        }
        let blobs = try await mirror.blobs(files.map(\.blobID))
        for file in files {
            guard let bytes = blobs[file.blobID] else { continue }
            do {
                found.workloads += try WorkloadScanner.workloads(in: bytes, file: file.path, defaultNamespace: settings.defaultNamespace)
            } catch {
                found.errors.append("\(error)")
            }
        }
        for g in generated {
            let place = (g.config.directory.isEmpty ? "" : g.config.directory + "/") + FluxConfig.fileName
            let workloads = g.manifests.compactMap { WorkloadScanner.workload($0.object, source: Self.generatedPrefix + g.path, defaultNamespace: settings.defaultNamespace) }
            found.workloads += workloads
            guard case .commandUpdated(_, let updaters) = g.config.mode, updaters.contains(where: { $0.containerImage != nil }) else {
                found.notUpdatable.insert(Self.generatedPrefix + g.path)
                if workloads.contains(where: { $0.policy.automated && !$0.policy.locked }) {
                    found.errors.append("\(place) has no containerImage updater (patchUpdated is not supported): its workloads are not automated")
                }
                continue
            }
            generatedConfigs[g.path] = g.config
        }
        return found
    }

    /// `Workload.file` of a generated workload: the prefix, then the path its `.flux.yaml` governs.
    static let generatedPrefix = "generated:"

    /// Registry credentials by host, from `spec.registry.dockerConfigSecretRef` (a
    /// `kubernetes.io/dockerconfigjson` Secret in the instance's namespace).
    func registryCredentials(_ images: InstanceSettings.ImageSettings) async throws -> [String: RegistryCredentials] {
        guard let name = images.dockerConfigSecret else { return [:] }
        let ref = settings.ref
        let secret = try await namedSecret(name, field: "spec.registry.dockerConfigSecretRef")
        guard let credentials = DockerConfig.credentials(in: secret) else {
            throw InvalidSpec("Secret \(ref.namespace)/\(name) has no valid .dockerconfigjson")
        }
        return credentials
    }

    /// One commit with every change, rebased on the branch head by `commitAndPush`. Changes to
    /// generated workloads are made by their updaters first, in a checkout of `head`.
    func commit(_ changes: [AutomationChange], mirror: GitMirror, branch: String, head: String,
                message: String? = nil, author: GitSignature? = nil) async throws -> String? {
        let defaultNamespace = settings.defaultNamespace
        var updated: [String: [UInt8]?] = [:]
        let generated = changes.filter { $0.file.hasPrefix(Self.generatedPrefix) }
        for (file, edits) in Dictionary(grouping: generated, by: \.file) {
            let path = String(file.dropFirst(Self.generatedPrefix.count))
            guard let renderer, let config = generatedConfigs[path] else { continue }
            let requests = edits.compactMap { e -> UpdaterRequest? in
                guard let ref = ImageRef(e.to), let tag = ref.tag else { return nil }
                let name = String(e.to.dropLast(tag.count + 1))
                return .containerImage(.init(namespace: e.workload.namespace, kind: e.workload.kind, name: e.workload.name),
                                       container: e.container, image: name, tag: tag)
            }
            let files = try await renderer.runImageUpdaters(revision: head, path: path, config: config, updates: requests,
                                                            options: try await renderOptions(manifestGeneration: true))
            updated.merge(files) { _, new in new }
        }
        let plain = changes.filter { !$0.file.hasPrefix(Self.generatedPrefix) }
        let changedByUpdaters = updated
        let message = message ?? "Auto-release " + Set(changes.map(\.to)).sorted().joined(separator: ", ") + "\n\n"
            + changes.map { "- \($0.workload) (\($0.container)): \($0.from) → \($0.to)" }.joined(separator: "\n")
        let pushed = try await mirror.commitAndPush(branch: branch, message: message, author: author) { tree in
            var out: [String: [UInt8]?] = changedByUpdaters
            for (file, edits) in Dictionary(grouping: plain, by: \.file) {
                guard var bytes = try tree.read(file) else { continue }
                for e in edits {
                    bytes = try WorkloadScanner.settingImage(e.to, of: e.container, in: e.workload, bytes: bytes, file: file, defaultNamespace: defaultNamespace)
                }
                out[file] = bytes
            }
            return out
        }
        if pushed != nil { CrashPoint.pass("push") }
        return pushed?.id
    }
}
