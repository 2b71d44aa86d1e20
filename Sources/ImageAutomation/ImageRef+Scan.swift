extension ImageRef {
    /// Flux v1's include/exclude globs, matched against the image name as written and as
    /// normalised (`nginx` and `docker.io/library/nginx`).
    public func isScanned(include: [String], exclude: [String]) -> Bool {
        var untagged = self
        (untagged.tag, untagged.digest) = (nil, nil)
        var names = [name, untagged.description]
        if host == ImageRef.dockerHub { names.append("index.docker.io/" + repository) }
        func matches(_ pattern: String) -> Bool {
            guard let glob = try? Glob(pattern) else { return false }
            return names.contains { glob.matches($0) }
        }
        if !include.isEmpty, !include.contains(where: matches) { return false }
        return !exclude.contains(where: matches)
    }
}
