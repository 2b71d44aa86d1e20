#!/usr/bin/env python3
"""Fake kube-apiserver for capturing kubectl's protobuf request bodies (see capture.sh): answers legacy discovery
for the kinds kubectl creates, records every request body to $OUT/bodies/NNN-<method>-<path>.bin (plus index.log),
and answers writes with a minimal JSON object so kubectl is satisfied."""
import json, os, itertools
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlsplit
PORT = int(os.environ.get("PORT", "8799"))
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("OUT", ".")
os.makedirs(os.path.join(OUT, "bodies"), exist_ok=True)
os.chdir(OUT)

def pb_fields(b):
    i, out = 0, []
    while i < len(b):
        k = s = 0
        while True:
            c = b[i]; i += 1; k |= (c & 0x7f) << s; s += 7
            if c < 0x80: break
        fn, wt = k >> 3, k & 7
        if wt == 0:
            while b[i] & 0x80: i += 1
            i += 1; v = None
        elif wt == 2:
            n = s = 0
            while True:
                c = b[i]; i += 1; n |= (c & 0x7f) << s; s += 7
                if c < 0x80: break
            v = b[i:i + n]; i += n
        else:
            i += 8 if wt == 1 else 4; v = None
        out.append((fn, v))
    return out

def envelope_type(body):
    """(apiVersion, kind) of a k8s\\0 + runtime.Unknown body."""
    tm = dict(pb_fields(dict(pb_fields(body[4:])).get(1, b"")))
    return tm.get(1, b"").decode(), tm.get(2, b"").decode()
CNT = itertools.count(1)
RES = {
 ("", "v1"): [("namespaces","Namespace",False,[]),("configmaps","ConfigMap",True,[]),("secrets","Secret",True,[]),
              ("serviceaccounts","ServiceAccount",True,["token"]),("services","Service",True,[]),("pods","Pod",True,[]),
              ("resourcequotas","ResourceQuota",True,[])],
 ("apps","v1"): [("deployments","Deployment",True,[])],
 ("batch","v1"): [("jobs","Job",True,[]),("cronjobs","CronJob",True,[])],
 ("rbac.authorization.k8s.io","v1"): [("roles","Role",True,[]),("rolebindings","RoleBinding",True,[]),
              ("clusterroles","ClusterRole",False,[]),("clusterrolebindings","ClusterRoleBinding",False,[])],
 ("scheduling.k8s.io","v1"): [("priorityclasses","PriorityClass",False,[])],
 ("authorization.k8s.io","v1"): [("selfsubjectaccessreviews","SelfSubjectAccessReview",False,[]),("selfsubjectrulesreviews","SelfSubjectRulesReview",False,[])],
 ("authentication.k8s.io","v1"): [("selfsubjectreviews","SelfSubjectReview",False,[])],
 ("policy","v1"): [("poddisruptionbudgets","PodDisruptionBudget",True,[])],
 ("networking.k8s.io","v1"): [("ingresses","Ingress",True,[])],
}
def reslist(g, v):
    out = []
    for p, k, ns, subs in RES[(g, v)]:
        out.append(dict(name=p, singularName=k.lower(), namespaced=ns, kind=k, verbs=["create","delete","get","list","patch","update","watch"]))
        for s in subs:
            out.append(dict(name=p+"/"+s, singularName="", namespaced=ns, kind="TokenRequest", group="authentication.k8s.io", version="v1", verbs=["create"]))
    return out
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def any(self):
        u = urlsplit(self.path); path = u.path; parts = [p for p in path.split("/") if p]
        n = int(self.headers.get("Content-Length") or 0); body = self.rfile.read(n) if n else b""
        if body:
            i = next(CNT)
            fn = "bodies/%03d-%s-%s.bin" % (i, self.command, path.strip("/").replace("/", "_"))
            open(fn, "wb").write(body)
            open("bodies/index.log", "a").write("%s %s %s CT=%s\n" % (fn, self.command, self.path, self.headers.get("Content-Type")))
        if path == "/version": return self.send(200, {"major":"1","minor":"32","gitVersion":"v1.32.0"})
        if path == "/api": return self.send(200, {"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]})
        if path == "/apis":
            return self.send(200, {"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":g,"versions":[{"groupVersion":g+"/"+v,"version":v}],"preferredVersion":{"groupVersion":g+"/"+v,"version":v}} for (g,v) in RES if g]})
        if path == "/api/v1": return self.send(200, {"kind":"APIResourceList","groupVersion":"v1","resources":reslist("","v1")})
        if len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in RES:
            return self.send(200, {"kind":"APIResourceList","apiVersion":"v1","groupVersion":parts[1]+"/"+parts[2],"resources":reslist(parts[1],parts[2])})
        if self.command in ("POST", "PUT"):
            o = {"metadata": {}}
            if body[:4] == b"k8s\x00":
                o["apiVersion"], o["kind"] = envelope_type(body)
            elif body[:1] == b"{":
                o = json.loads(body)
            o.setdefault("metadata", {})
            if parts[-1] == "token":
                o["status"] = {"token": "fake.token", "expirationTimestamp": "2030-01-01T00:00:00Z"}
            if "accessreview" in path:
                o["status"] = {"allowed": True}
            if "rulesreview" in path:
                o["status"] = {"resourceRules": [], "nonResourceRules": [], "incomplete": False}
            if "selfsubjectreviews" in path:
                o["status"] = {"userInfo": {"username": "fake"}}
            return self.send(201, o)
        if self.command == "GET" and path == "/apis/batch/v1/namespaces/default/cronjobs/rich":
            return self.send(200, json.load(open(os.path.join(HERE, "rich-cronjob.json"))))
        if self.command == "GET" and parts and parts[-1] != "":
            return self.send(404, {"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"})
        return self.send(404, {"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = any
ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
