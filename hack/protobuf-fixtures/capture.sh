#!/bin/bash
# Regenerates Tests/KubeEmulatorTests/Fixtures/protobuf: captures the protobuf bodies real kubectl sends (via a fake
# apiserver on 127.0.0.1) and pairs each with the JSON it must decode to: for `kubectl create ...` the object
# `--dry-run=client -o json` prints (the same object kubectl protobuf-encodes for --dry-run=server), with null members
# removed; for `auth can-i`, `auth whoami` and `create token` (no -o json) the expected JSON is written by hand below.
# usage: hack/protobuf-fixtures/capture.sh [kubectl]     (default: gcloud's kubectl.1.32)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/../../Tests/KubeEmulatorTests/Fixtures/protobuf
KUBECTL=${1:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}
PORT=${PORT:-8799}
WORK=$(mktemp -d)
OUT=$WORK PORT=$PORT python3 "$HERE/fake_apiserver.py" & SERVER=$!
trap 'kill $SERVER; rm -rf "$WORK"' EXIT
sleep 0.7
K="$KUBECTL --server=http://127.0.0.1:$PORT"
printf '\x00\x01\xfe\xffbin' > "$WORK/bin.dat"

nbodies() { ls "$WORK"/bodies/*.bin 2>/dev/null | wc -l; }
latest() { ls "$WORK"/bodies/*.bin | sort | tail -1; }
strip_nulls() { python3 -c '
import json, sys
def s(o):
    if isinstance(o, dict): return {k: s(v) for k, v in o.items() if v is not None}
    if isinstance(o, list): return [s(x) for x in o]
    return o
json.dump(s(json.load(sys.stdin)), sys.stdout, indent=2); print()'; }

# create NAME kubectl-args... [-- command...]: server dry-run body -> NAME.pb, client dry-run JSON -> NAME.json
create() {
    local name=$1; shift
    local pre=() post=() seen=0
    for a in "$@"; do [ "$a" = "--" ] && seen=1; if [ $seen = 1 ]; then post+=("$a"); else pre+=("$a"); fi; done
    local before; before=$(nbodies)
    $K "${pre[@]}" --dry-run=server -o name "${post[@]}" > /dev/null || { echo "FAILED: $name"; return; }
    [ "$(nbodies)" -gt "$before" ] || { echo "no body: $name"; return; }
    cp "$(latest)" "$FIX/$name.pb"
    $K "${pre[@]}" --dry-run=client -o json "${post[@]}" | strip_nulls > "$FIX/$name.json"
    echo "$name"
}
# run NAME EXPECTED-JSON kubectl-args...: the body of the request the command makes -> NAME.pb
run() {
    local name=$1 expected=$2; shift 2
    local before; before=$(nbodies)
    $K "$@" > /dev/null || { echo "FAILED: $name"; return; }
    [ "$(nbodies)" -gt "$before" ] || { echo "no body: $name"; return; }
    cp "$(latest)" "$FIX/$name.pb"
    echo "$expected" | strip_nulls > "$FIX/$name.json"
    echo "$name"
}
mkdir -p "$FIX"
create deployment create deployment web --image=nginx:1.25 --replicas=2 --port=80
create configmap create configmap cfg --from-literal=a=1 --from-literal=b=two --from-file=blob=$WORK/bin.dat -n team-a
create secret create secret generic sec --from-literal=user=admin --from-literal=pass=s3cr3t
create secret-dockercfg create secret docker-registry regcred --docker-server=reg.example.com --docker-username=u --docker-password=p
create namespace create namespace team-a
create rolebinding create rolebinding rb --role=reader --user=bob --serviceaccount=default:sa1 --group=devs -n default
create clusterrolebinding create clusterrolebinding crb --clusterrole=view --user=alice
create role create role reader --verb=get,list,watch --resource=pods,deployments.apps --resource-name=web
create clusterrole create clusterrole nonres --verb=get --non-resource-url=/healthz,/metrics
create clusterrole-agg create clusterrole agg --aggregation-rule=rbac.example.com/aggregate=true
create serviceaccount create serviceaccount sa1
create service-clusterip create service clusterip svc --tcp=80:8080,443:https
create service-nodeport create service nodeport np --tcp=80:8080 --node-port=30080
create service-externalname create service externalname ext --external-name=example.com
create job create job j1 --image=busybox -- echo hi
create cronjob create cronjob cj --image=busybox --schedule="*/5 * * * *" --restart=OnFailure -- date
# the fake server answers GET cronjobs/rich with rich-cronjob.json: a pod template using most PodSpec/Container features
create job-from-cronjob create job from-rich --from=cronjob/rich
create priorityclass create priorityclass zero --value=0 --description="zero prio" --preemption-policy=Never
create priorityclass-global create priorityclass high --value=1000 --global-default
create pdb create pdb pdb1 --selector=app=web --min-available=50%
create ingress create ingress ing --rule="foo.com/bar*=svc:8080,tls=my-cert" --class=nginx
create quota create quota q1 --hard=cpu=1,memory=1G,pods=2 --scopes=BestEffort

SSAR='{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{},'
run ssar "$SSAR"'"spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}},"status":{"allowed":false}}' \
    auth can-i get pods -n default
run ssar-subresource "$SSAR"'"spec":{"resourceAttributes":{"namespace":"team-a","verb":"update","group":"apps","resource":"deployments","subresource":"scale","name":"web"}},"status":{"allowed":false}}' \
    auth can-i update deployments.apps/web --subresource=scale -n team-a
run ssar-nonresource "$SSAR"'"spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}},"status":{"allowed":false}}' \
    auth can-i get /healthz
run ssar-allns "$SSAR"'"spec":{"resourceAttributes":{"verb":"list","resource":"secrets"}},"status":{"allowed":false}}' \
    auth can-i list secrets --all-namespaces
run ssrr '{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","metadata":{},"spec":{"namespace":"default"},"status":{"incomplete":false}}' \
    auth can-i --list -n default
run whoami '{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","metadata":{},"status":{"userInfo":{}}}' \
    auth whoami
run tokenrequest '{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{},"spec":{},"status":{"token":""}}' \
    create token default -n default
run tokenrequest-full '{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{},"spec":{"audiences":["api","vault"],"expirationSeconds":3600,"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"p1","uid":"abc-123"}},"status":{"token":""}}' \
    create token sa1 -n team-a --audience=api --audience=vault --duration=1h --bound-object-kind=Pod --bound-object-name=p1 --bound-object-uid=abc-123

python3 "$HERE/crafted.py" "$FIX" && echo "crafted-*"
