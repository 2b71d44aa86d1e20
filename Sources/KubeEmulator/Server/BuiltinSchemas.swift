import KubeModel

/// OpenAPI schemas for the spec of common built-in kinds, enough for `kubectl explain` to show the
/// fields users reach for (the emulator stores built-ins schemaless; these only document them).
enum BuiltinSchemas {
    static func field(_ type: String, _ description: String) -> JSONValue {
        ["type": .string(type), "description": .string(description)]
    }

    static let labelSelector: JSONValue = [
        "type": "object", "description": "A label query over a set of resources.",
        "properties": ["matchLabels": ["type": "object", "additionalProperties": ["type": "string"], "description": "matchLabels is a map of {key,value} pairs."],
                       "matchExpressions": ["type": "array", "items": ["type": "object"], "description": "matchExpressions is a list of label selector requirements."]],
    ]

    static let container: JSONValue = [
        "type": "object", "required": ["name"], "description": "A single application container that you want to run within a pod.",
        "properties": [
            "name": field("string", "Name of the container specified as a DNS_LABEL."),
            "image": field("string", "Container image name."),
            "command": ["type": "array", "items": ["type": "string"], "description": "Entrypoint array."],
            "args": ["type": "array", "items": ["type": "string"], "description": "Arguments to the entrypoint."],
            "env": ["type": "array", "items": ["type": "object"], "description": "List of environment variables to set in the container."],
            "ports": ["type": "array", "items": ["type": "object"], "description": "List of ports to expose from the container."],
            "resources": field("object", "Compute Resources required by this container."),
            "imagePullPolicy": field("string", "Image pull policy. One of Always, Never, IfNotPresent."),
            "volumeMounts": ["type": "array", "items": ["type": "object"], "description": "Pod volumes to mount into the container's filesystem."],
        ],
    ]

    static let podSpec: JSONValue = [
        "type": "object", "required": ["containers"], "description": "Specification of the desired behavior of the pod.",
        "properties": [
            "containers": ["type": "array", "items": container, "description": "List of containers belonging to the pod."],
            "initContainers": ["type": "array", "items": container, "description": "List of initialization containers belonging to the pod."],
            "restartPolicy": field("string", "Restart policy for all containers within the pod."),
            "serviceAccountName": field("string", "Name of the ServiceAccount to use to run this pod."),
            "nodeSelector": ["type": "object", "additionalProperties": ["type": "string"], "description": "A selector which must be true for the pod to fit on a node."],
            "volumes": ["type": "array", "items": ["type": "object"], "description": "List of volumes that can be mounted by containers belonging to the pod."],
            "imagePullSecrets": ["type": "array", "items": ["type": "object"], "description": "References to secrets for pulling images."],
        ],
    ]

    static let podTemplate: JSONValue = [
        "type": "object", "description": "Template describes the pods that will be created.",
        "properties": ["metadata": field("object", "Standard object's metadata."), "spec": podSpec],
    ]

    static let workloadSpec: JSONValue = [
        "type": "object", "required": ["selector", "template"], "description": "Specification of the desired behavior.",
        "properties": [
            "replicas": field("integer", "Number of desired pods. Defaults to 1."),
            "selector": labelSelector,
            "template": podTemplate,
            "strategy": field("object", "The deployment strategy to use to replace existing pods with new ones."),
            "minReadySeconds": field("integer", "Minimum number of seconds for which a newly created pod should be ready."),
            "revisionHistoryLimit": field("integer", "The number of old ReplicaSets to retain to allow rollback."),
            "paused": field("boolean", "Indicates that the deployment is paused."),
            "progressDeadlineSeconds": field("integer", "The maximum time in seconds for a deployment to make progress."),
        ],
    ]

    static let serviceSpec: JSONValue = [
        "type": "object", "description": "Spec defines the behavior of a service.",
        "properties": [
            "type": field("string", "type determines how the Service is exposed."),
            "selector": ["type": "object", "additionalProperties": ["type": "string"], "description": "Route service traffic to pods with label keys and values matching this selector."],
            "ports": ["type": "array", "items": ["type": "object"], "description": "The list of ports that are exposed by this service."],
            "clusterIP": field("string", "clusterIP is the IP address of the service."),
        ],
    ]

    /// Spec schemas by storage key.
    static let specs: [String: JSONValue] = [
        "deployments.apps": workloadSpec, "statefulsets.apps": workloadSpec, "daemonsets.apps": workloadSpec, "replicasets.apps": workloadSpec,
        "pods": podSpec, "services": serviceSpec,
    ]
}
