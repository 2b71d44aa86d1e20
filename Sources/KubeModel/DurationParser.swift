/// Kubernetes/Go-style durations: "90s", "5m", "1h30m", "250ms".
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let value = Double(number), !unit.isEmpty else { return false }
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return false
            }
            total += .nanoseconds(Int64(value * scale * 1e9))
            number = ""
            unit = ""
            sawAny = true
            return true
        }
        for c in text {
            if c.isNumber || c == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(c)
            } else {
                guard !number.isEmpty else { return nil }
                unit.append(c)
            }
        }
        guard flush(), sawAny else { return text == "0" ? .zero : nil }
        return total
    }
}
