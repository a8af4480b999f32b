# shellcheck shell=bash
# Start commands and health checks of the stack's components. Sourced by scripts/stack.sh after common.sh/pki.sh.
# Component names (also the names of their pid and log files): etcd, moto, apiserver-stack-N, controller-manager-stack-N,
# scheduler-stack-N, kwok-stack-N.

KCM_CONTROLLERS=deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller
KCM_CONTROLLERS+=,namespace-controller,garbage-collector-controller,serviceaccount-controller
KCM_CONTROLLERS+=,serviceaccount-token-controller

check_etcd() {
  curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'
}

check_apiserver() {
  curl -fsS --max-time 3 --cacert "$PKI_DIR/ca.crt" "https://127.0.0.1:$(apiserver_port "$1")/readyz" | grep -q '^ok$'
}

check_controller_manager() {
  curl -fsS --max-time 3 --cacert "$PKI_DIR/ca.crt" "https://127.0.0.1:$(kcm_port "$1")/healthz" | grep -q '^ok$'
}

check_scheduler() {
  curl -fsS --max-time 3 --cacert "$PKI_DIR/ca.crt" "https://127.0.0.1:$(scheduler_port "$1")/healthz" | grep -q '^ok$'
}

# kwok serves /healthz (plain HTTP, loopback) once its node and pod controllers run.
check_kwok() {
  curl -fsS --max-time 3 "http://127.0.0.1:$(kwok_port "$1")/healthz" | grep -q '^ok$'
}

# A real Secrets Manager call (ListSecrets). moto routes by the credential scope and does not check signatures.
check_moto() {
  curl -fsS --max-time 3 -X POST "http://127.0.0.1:$MOTO_PORT/" \
    -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: secretsmanager.ListSecrets' \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/$AWS_REGION_DEFAULT/secretsmanager/aws4_request, SignedHeaders=host, Signature=0" \
    -d '{}' | grep -q '"SecretList"'
}

start_etcd() {
  local logfile=$LOG_DIR/etcd.log
  ensure_port_free etcd "$ETCD_PORT"
  ensure_port_free etcd "$ETCD_PEER_PORT"
  mkdir -p "$STACK_DIR/etcd"
  # --unsafe-no-fsync: a throwaway test store; fsync would only slow every write down.
  spawn etcd "$logfile" "$ETCD_BIN_DIR/etcd" --name stack --data-dir "$STACK_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "stack=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
}

# Spawns COMPONENT of the cluster NAME (pid and log file COMPONENT-NAME) once its PORT is free: the start of every
# per-cluster component. Usage: spawn_cluster_component COMPONENT NAME PORT COMMAND [ARGS...]
spawn_cluster_component() {
  local component=$1 name=$2 port=$3
  shift 3
  ensure_port_free "$component-$name" "$port"
  spawn "$component-$name" "$LOG_DIR/$component-$name.log" "$@"
}

# The flags kube-controller-manager and kube-scheduler share, into the array CONTROLLER_FLAGS: one kubeconfig for
# the API and for delegated authn/authz, no leader election (one replica), HTTPS health on loopback.
controller_flags() {
  local kubeconfig=$1 port=$2
  CONTROLLER_FLAGS=(--kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig"
    --authorization-kubeconfig "$kubeconfig" --leader-elect=false --bind-address 127.0.0.1 --secure-port "$port"
    --tls-cert-file "$PKI_DIR/serving.crt" --tls-private-key-file "$PKI_DIR/serving.key")
}

start_apiserver() {
  local name port
  name=$(cluster_name "$1")
  port=$(apiserver_port "$1")
  # Each simulated cluster keeps its objects under its own etcd prefix. No endpoint reconciler: it refuses a
  # loopback advertise address, and nothing here needs the `kubernetes` Service's endpoints.
  spawn_cluster_component apiserver "$name" "$port" "$KUBE_BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" --etcd-prefix "/registry-$name" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --tls-cert-file "$PKI_DIR/serving.crt" --tls-private-key-file "$PKI_DIR/serving.key" \
    --token-auth-file "$PKI_DIR/tokens.csv" --authorization-mode RBAC \
    --service-account-key-file "$PKI_DIR/sa.pub" --service-account-signing-key-file "$PKI_DIR/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --api-audiences https://kubernetes.default.svc \
    --service-cluster-ip-range 10.0.0.0/24 --enable-admission-plugins NamespaceLifecycle,ServiceAccount \
    --endpoint-reconciler-type none --profiling=false
}

start_controller_manager() {
  local name port
  name=$(cluster_name "$1")
  port=$(kcm_port "$1")
  controller_flags "$KUBECONFIG_DIR/controller-manager-$name.kubeconfig" "$port"
  spawn_cluster_component controller-manager "$name" "$port" "$KUBE_BIN_DIR/kube-controller-manager" \
    "${CONTROLLER_FLAGS[@]}" --controllers "$KCM_CONTROLLERS" \
    --service-account-private-key-file "$PKI_DIR/sa.key" --root-ca-file "$PKI_DIR/ca.crt" \
    --profiling=false
}

start_scheduler() {
  local name port
  name=$(cluster_name "$1")
  port=$(scheduler_port "$1")
  controller_flags "$KUBECONFIG_DIR/scheduler-$name.kubeconfig" "$port"
  spawn_cluster_component scheduler "$name" "$port" "$KUBE_BIN_DIR/kube-scheduler" "${CONTROLLER_FLAGS[@]}" \
    --profiling=false
}

# kwok plays kubelet for the fake nodes (scripts/stack/kwok/nodes.yaml): it moves their pods through the stages of
# scripts/stack/kwok/stages.yaml. No node leases: nothing here (no node-lifecycle controller) would read them. Pod
# IPs come from a range of their own, apart from the Service range (10.0.0.0/24).
start_kwok() {
  local name port
  name=$(cluster_name "$1")
  port=$(kwok_port "$1")
  spawn_cluster_component kwok "$name" "$port" "$KWOK_BIN_DIR/kwok" \
    --kubeconfig "$KUBECONFIG_DIR/kwok-$name.kubeconfig" --config "$ROOT/scripts/stack/kwok/stages.yaml" \
    --manage-nodes-with-label-selector "$KWOK_NODE_LABEL" --node-lease-duration-seconds 0 --cidr 10.244.0.0/16 \
    --server-address "127.0.0.1:$port"
}

start_moto() {
  ensure_port_free moto "$MOTO_PORT"
  spawn moto "$LOG_DIR/moto.log" "$MOTO_DIR/venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
}

# The fake nodes of every cluster, for kwok to manage (by KWOK_NODE_LABEL). No taint keeps pods off them: there
# are no other nodes, and test workloads need no tolerations.
kwok_nodes_manifest() {
  local node
  for node in "${KWOK_NODES[@]}"; do
    printf -- '---\napiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n' "$node"
    printf '  annotations:\n    kwok.x-k8s.io/node: fake\n'
    printf '  labels:\n    %s: "%s"\n' "${KWOK_NODE_LABEL%%=*}" "${KWOK_NODE_LABEL#*=}"
    printf '    kubernetes.io/hostname: %s\n    kubernetes.io/os: linux\n    kubernetes.io/arch: amd64\n' "$node"
  done
}

# Grants the eks-secret-sync identity the documented ClusterRoles (the RoleBindings are per namespace, made by
# the test harness or the operator), installs the Argo Rollouts CRD (no controller: tests only need Rollouts to be
# stored), and registers the cluster's fake nodes: in one kubectl run, as starting one costs more than the apply.
apply_rbac() {
  local i=$1 name logfile
  name=$(cluster_name "$i")
  logfile=$LOG_DIR/rbac-$name.log
  if ! kwok_nodes_manifest | "$KUBE_BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_DIR/admin.kubeconfig" \
    --context "$name" apply -f "$ROOT/deploy/rbac.yaml" -f "$ROOT/scripts/stack/crds" -f - >"$logfile" 2>&1; then
    die_component "setup of $name" "$logfile" "kubectl apply of deploy/rbac.yaml, the CRDs and the fake nodes failed"
  fi
}

# What the phases of `up` and `status` need to know about one component, set as variables: c_ports (the ports it
# listens on), c_needs (the component that must be ready before it starts, or empty), c_start and c_check (commands
# with their arguments), c_timeout (readiness bound, seconds) and c_url (what `status` shows).
describe_component() {
  local i=${1##*-}
  case $1 in
    moto)
      c_ports=("$MOTO_PORT") c_needs='' c_start=(start_moto) c_check=(check_moto) c_timeout=$MOTO_READY_TIMEOUT
      c_url="http://127.0.0.1:$MOTO_PORT (Secrets Manager ListSecrets)"
      ;;
    etcd)
      c_ports=("$ETCD_PORT" "$ETCD_PEER_PORT") c_needs='' c_start=(start_etcd) c_check=(check_etcd)
      c_timeout=$ETCD_READY_TIMEOUT c_url="http://127.0.0.1:$ETCD_PORT"
      ;;
    apiserver-*)
      c_ports=("$(apiserver_port "$i")") c_needs=etcd c_start=(start_apiserver "$i") c_check=(check_apiserver "$i")
      c_timeout=$APISERVER_READY_TIMEOUT c_url="https://127.0.0.1:$(apiserver_port "$i") (readyz)"
      ;;
    controller-manager-*)
      # After its API server (and that server's RBAC), as before: it would only retry until then.
      c_ports=("$(kcm_port "$i")") c_needs=apiserver-$(cluster_name "$i") c_start=(start_controller_manager "$i")
      c_check=(check_controller_manager "$i") c_timeout=$KCM_READY_TIMEOUT
      c_url="https://127.0.0.1:$(kcm_port "$i") (healthz)"
      ;;
    scheduler-*)
      c_ports=("$(scheduler_port "$i")") c_needs=apiserver-$(cluster_name "$i") c_start=(start_scheduler "$i")
      c_check=(check_scheduler "$i") c_timeout=$SCHEDULER_READY_TIMEOUT
      c_url="https://127.0.0.1:$(scheduler_port "$i") (healthz)"
      ;;
    kwok-*)
      # After its API server, whose setup registered the fake nodes kwok manages.
      c_ports=("$(kwok_port "$i")") c_needs=apiserver-$(cluster_name "$i") c_start=(start_kwok "$i")
      c_check=(check_kwok "$i") c_timeout=$KWOK_READY_TIMEOUT c_url="http://127.0.0.1:$(kwok_port "$i") (healthz)"
      ;;
    *) die "unknown component '$1'" ;;
  esac
}
