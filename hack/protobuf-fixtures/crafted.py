"""Hand-encoded protobuf bodies exercising what kubectl's own bodies don't: unknown fields of every wire type,
packed repeated scalars, negative int32, Time/MicroTime, FieldsV1, RawExtension, pointer zero values.
usage: crafted.py OUTDIR   (writes crafted-*.pb and the JSON each must decode to)"""
import json, struct, sys
OUT = sys.argv[1] if len(sys.argv) > 1 else '.'
def uv(n):
    n &= (1 << 64) - 1
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])

def write_json(name, obj):
    with open(OUT + '/' + name, 'w') as f:
        json.dump(obj, f, indent=2); f.write('\n')

def key(f, wt): return uv(f << 3 | wt)
def vint(f, n): return key(f, 0) + uv(n)
def ld(f, b): return key(f, 2) + uv(len(b)) + (b.encode() if isinstance(b, str) else b)
def f64(f, b8): return key(f, 1) + b8
def f32(f, b4): return key(f, 5) + b4
UNKNOWN = vint(99, 12345) + f64(98, struct.pack('<d', 1.5)) + ld(97, ld(1, 'nested')) + f32(96, struct.pack('<f', 2.5))
def envelope(api, kind, raw):
    return b'k8s\x00' + ld(1, ld(1, api) + ld(2, kind)) + ld(2, raw) + ld(3, '') + ld(4, '')

pod_meta = (ld(1, 'crafted') + ld(2, '') + ld(3, 'default') + vint(7, 3) + ld(8, vint(1, 1700000000) + vint(2, 0))
            + vint(10, 0) + ld(11, ld(1, 'app') + ld(2, 'x')) + ld(11, ld(1, 'empty') + ld(2, ''))
            + ld(17, ld(1, 'kubectl') + ld(2, 'Apply') + ld(3, 'v1') + ld(4, vint(1, 1700000000)) + ld(6, 'FieldsV1')
                    + ld(7, ld(1, '{"f:metadata":{"f:labels":{"f:app":{}}}}')))
            + UNKNOWN)
container = ld(1, 'c') + ld(2, 'busybox') + ld(3, 'sh') + ld(3, '') + ld(8, b'') + UNKNOWN
pod_spec = (ld(2, container) + ld(14, vint(2, 0) + ld(4, uv(1) + uv(2) + uv(300)) + vint(4, 7)) + vint(25, -5)
            + vint(21, 0) + ld(3, ''))
pod_status = ld(1, 'Pending') + ld(7, vint(1, -1)) + ld(2, ld(1, 'Ready') + ld(2, 'False') + ld(3, b'') + ld(4, b''))
pod = envelope('v1', 'Pod', ld(1, pod_meta) + ld(2, pod_spec) + UNKNOWN + ld(3, pod_status))
open(OUT + '/crafted-pod.pb', 'wb').write(pod)
write_json('crafted-pod.json', {"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "crafted", "namespace": "default", "generation": 3, "creationTimestamp": "2023-11-14T22:13:20Z",
                 "deletionGracePeriodSeconds": 0, "labels": {"app": "x", "empty": ""},
                 "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                                    "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
                                    "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}}]},
    "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", ""], "resources": {}}],
             "securityContext": {"runAsUser": 0, "supplementalGroups": [1, 2, 300, 7]},
             "priority": -5, "automountServiceAccountToken": False},
    "status": {"phase": "Pending", "startTime": "1969-12-31T23:59:59Z",
               "conditions": [{"type": "Ready", "status": "False"}]}})

event = envelope('v1', 'Event',
    ld(1, ld(1, 'e1') + ld(3, 'default')) + ld(2, ld(1, 'Pod') + ld(3, 'p')) + ld(3, 'Started') + ld(6, vint(1, 951782400))
    + vint(8, 2) + ld(10, vint(1, 1700000000) + vint(2, 123456789)) + ld(14, '') + ld(15, 'node-1'))
open(OUT + '/crafted-event.pb', 'wb').write(event)
write_json('crafted-event.json', {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
           "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "firstTimestamp": "2000-02-29T00:00:00Z",
           "count": 2, "eventTime": "2023-11-14T22:13:20.123456Z", "reportingComponent": "", "reportingInstance": "node-1"})

cr = envelope('apps/v1', 'ControllerRevision', ld(1, ld(1, 'rev1')) + ld(2, ld(1, '{"spec":{"x":1}}')) + vint(3, 0))
open(OUT + '/crafted-controllerrevision.pb', 'wb').write(cr)
write_json('crafted-controllerrevision.json', {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "rev1"},
           "data": {"spec": {"x": 1}}, "revision": 0})

# IntOrString 0 (must stay 0, not be dropped as a zero scalar), IntOrString string, empty emptyDir (inlined `{}`).
ios_int = lambda v: vint(1, 0) + vint(2, v) + ld(3, '')
ios_str = lambda v: vint(1, 1) + vint(2, 0) + ld(3, v)
template = ld(1, ld(11, ld(1, 'app') + ld(2, 'w'))) + ld(2, ld(1, ld(1, 'tmp') + ld(2, ld(2, b''))) + ld(2, ld(1, 'c') + ld(2, 'nginx')))
dep = envelope('apps/v1', 'Deployment', ld(1, ld(1, 'w')) + ld(2, vint(1, 0) + ld(3, template)
      + ld(4, ld(1, 'RollingUpdate') + ld(2, ld(1, ios_int(0)) + ld(2, ios_str('25%')))) + vint(5, 0) + vint(7, 0)))
open(OUT + '/crafted-deployment.pb', 'wb').write(dep)
write_json('crafted-deployment.json', {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
           "spec": {"replicas": 0, "template": {"metadata": {"labels": {"app": "w"}},
                                                "spec": {"volumes": [{"name": "tmp", "emptyDir": {}}],
                                                         "containers": [{"name": "c", "image": "nginx"}]}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}}})
