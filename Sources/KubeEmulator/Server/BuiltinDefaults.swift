import Foundation
import KubeModel

/// The defaulting kube-apiserver applies to common built-in kinds (the values a real server returns
/// for fields a manifest leaves out), so clients comparing desired and live objects see real shapes.
enum BuiltinDefaults {
    static func apply(_ storageKey: String, _ obj: inout JSONValue) {
        switch storageKey {
        case "deployments.apps":
            setIfMissing(&obj, ["spec", "replicas"], 1)
            setIfMissing(&obj, ["spec", "revisionHistoryLimit"], 10)
            setIfMissing(&obj, ["spec", "progressDeadlineSeconds"], 600)
            if obj["spec"]?["strategy"]?["type"] == nil { obj.set(path: ["spec", "strategy", "type"], to: "RollingUpdate") }
            if obj["spec"]?["strategy"]?["type"] == "RollingUpdate" {
                setIfMissing(&obj, ["spec", "strategy", "rollingUpdate", "maxSurge"], "25%")
                setIfMissing(&obj, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%")
            }
            podTemplate(&obj, ["spec", "template"])
        case "statefulsets.apps":
            setIfMissing(&obj, ["spec", "replicas"], 1)
            setIfMissing(&obj, ["spec", "revisionHistoryLimit"], 10)
            setIfMissing(&obj, ["spec", "podManagementPolicy"], "OrderedReady")
            if obj["spec"]?["updateStrategy"] == nil {
                obj.set(path: ["spec", "updateStrategy"], to: ["type": "RollingUpdate", "rollingUpdate": ["partition": 0]])
            }
            podTemplate(&obj, ["spec", "template"])
        case "daemonsets.apps":
            setIfMissing(&obj, ["spec", "revisionHistoryLimit"], 10)
            if obj["spec"]?["updateStrategy"] == nil {
                obj.set(path: ["spec", "updateStrategy"], to: ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 0, "maxUnavailable": 1]])
            }
            podTemplate(&obj, ["spec", "template"])
        case "replicasets.apps":
            setIfMissing(&obj, ["spec", "replicas"], 1)
            podTemplate(&obj, ["spec", "template"])
        case "jobs.batch":
            setIfMissing(&obj, ["spec", "backoffLimit"], 6)
            setIfMissing(&obj, ["spec", "completions"], 1)
            setIfMissing(&obj, ["spec", "parallelism"], 1)
            podTemplate(&obj, ["spec", "template"], restartPolicy: "Never")
        case "cronjobs.batch":
            setIfMissing(&obj, ["spec", "concurrencyPolicy"], "Allow")
            setIfMissing(&obj, ["spec", "suspend"], false)
            setIfMissing(&obj, ["spec", "successfulJobsHistoryLimit"], 3)
            setIfMissing(&obj, ["spec", "failedJobsHistoryLimit"], 1)
            podTemplate(&obj, ["spec", "jobTemplate", "spec", "template"], restartPolicy: "Never")
        case "pods":
            podSpec(&obj, ["spec"], restartPolicy: "Always")
            if obj["status"] == nil { obj["status"] = ["phase": "Pending", "qosClass": "BestEffort"] }
        case "services":
            setIfMissing(&obj, ["spec", "type"], "ClusterIP")
            setIfMissing(&obj, ["spec", "sessionAffinity"], "None")
            if var ports = obj["spec"]?["ports"]?.arrayValue {
                for i in ports.indices {
                    if ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
                    if ports[i]["targetPort"] == nil { ports[i]["targetPort"] = ports[i]["port"] }
                }
                obj.set(path: ["spec", "ports"], to: .array(ports))
            }
            if obj["spec"]?["type"] != "ExternalName" {
                setIfMissing(&obj, ["spec", "internalTrafficPolicy"], "Cluster")
                setIfMissing(&obj, ["spec", "ipFamilyPolicy"], "SingleStack")
                setIfMissing(&obj, ["spec", "ipFamilies"], ["IPv4"])
            }
        case "secrets":
            setIfMissing(&obj, ["type"], "Opaque")
            // stringData is write-only: kube-apiserver merges it into data (base64), over data's
            // keys of the same name, and never stores or returns it.
            if let strings = obj["stringData"]?.objectValue {
                var data = obj["data"]?.objectValue ?? [:]
                for (key, value) in strings { data[key] = .string(Data((value.stringValue ?? "").utf8).base64EncodedString()) }
                obj["data"] = .object(data)
                obj["stringData"] = nil
            }
        case "replicationcontrollers":
            setIfMissing(&obj, ["spec", "replicas"], 1)
            podTemplate(&obj, ["spec", "template"])
        case "podtemplates":
            podTemplate(&obj, ["template"])
        case "persistentvolumes":
            setIfMissing(&obj, ["spec", "persistentVolumeReclaimPolicy"], "Retain")
            setIfMissing(&obj, ["spec", "volumeMode"], "Filesystem")
            if obj["status"] == nil { obj["status"] = ["phase": "Pending"] }
        case "persistentvolumeclaims":
            setIfMissing(&obj, ["spec", "volumeMode"], "Filesystem")
            if obj["status"] == nil { obj["status"] = ["phase": "Pending"] }
        case "endpoints":
            guard var subsets = obj["subsets"]?.arrayValue else { break }
            for i in subsets.indices { defaultProtocols(&subsets[i], ["ports"]) }
            obj["subsets"] = .array(subsets)
        case "endpointslices.discovery.k8s.io":
            defaultProtocols(&obj, ["ports"])
        case "networkpolicies.networking.k8s.io":
            if obj["spec"]?["policyTypes"] == nil, obj["spec"] != nil {
                obj.set(path: ["spec", "policyTypes"], to: obj["spec"]?["egress"] == nil ? ["Ingress"] : ["Ingress", "Egress"])
            }
        case "horizontalpodautoscalers.autoscaling":
            setIfMissing(&obj, ["spec", "minReplicas"], 1)
        case "storageclasses.storage.k8s.io":
            setIfMissing(&obj, ["reclaimPolicy"], "Delete")
            setIfMissing(&obj, ["volumeBindingMode"], "Immediate")
        case "priorityclasses.scheduling.k8s.io":
            setIfMissing(&obj, ["preemptionPolicy"], "PreemptLowerPriority")
        case "csidrivers.storage.k8s.io":
            for (key, value) in [("attachRequired", true), ("podInfoOnMount", false), ("requiresRepublish", false),
                                 ("storageCapacity", false), ("seLinuxMount", false)] as [(String, JSONValue)] {
                setIfMissing(&obj, ["spec", key], value)
            }
            setIfMissing(&obj, ["spec", "fsGroupPolicy"], "ReadWriteOnceWithFSType")
            setIfMissing(&obj, ["spec", "volumeLifecycleModes"], ["Persistent"])
        case "validatingwebhookconfigurations.admissionregistration.k8s.io", "mutatingwebhookconfigurations.admissionregistration.k8s.io":
            guard var webhooks = obj["webhooks"]?.arrayValue else { break }
            for i in webhooks.indices {
                var w = webhooks[i]
                for (key, value) in [("failurePolicy", "Fail"), ("matchPolicy", "Equivalent"), ("namespaceSelector", .emptyObject),
                                     ("objectSelector", .emptyObject), ("timeoutSeconds", 10)] as [(String, JSONValue)] where w[key] == nil {
                    w[key] = value
                }
                if storageKey.hasPrefix("mutating"), w["reinvocationPolicy"] == nil { w["reinvocationPolicy"] = "Never" }
                if w["clientConfig"]?["service"] != nil, w["clientConfig"]?["service"]?["port"] == nil {
                    w.set(path: ["clientConfig", "service", "port"], to: 443)
                }
                if var rules = w["rules"]?.arrayValue {
                    for j in rules.indices where rules[j]["scope"] == nil { rules[j]["scope"] = "*" }
                    w["rules"] = .array(rules)
                }
                webhooks[i] = w
            }
            obj["webhooks"] = .array(webhooks)
        default:
            break
        }
    }

    /// `protocol: TCP` on every port of a list that lacks one.
    static func defaultProtocols(_ obj: inout JSONValue, _ path: [String]) {
        guard var ports = obj[path: path]?.arrayValue else { return }
        for i in ports.indices where ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
        obj.set(path: path, to: .array(ports))
    }

    static func setIfMissing(_ obj: inout JSONValue, _ path: [String], _ value: JSONValue) {
        if obj[path: path] == nil { obj.set(path: path, to: value) }
    }

    static func podTemplate(_ obj: inout JSONValue, _ path: [String], restartPolicy: String = "Always") {
        guard obj[path: path] != nil else { return }
        if obj[path: path + ["metadata", "creationTimestamp"]] == nil { obj.set(path: path + ["metadata", "creationTimestamp"], to: .null) }
        podSpec(&obj, path + ["spec"], restartPolicy: restartPolicy)
    }

    static func podSpec(_ obj: inout JSONValue, _ path: [String], restartPolicy: String) {
        guard obj[path: path] != nil else { return }
        setIfMissing(&obj, path + ["dnsPolicy"], "ClusterFirst")
        setIfMissing(&obj, path + ["restartPolicy"], .string(restartPolicy))
        setIfMissing(&obj, path + ["schedulerName"], "default-scheduler")
        setIfMissing(&obj, path + ["securityContext"], .emptyObject)
        setIfMissing(&obj, path + ["terminationGracePeriodSeconds"], 30)
        for list in ["containers", "initContainers"] {
            guard var containers = obj[path: path + [list]]?.arrayValue else { continue }
            for i in containers.indices {
                var c = containers[i]
                if c["imagePullPolicy"] == nil {
                    let image = c["image"]?.stringValue ?? ""
                    let tag = image.split(separator: "/").last.map { $0.split(separator: ":").dropFirst().first.map(String.init) } ?? nil
                    c["imagePullPolicy"] = (tag == nil || tag == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
                }
                if c["resources"] == nil { c["resources"] = .emptyObject }
                if c["terminationMessagePath"] == nil { c["terminationMessagePath"] = "/dev/termination-log" }
                if c["terminationMessagePolicy"] == nil { c["terminationMessagePolicy"] = "File" }
                if var ports = c["ports"]?.arrayValue {
                    for j in ports.indices where ports[j]["protocol"] == nil { ports[j]["protocol"] = "TCP" }
                    c["ports"] = .array(ports)
                }
                containers[i] = c
            }
            obj.set(path: path + [list], to: .array(containers))
        }
    }
}
