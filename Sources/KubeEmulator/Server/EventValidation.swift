import KubeModel

/// What kube-apiserver checks on an Event created through `events.k8s.io/v1` beyond the core
/// checks (pkg/apis/core/validation/events.go): a new-style Event says when, who and what. Its
/// errors name the internal kind `Event` and the fields by their core names.
enum EventValidation {
    static func problems(_ event: JSONValue) -> [FieldError] {
        guard let time = event["eventTime"], !time.isNull else { return [.required("eventTime")] }
        var errors: [FieldError] = []
        if (event["reportingController"]?.stringValue ?? "").isEmpty {
            errors += [.required("reportingController"), .invalid("reportingController", value: #""""#, "name part must be non-empty")]
        }
        for field in ["reportingInstance", "action", "reason"] where (event[field]?.stringValue ?? "").isEmpty {
            errors.append(.required(field))
        }
        return errors
    }

    static func check(_ event: JSONValue, name: String) throws(APIError) {
        let errors = problems(event)
        guard !errors.isEmpty else { return }
        throw APIError.invalid(kind: "Event", group: "", name: name, errors: errors)
    }
}
