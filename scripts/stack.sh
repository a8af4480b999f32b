#!/usr/bin/env bash
# The local stack of eks-secret-sync, all on loopback: one etcd, N kube-apiservers (one simulated cluster each,
# sharing etcd under different prefixes) with a kube-controller-manager each, and a moto AWS emulator.
#
#   npm run stack -- up [--clusters N]   provision on first use (build, cached), then start; idempotent
#   npm run stack -- down [--purge]      stop exactly the processes `up` started (pid files); --purge drops the state
#   npm run stack -- status              health of each component (exit 1 when one is not healthy)
#   npm run stack -- env [--json]        shell exports (eval "$(npm run --silent stack -- env)") or JSON for tests
#
# State (certificates, tokens, kubeconfigs, etcd data, logs, pid files) lives in $EKS_SYNC_STACK_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/eks-secret-sync/stack. Ports: EKS_SYNC_ETCD_PORT (23790; peer +10),
# EKS_SYNC_APISERVER_PORT (16443, one per cluster upward), EKS_SYNC_KCM_PORT (17443, likewise), EKS_SYNC_MOTO_PORT
# (15566); a running stack keeps the ports it was started with.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=stack/common.sh
source "$ROOT/scripts/stack/common.sh"
# shellcheck source=stack/provision.sh
source "$ROOT/scripts/stack/provision.sh"
# shellcheck source=stack/pki.sh
source "$ROOT/scripts/stack/pki.sh"
# shellcheck source=stack/components.sh
source "$ROOT/scripts/stack/components.sh"

usage() {
  sed -n '5,8s/^#   //p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

load_state() {
  [[ -f $STATE_FILE ]] || return 1
  # shellcheck source=/dev/null
  source "$STATE_FILE"
}

# Ports of a stopped stack: EKS_SYNC_*_PORT when set, else those of the last run (state file), else the defaults.
choose_ports() {
  ETCD_PORT=${EKS_SYNC_ETCD_PORT:-${ETCD_PORT:-23790}}
  APISERVER_PORT=${EKS_SYNC_APISERVER_PORT:-${APISERVER_PORT:-16443}}
  KCM_PORT=${EKS_SYNC_KCM_PORT:-${KCM_PORT:-17443}}
  MOTO_PORT=${EKS_SYNC_MOTO_PORT:-${MOTO_PORT:-15566}}
}

# Components in start order; stopped in reverse.
components() {
  local i
  printf '%s\n' moto etcd
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do printf 'apiserver-%s\n' "$(cluster_name "$i")"; done
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do printf 'controller-manager-%s\n' "$(cluster_name "$i")"; done
}

any_running() {
  local c
  [[ -d $PID_DIR ]] || return 1
  for c in "$PID_DIR"/*.pid; do
    [[ -e $c ]] || continue
    live_pid "$(basename "$c" .pid)" >/dev/null && return 0
  done
  return 1
}

lock_stack() {
  mkdir -p "$STACK_DIR"
  exec {stack_lock}>"$STACK_DIR/.lock"
  flock "$stack_lock"
}

cmd_up() {
  local requested=3
  while (($#)); do
    case $1 in
      --clusters) requested=${2:-}; shift 2 || usage ;;
      --clusters=*) requested=${1#*=}; shift ;;
      *) usage ;;
    esac
  done
  [[ $requested =~ ^[1-9][0-9]?$ ]] || die "--clusters wants a number from 1 to 99, got '$requested'"
  local started=$SECONDS
  provision
  lock_stack
  mkdir -p "$LOG_DIR" "$PID_DIR" "$STACK_DIR/bin"

  STACK_CLUSTERS=0
  if any_running && load_state; then
    # A running stack keeps its ports; asking for fewer clusters than run leaves the extra ones alone.
    ((requested > STACK_CLUSTERS)) && log "adding clusters $((STACK_CLUSTERS + 1))..$requested to the running stack"
  else
    load_state || true
    STACK_CLUSTERS=0
    choose_ports
  fi
  ((requested > STACK_CLUSTERS)) && STACK_CLUSTERS=$requested
  ETCD_PEER_PORT=$((ETCD_PORT + 10))

  # Every port is checked before anything starts, so a conflict does not leave a half-started stack behind.
  local i name fresh=()
  live_pid moto >/dev/null || ensure_port_free moto "$MOTO_PORT"
  if ! live_pid etcd >/dev/null; then
    ensure_port_free etcd "$ETCD_PORT"
    ensure_port_free etcd "$ETCD_PEER_PORT"
  fi
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    live_pid "apiserver-$name" >/dev/null || ensure_port_free "apiserver-$name" "$(apiserver_port "$i")"
    live_pid "controller-manager-$name" >/dev/null || ensure_port_free "controller-manager-$name" "$(kcm_port "$i")"
  done
  # Recorded only now: a failed port check must not move the ports of the stack directory's last run.
  printf 'STACK_CLUSTERS=%s\nETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\nKCM_PORT=%s\nMOTO_PORT=%s\n' \
    "$STACK_CLUSTERS" "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$MOTO_PORT" >"$STATE_FILE"
  ensure_pki
  write_kubeconfigs
  ln -sfn "$KUBE_BIN_DIR/kubectl" "$STACK_DIR/bin/kubectl"

  if ! live_pid moto >/dev/null; then start_moto && fresh+=(moto); fi
  if ! live_pid etcd >/dev/null; then start_etcd && fresh+=(etcd); fi
  wait_ready etcd "$LOG_DIR/etcd.log" "$ETCD_READY_TIMEOUT" check_etcd
  # API servers start in parallel; each is then awaited.
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    if ! live_pid "apiserver-$name" >/dev/null; then start_apiserver "$i" && fresh+=("apiserver-$name"); fi
  done
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    wait_ready "apiserver-$name" "$LOG_DIR/apiserver-$name.log" "$APISERVER_READY_TIMEOUT" check_apiserver "$i"
    apply_rbac "$i"
  done
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    if ! live_pid "controller-manager-$name" >/dev/null; then
      start_controller_manager "$i" && fresh+=("controller-manager-$name")
    fi
  done
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    wait_ready "controller-manager-$name" "$LOG_DIR/controller-manager-$name.log" "$KCM_READY_TIMEOUT" \
      check_controller_manager "$i"
  done
  wait_ready moto "$LOG_DIR/moto.log" "$MOTO_READY_TIMEOUT" check_moto

  if ((${#fresh[@]} == 0)); then
    log "already running: $STACK_CLUSTERS cluster(s), nothing started (state: $STACK_DIR)"
  else
    log "up in $((SECONDS - started)) s: started ${fresh[*]}"
    log "clusters stack-1..stack-$STACK_CLUSTERS at https://127.0.0.1:$APISERVER_PORT and up, moto at http://127.0.0.1:$MOTO_PORT"
    log "use it:  eval \"\$(npm run --silent stack -- env)\""
  fi
}

stop_component() {
  local component=$1 pid i
  if ! pid=$(live_pid "$component"); then
    if [[ -f $PID_DIR/$component.pid ]]; then
      log "$component was not running (stale pid file removed)"
      rm -f "$PID_DIR/$component.pid"
    fi
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    live_pid "$component" >/dev/null || break
    sleep 0.1
  done
  if live_pid "$component" >/dev/null; then
    log "$component (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$PID_DIR/$component.pid"
  log "stopped $component (pid $pid)"
}

cmd_down() {
  local purge=0
  while (($#)); do
    case $1 in
      --purge) purge=1; shift ;;
      *) usage ;;
    esac
  done
  if [[ ! -d $STACK_DIR ]]; then
    log "no stack state in $STACK_DIR: nothing to stop"
    return 0
  fi
  lock_stack
  load_state || STACK_CLUSTERS=0
  # Every pid file counts, also those of clusters beyond the recorded count (a state file can be older).
  local c extra=()
  for c in "$PID_DIR"/*.pid; do
    [[ -e $c ]] || continue
    c=$(basename "$c" .pid)
    grep -qxF "$c" <(components) || extra+=("$c")
  done
  # In phases, each in parallel: controller-managers, then API servers and moto, then etcd (the API servers need
  # it to shut down cleanly).
  local all phase
  all=$( (components && printf '%s\n' "${extra[@]}") | sort -u)
  for phase in '^controller-manager-' '^(apiserver-|moto$)' '^etcd$'; do
    for c in $(grep -E "$phase" <<<"$all"); do stop_component "$c" & done
    wait
  done
  if ((purge)); then
    # Only a directory this script made (it has the state file) is removed.
    if [[ -f $STATE_FILE ]]; then
      rm -rf "$STACK_DIR"
      log "removed $STACK_DIR"
    else
      log "not removing $STACK_DIR: it has no $STATE_FILE"
    fi
  fi
}

cmd_status() {
  if ! load_state; then
    log "not set up: no $STATE_FILE (run: npm run stack -- up)"
    return 1
  fi
  local c pid health ok=0 i name
  report() {
    local component=$1 url=$2 check=$3
    shift 3
    if pid=$(live_pid "$component"); then
      if "$check" "$@" >/dev/null 2>&1; then health=healthy; else health=UNHEALTHY ok=1; fi
      printf '%-32s %-9s pid %-8s %-10s %s\n' "$component" running "$pid" "$health" "$url"
    else
      ok=1
      printf '%-32s %-9s %-12s %-10s %s\n' "$component" STOPPED '' '' "$url"
    fi
  }
  report etcd "http://127.0.0.1:$ETCD_PORT" check_etcd
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    report "apiserver-$name" "https://127.0.0.1:$(apiserver_port "$i") (readyz)" check_apiserver "$i"
    report "controller-manager-$name" "https://127.0.0.1:$(kcm_port "$i") (healthz)" check_controller_manager "$i"
  done
  report moto "http://127.0.0.1:$MOTO_PORT (Secrets Manager ListSecrets)" check_moto
  printf 'state: %s\n' "$STACK_DIR"
  return "$ok"
}

cmd_env() {
  local json=0
  while (($#)); do
    case $1 in
      --json) json=1; shift ;;
      *) usage ;;
    esac
  done
  load_state || die "the stack is not set up (no $STATE_FILE): run npm run stack -- up"
  local i names=() servers=() clusters_csv
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    names+=("$(cluster_name "$i")")
    servers+=("https://127.0.0.1:$(apiserver_port "$i")")
  done
  clusters_csv=$(IFS=,; printf '%s' "${names[*]}")
  local -A vars=(
    [KUBECONFIG]=$KUBECONFIG_DIR/admin.kubeconfig
    [EKS_SYNC_KUBECONFIG]=$KUBECONFIG_DIR/sync.kubeconfig
    [EKS_SYNC_STACK_CLUSTERS]=$clusters_csv
    [EKS_SYNC_STACK_DIR]=$STACK_DIR
    [AWS_ENDPOINT_URL]=http://127.0.0.1:$MOTO_PORT
    [AWS_REGION]=$AWS_REGION_DEFAULT
    [AWS_DEFAULT_REGION]=$AWS_REGION_DEFAULT
    [AWS_ACCESS_KEY_ID]=testing
    [AWS_SECRET_ACCESS_KEY]=testing
  )
  local order=(KUBECONFIG EKS_SYNC_KUBECONFIG EKS_SYNC_STACK_CLUSTERS EKS_SYNC_STACK_DIR AWS_ENDPOINT_URL AWS_REGION
    AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY) k sep
  if ((json)); then
    printf '{\n  "stackDir": %s,\n  "kubeconfig": %s,\n  "syncKubeconfig": %s,\n  "caFile": %s,\n  "kubectlDir": %s,\n' \
      "$(json_str "$STACK_DIR")" "$(json_str "${vars[KUBECONFIG]}")" "$(json_str "${vars[EKS_SYNC_KUBECONFIG]}")" \
      "$(json_str "$PKI_DIR/ca.crt")" "$(json_str "$STACK_DIR/bin")"
    # clusters: the context names (in both kubeconfigs); servers: each cluster's API server URL.
    printf '  "clusters": ['
    sep=''
    for ((i = 0; i < STACK_CLUSTERS; i++)); do
      printf '%s%s' "$sep" "$(json_str "${names[i]}")"
      sep=', '
    done
    printf '],\n  "servers": {'
    sep=''
    for ((i = 0; i < STACK_CLUSTERS; i++)); do
      printf '%s\n    %s: %s' "$sep" "$(json_str "${names[i]}")" "$(json_str "${servers[i]}")"
      sep=,
    done
    printf '\n  },\n  "aws": { "endpoint": %s, "region": %s, "accessKeyId": "testing", "secretAccessKey": "testing" },\n' \
      "$(json_str "${vars[AWS_ENDPOINT_URL]}")" "$(json_str "$AWS_REGION_DEFAULT")"
    printf '  "versions": { "kubernetes": %s, "etcd": %s, "moto": %s },\n' "$(json_str "$KUBE_VERSION")" \
      "$(json_str "$ETCD_VERSION")" "$(json_str "$MOTO_VERSION")"
    printf '  "env": {'
    sep=''
    for k in "${order[@]}"; do
      printf '%s\n    "%s": %s' "$sep" "$k" "$(json_str "${vars[$k]}")"
      sep=,
    done
    printf '\n  }\n}\n'
  else
    for k in "${order[@]}"; do printf 'export %s=%s\n' "$k" "$(sh_quote "${vars[$k]}")"; done
    printf 'export PATH=%s:"$PATH"\n' "$(sh_quote "$STACK_DIR/bin")"
  fi
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env "$@" ;;
    *) usage ;;
  esac
}

main "$@"
