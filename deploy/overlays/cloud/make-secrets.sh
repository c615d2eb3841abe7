#!/usr/bin/env bash
# Prints the Secrets the cloud overlay needs, consistent with one another,
# for `kubectl apply -f -`:
#
#   deploy/overlays/cloud/make-secrets.sh | kubectl apply -f -
#
#   loam/loam-auth                 auth.yaml: Loam's -auth.file, with the
#                                  SHA-256 of the two tokens below
#   loam/loam-metrics-token        token: the bearer token of /metrics
#   loam/loam-cluster              secret: the nodes' shared secret
#   loam/loam-admin-token          token: an admin of every tenant, for
#                                  people (GET /ring, /flush, deletes)
#   loam-fluent-bit/loam-push-token  token: Fluent Bit's token, role push
#   $GRAFANA_NAMESPACE/loam-grafana-token  token: Grafana's, role read (set
#                                  Grafana's LOAM_GRAFANA_TOKEN from it)
#
# Both tokens are of the one tenant $LOAM_TENANT (default "cluster"), so
# neither Fluent Bit nor Grafana needs to send X-Scope-OrgID. Every run draws
# new tokens: run it once (deploy/README.md says how to rotate one token alone).
# Needs coreutils (od, base64, sha256sum or shasum); no cluster access.
set -euo pipefail
tenant=${LOAM_TENANT:-cluster}
grafana_ns=${GRAFANA_NAMESPACE:-monitoring}

token() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
sha256() {
  if command -v sha256sum >/dev/null; then printf '%s' "$1" | sha256sum | cut -d' ' -f1
  else printf '%s' "$1" | shasum -a 256 | cut -d' ' -f1; fi
}
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
# secret NAMESPACE NAME KEY VALUE
secret() {
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app.kubernetes.io/part-of: loam\ntype: Opaque\ndata:\n  %s: %s\n' \
    "$2" "$1" "$3" "$(b64 "$4")"
}

push=$(token)
read=$(token)
admin=$(token)
auth="# Loam's -auth.file, made by deploy/overlays/cloud/make-secrets.sh.
tokens:
  - name: fluent-bit
    token_sha256: $(sha256 "$push")
    tenants: [\"$tenant\"]
    role: push
  - name: grafana
    token_sha256: $(sha256 "$read")
    tenants: [\"$tenant\"]
    role: read
  - name: admin
    token_sha256: $(sha256 "$admin")
    tenants: [\"*\"]
    role: admin
"
secret loam loam-auth auth.yaml "$auth"
secret loam loam-metrics-token token "$(token)"
secret loam loam-cluster secret "$(token)"
secret loam loam-admin-token token "$admin"
secret loam-fluent-bit loam-push-token token "$push"
secret "$grafana_ns" loam-grafana-token token "$read"
