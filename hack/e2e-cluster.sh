#!/usr/bin/env bash
# End-to-end checks against the cluster of the current kubeconfig (kind, k3d or any), for users who
# have one. It runs `flotilla run` here, against that cluster, serving one test namespace only:
#
#   1. installs the FluxInstance CRD (server-side apply; it is cluster-scoped);
#   2. applies a FluxInstance for a local bare repository (the operator runs here, so file:// works);
#   3. checks the first sync, a new commit, `flotilla release --watch` and `flotilla sync`;
#   4. deletes the instance with deletionPolicy Delete and checks its objects are gone.
#
# Usage: swift build --product flotilla && hack/e2e-cluster.sh [--keep]
# Needs: kubectl, git; rights to create a namespace and to apply the CRD.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FLOTILLA=${FLOTILLA_BIN:-$PWD/.build/debug/flotilla}
KEEP=${1:-}
NS="flotilla-e2e-$(date +%s)-$$"
WORK=$(mktemp -d)
OPERATOR_PID=""

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; [ -f "$WORK/operator.log" ] && tail -40 "$WORK/operator.log" >&2; exit 1; }
cleanup() {
    [ -n "$OPERATOR_PID" ] && kill "$OPERATOR_PID" 2>/dev/null && wait "$OPERATOR_PID" 2>/dev/null || true
    if [ "$KEEP" != "--keep" ]; then
        kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
# Polls `$@` (a command) until it succeeds, for at most $TIMEOUT seconds.
until_ok() {
    local what=$1; shift
    for _ in $(seq 1 "${TIMEOUT:-60}"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    fail "$what"
}

[ -x "$FLOTILLA" ] || fail "no flotilla binary at $FLOTILLA: swift build --product flotilla"
say "cluster: $(kubectl config current-context 2>/dev/null || echo '(KUBECONFIG)'), namespace $NS"
kubectl apply --server-side --force-conflicts -f crds/fluxinstances.flotilla.dev.yaml >/dev/null
until_ok "the FluxInstance API is served" kubectl get fluxinstances -n default
kubectl create namespace "$NS" >/dev/null

say "a repository with a ConfigMap and a Deployment (0 replicas)"
git init -q --bare -b main "$WORK/repo.git"
git clone -q "$WORK/repo.git" "$WORK/checkout" 2>/dev/null
cat > "$WORK/checkout/app.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: e2e}
data: {k: one}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: [sleep, "3600"]
YAML
commit() { git -C "$WORK/checkout" -c user.name=e2e -c user.email=e2e@example.com commit -qam "$1" && git -C "$WORK/checkout" push -q origin HEAD:main; }
git -C "$WORK/checkout" add -A && commit "first"

say "flotilla run (serving $NS only)"
"$FLOTILLA" run --namespace "$NS" --work-dir "$WORK/instances" --metrics-address 127.0.0.1:0 --log-level info >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
kubectl apply -f - >/dev/null <<YAML
apiVersion: flotilla.dev/v1alpha1
kind: FluxInstance
metadata: {name: e2e, namespace: $NS}
spec:
  git: {url: "file://$WORK/repo.git", pollInterval: 2s}
  sync: {interval: 1h, deletionPolicy: Delete}
  registry: {disableScanning: true}
YAML
cm() { kubectl get cm e2e -n "$NS" -o 'jsonpath={.data.k}'; }
cm_is() { test "$(cm)" = "$1"; }
TIMEOUT=90 until_ok "first sync applies the ConfigMap" cm_is one
kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=Synced fli/e2e -n "$NS" --timeout=60s >/dev/null \
    || fail "Ready=Synced"

say "a new commit is applied"
sed -i 's/k: one/k: two/' "$WORK/checkout/app.yaml" && commit "two"
until_ok "the commit is applied" cm_is two

say "flotilla release --watch"
"$FLOTILLA" release -i e2e -n "$NS" -w "$NS:deployment/web" --update-image busybox:1.37 --watch --timeout 90s || fail "release"
image=$(kubectl get deploy web -n "$NS" -o 'jsonpath={.spec.template.spec.containers[0].image}')
[ "$image" = busybox:1.37 ] || fail "the Deployment runs $image"
git -C "$WORK/repo.git" log -1 --format=%s main | grep -q "^Release busybox:1.37" || fail "no release commit"

say "flotilla sync corrects drift"
kubectl patch cm e2e -n "$NS" --type=merge -p '{"data":{"k":"drifted"}}' >/dev/null
"$FLOTILLA" sync -i e2e -n "$NS" --timeout 60s >/dev/null || fail "sync"
cm_is two || fail "drift not corrected"

say "delete with deletionPolicy Delete"
kubectl delete fli e2e -n "$NS" --timeout=60s >/dev/null || fail "the FluxInstance was not finalized"
none_left() { test -z "$(kubectl get cm,deploy -n "$NS" -l flotilla.dev/instance -o name)"; }
until_ok "the synced objects are deleted" none_left

say "PASS"
