#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the cluster tests and for anyone
# trying tgictl without a cluster: etcd, kube-apiserver, kube-controller-manager
# and kube-scheduler at the releases pinned in scripts/cluster/*/go.mod, built
# through the Go module proxy and cached in the tools directory, with kwok as the
# nodes' kubelet (three fake nodes: 8 A100s, 1 A10G, CPU only); prometheus-adapter
# and KEDA's operator are built beside them for the autoscaling tests, which start
# them themselves.
#
#   scripts/cluster.sh build [--cached]  → prints the directory of the built binaries
#                                          (--cached: only if built; exit 1 otherwise)
#   scripts/cluster.sh start             → starts it; the last line printed is the kubeconfig's path
#   scripts/cluster.sh stop              → stops it and removes its state: no process or file left
#   scripts/cluster.sh status            → prints the kubeconfig's path if it is up (exit 1 otherwise)
#   scripts/cluster.sh restart-apiserver → stops the API server and starts it again (etcd keeps the state)
#
# Everything the cluster writes lives in $TGICTL_CLUSTER_DIR (default
# ${TMPDIR:-/tmp}/tgictl-cluster); its ports start at $TGICTL_CLUSTER_PORT
# (default 26601: below the ephemeral range, where tests' clients and servers
# take their ports). Only loopback addresses are served or dialled.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
modules="$here/cluster"
tools="${TGICTL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tgictl/bin}"
state="${TGICTL_CLUSTER_DIR:-${TMPDIR:-/tmp}/tgictl-cluster}"
port_base="${TGICTL_CLUSTER_PORT:-26601}"
etcd_port=$port_base
etcd_peer_port=$((port_base + 1))
apiserver_port=$((port_base + 2))
kubelet_port=$((port_base + 3))

# The cache key: the pinned versions and their checksums, so a changed pin rebuilds.
bin_dir() {
  local key
  key=$(cat "$modules"/*/go.mod "$modules"/*/go.sum | sha256sum | cut -c1-12)
  echo "$tools/cluster-$key"
}

build() {
  local bin
  bin=$(bin_dir)
  if [ -f "$bin/.complete" ]; then
    echo "$bin"
    return 0
  fi
  [ "${1:-}" = --cached ] && return 1
  rm -rf "$bin"
  mkdir -p "$bin/kwok-config/crds"
  local flags=(-trimpath -ldflags=-s\ -w)
  (cd "$modules/etcd" && go build "${flags[@]}" -o "$bin/etcd" go.etcd.io/etcd/server/v3) >&2
  # Kubernetes' own build stamps its version into component-base (hack/lib/version.sh);
  # unstamped, the API server reports v0.0.0-master and Helm refuses charts' kubeVersion.
  local version minor
  version=$(cd "$modules/kubernetes" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$version" | cut -d. -f2)
  local stamp="-s -w"
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp="$stamp -X $package.gitVersion=$version -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    stamp="$stamp -X $package.gitTreeState=clean -X $package.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$modules/kubernetes" && go build -trimpath "-ldflags=$stamp" -o "$bin/" tool) >&2
  (cd "$modules/kwok" && go build "${flags[@]}" -o "$bin/" tool) >&2
  # Not started with the cluster: the autoscaling tests run it against their own Prometheus.
  (cd "$modules/prometheus-adapter" && go build "${flags[@]}" -o "$bin/prometheus-adapter" sigs.k8s.io/prometheus-adapter/cmd/adapter) >&2
  (cd "$modules/keda" && go build "${flags[@]}" -o "$bin/keda-operator" github.com/kedacore/keda/v2/cmd/operator) >&2
  # KEDA's CRDs ship in its module; its operator watches every kind of them.
  mkdir -p "$bin/keda-config/crds"
  cp "$(cd "$modules/keda" && go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)"/config/crd/bases/*.yaml "$bin/keda-config/crds/"
  # kwok's CRDs and stock lifecycle stages ship in its module, not in its binary.
  local kwok_src
  kwok_src=$(cd "$modules/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  cp "$kwok_src"/kustomize/crd/bases/*.yaml "$bin/kwok-config/crds/"
  cat "$kwok_src"/kustomize/stage/node/fast/node-initialize.yaml <(echo ---) \
    "$kwok_src"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml <(echo ---) \
    "$kwok_src"/kustomize/stage/volume/fast/pvc-provision.yaml <(echo ---) \
    "$kwok_src"/kustomize/stage/volume/fast/pv-bind.yaml <(echo ---) \
    "$kwok_src"/kustomize/stage/volume/fast/pvc-delete.yaml <(echo ---) \
    "$kwok_src"/kustomize/stage/volume/fast/pv-delete.yaml > "$bin/kwok-config/stock-stages.yaml"
  touch "$bin/.complete"  # an interrupted build is redone, never half-used
  echo "$bin"
}

kubectl() {
  "$tools/kubectl" --kubeconfig "$state/admin.kubeconfig" "$@"
}

# One key pair and certificate signed by the cluster's CA: NAME CN ORG [SAN].
certificate() {
  local name=$1 cn=$2 org=$3 san=${4:-} ca=${5:-ca}
  local ext="$state/pki/$name.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > "$ext"
  [ -n "$san" ] && echo "subjectAltName=$san" >> "$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$state/pki/$name.key" 2>/dev/null
  openssl req -new -key "$state/pki/$name.key" -subj "/CN=$cn${org:+/O=$org}" -out "$state/pki/$name.csr"
  openssl x509 -req -in "$state/pki/$name.csr" -CA "$state/pki/$ca.crt" -CAkey "$state/pki/$ca.key" \
    -CAcreateserial -days 7 -extfile "$ext" -out "$state/pki/$name.crt" 2>/dev/null
}

authority() {
  openssl ecparam -name prime256v1 -genkey -noout -out "$state/pki/$1.key" 2>/dev/null
  openssl req -x509 -new -key "$state/pki/$1.key" -subj "/CN=$2" -days 7 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$state/pki/$1.crt"
}

pki() {
  mkdir -p "$state/pki"
  authority ca tgictl-cluster-ca
  authority front-proxy-ca tgictl-front-proxy-ca
  certificate apiserver kube-apiserver "" \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  certificate kubelet kwok-kubelet "" "IP:127.0.0.1,DNS:localhost"
  certificate apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  certificate admin tgictl-admin system:masters
  certificate controller-manager system:kube-controller-manager ""
  certificate scheduler system:kube-scheduler ""
  certificate kwok kwok-controller system:masters
  certificate front-proxy-client front-proxy-client "" "" front-proxy-ca
  openssl ecparam -name prime256v1 -genkey -noout -out "$state/pki/sa.key" 2>/dev/null
  openssl ec -in "$state/pki/sa.key" -pubout -out "$state/pki/sa.pub" 2>/dev/null
}

# A kubeconfig for one client certificate: NAME.
kubeconfig() {
  local name=$1
  cat > "$state/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tgictl-cluster
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $(base64 -w0 < "$state/pki/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 < "$state/pki/$name.crt")
    client-key-data: $(base64 -w0 < "$state/pki/$name.key")
contexts:
- name: tgictl-cluster
  context: {cluster: tgictl-cluster, user: $name}
current-context: tgictl-cluster
EOF
}

# Start a component in the background: NAME COMMAND...; its log and pid in the state directory.
launch() {
  local name=$1
  shift
  setsid "$@" > "$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name"
}

# Wait until COMMAND succeeds (NAME, SECONDS, COMMAND...); on time-out show NAME's log and fail.
await() {
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$(cat "$state/pids/$name")" 2>/dev/null; then
      echo "cluster: $name did not come up; the end of its log ($state/logs/$name.log):" >&2
      tail -20 "$state/logs/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# The API server: BIN (the directory of the built binaries).
launch_apiserver() {
  local bin=$1
  # As a managed cluster serves: RBAC and Node authorization, the default admission
  # plugins (ResourceQuota, LimitRanger, PodSecurity, ...) plus NodeRestriction, and
  # the aggregation layer's front proxy for APIServices (metrics adapters).
  launch kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$apiserver_port" \
    --tls-cert-file "$state/pki/apiserver.crt" --tls-private-key-file "$state/pki/apiserver.key" \
    --client-ca-file "$state/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$state/pki/sa.pub" --service-account-signing-key-file "$state/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --kubelet-client-certificate "$state/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$state/pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$state/pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --requestheader-client-ca-file "$state/pki/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$state/pki/front-proxy-client.crt" --proxy-client-key-file "$state/pki/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --profiling=false
}
# Every CRD Established. Polled: kubectl wait fails at once ("accessor error: <nil>")
# on a CRD so new it has no status yet, instead of waiting.
established() {
  local tries=0
  until kubectl wait --for condition=Established crd --all --timeout 60s >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "CRDs not established after 60 tries" >&2; return 1; }
    sleep 1
  done
}

start() {
  if [ -f "$state/admin.kubeconfig" ] && status >/dev/null; then
    echo "$state/admin.kubeconfig"
    return 0
  fi
  stop
  local bin
  bin=$(build)
  [ -x "$tools/kubectl" ] || { echo "cluster: kubectl is missing: run scripts/setup.sh" >&2; return 1; }
  mkdir -p "$state/logs" "$state/pids" "$state/etcd"
  pki
  for name in admin controller-manager scheduler kwok; do kubeconfig "$name"; done

  launch etcd "$bin/etcd" --name tgictl --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "tgictl=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync --log-level warn
  await etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

  launch_apiserver "$bin"
  await kube-apiserver 90 kubectl get --raw /readyz

  launch kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$state/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$state/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$state/pki/sa.key" --root-ca-file "$state/pki/ca.crt" \
    --cluster-signing-cert-file "$state/pki/ca.crt" --cluster-signing-key-file "$state/pki/ca.key" \
    --controllers '*' --horizontal-pod-autoscaler-sync-period 5s
  launch kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$state/scheduler.kubeconfig" \
    --authentication-kubeconfig "$state/scheduler.kubeconfig" \
    --authorization-kubeconfig "$state/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false

  # kwok reads its lifecycle stages from files; port-forward and log routes are
  # objects (ClusterPortForward, ClusterLogs, ...) that tests create per namespace.
  kubectl apply -f "$bin/kwok-config/crds/" >/dev/null
  established
  launch kwok "$bin/kwok" --kubeconfig "$state/kwok.kubeconfig" \
    --config "$bin/kwok-config/stock-stages.yaml,$modules/pod-stages.yaml" \
    --manage-all-nodes=true --node-ip 127.0.0.1 --node-port "$kubelet_port" \
    --server-address "127.0.0.1:$kubelet_port" \
    --tls-cert-file "$state/pki/kubelet.crt" --tls-private-key-file "$state/pki/kubelet.key" \
    --node-lease-duration-seconds 40 --cidr 10.244.0.0/16 \
    --enable-crds ClusterPortForward,PortForward,ClusterLogs,Logs,ClusterExec,Exec
  kubectl apply -f "$modules/nodes.yaml" >/dev/null
  await kwok 60 kubectl wait --for condition=Ready node --all --timeout 1s
  # The controllers' own ServiceAccounts and the default namespace's come first.
  await kube-controller-manager 60 kubectl get serviceaccount default -n default
  # Each still running: a port taken ends kwok's kubelet server, not its controller.
  sleep 1
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    if ! kill -0 "$(cat "$state/pids/$name")" 2>/dev/null; then
      echo "cluster: $name exited; the end of its log ($state/logs/$name.log):" >&2
      tail -20 "$state/logs/$name.log" >&2
      return 1
    fi
  done
  echo "$state/admin.kubeconfig"
}

# Stop the API server and start it again on the same etcd: clients see their streams cut
# and the server's watch cache rebuilt from a fresh list.
restart_apiserver() {
  status >/dev/null || { echo "cluster: not running" >&2; return 1; }
  local pid
  pid=$(cat "$state/pids/kube-apiserver")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  launch_apiserver "$(build --cached)"
  await kube-apiserver 90 kubectl get --raw /readyz
  echo "$state/admin.kubeconfig"
}
status() {
  [ -f "$state/admin.kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1 || return 1
  echo "$state/admin.kubeconfig"
}

stop() {
  if [ -d "$state/pids" ]; then
    for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
      [ -f "$state/pids/$name" ] || continue
      local pid
      pid=$(cat "$state/pids/$name")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
  fi
  rm -rf "$state"
}

case "${1:-}" in
  build) build "${2:-}" ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart-apiserver) restart_apiserver ;;
  *) echo "usage: scripts/cluster.sh build [--cached] | start | stop | status | restart-apiserver" >&2; exit 2 ;;
esac
