#!/usr/bin/env bash
# The local stack of eks-secret-sync, all on loopback: one etcd, N kube-apiservers (one simulated cluster each, own
# etcd prefix) with a controller-manager, a scheduler and a kwok (fake nodes, pods Ready) each, and moto for AWS.
#
#   npm run stack -- up [--clusters N]   provision on first use (build, cached), then start; idempotent
#   npm run stack -- down [--purge]      stop exactly the processes `up` started (pid files); --purge drops the state
#   npm run stack -- status              health of each component (exit 1 when one is not healthy)
#   npm run stack -- env [--json]        shell exports (eval "$(npm run --silent stack -- env)") or stack.json
#
# State (certificates, tokens, kubeconfigs, etcd data, logs, pid files, and stack.json: the stack's description for
# programs, schema in scripts/stack/info.ts) lives in $EKS_SYNC_STACK_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/eks-secret-sync/stack. Ports: EKS_SYNC_ETCD_PORT (23790; peer +10),
# EKS_SYNC_APISERVER_PORT (16443, one per cluster upward), EKS_SYNC_KCM_PORT (17443, likewise),
# EKS_SYNC_SCHEDULER_PORT and EKS_SYNC_KWOK_PORT (the controller-manager's + 1000 and + 2000, likewise),
# EKS_SYNC_MOTO_PORT (15566); a running stack keeps the ports it was started with.
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

# For a command whose only option is one flag: sets the caller's variable VAR to 1 when FLAG is given, else 0; any
# other argument is a usage error. Usage: one_flag VAR FLAG "$@"
one_flag() {
  local one_flag_var=$1 one_flag_name=$2
  shift 2
  printf -v "$one_flag_var" 0
  while (($#)); do
    [[ $1 == "$one_flag_name" ]] || usage
    printf -v "$one_flag_var" 1
    shift
  done
}

# The cluster count and ports of the stack directory's last `up`: from stack.json, or from the older stack.env when
# that one is newer (written by a checkout from before stack.json, which may still run this stack).
load_state() {
  if [[ -f $LEGACY_STATE_FILE && (! -f $STATE_FILE || $LEGACY_STATE_FILE -nt $STATE_FILE) ]]; then
    # shellcheck source=/dev/null
    source "$LEGACY_STATE_FILE"
    derive_ports
    return 0
  fi
  [[ -f $STATE_FILE ]] || return 1
  local line
  line=$(stack_info state "$STATE_FILE" --all) || exit 1
  read -r STACK_CLUSTERS ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT MOTO_PORT SCHEDULER_PORT KWOK_PORT <<<"$line"
  # `-`: a stack.json from before the scheduler and kwok were components.
  [[ $SCHEDULER_PORT != - ]] || SCHEDULER_PORT=''
  [[ $KWOK_PORT != - ]] || KWOK_PORT=''
  derive_ports
}

# True when stack.json is missing or older than the state an older checkout wrote.
state_outdated() {
  [[ ! -f $STATE_FILE || ($LEGACY_STATE_FILE -nt $STATE_FILE) ]]
}

# Writes stack.json from the variables of the current run (scripts/stack/info.ts builds and checks it).
write_state() {
  local i node clusters=() nodes=()
  for node in "${KWOK_NODES[@]}"; do nodes+=(--kwok-node "$node"); done
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    clusters+=(--cluster "$(cluster_name "$i")=https://127.0.0.1:$(apiserver_port "$i")")
  done
  stack_info write "$STATE_FILE" --stack-dir "$STACK_DIR" --kubeconfig "$KUBECONFIG_DIR/admin.kubeconfig" \
    --sync-kubeconfig "$KUBECONFIG_DIR/sync.kubeconfig" --ca-file "$PKI_DIR/ca.crt" --kubectl-dir "$STACK_DIR/bin" \
    --region "$AWS_REGION_DEFAULT" --kubernetes-version "$KUBE_VERSION" --etcd-version "$ETCD_VERSION" \
    --moto-version "$MOTO_VERSION" --etcd-port "$ETCD_PORT" --etcd-peer-port "$ETCD_PEER_PORT" \
    --apiserver-port "$APISERVER_PORT" --kcm-port "$KCM_PORT" --moto-port "$MOTO_PORT" \
    --scheduler-port "$SCHEDULER_PORT" --kwok-port "$KWOK_PORT" --kwok-version "$KWOK_VERSION" \
    --kwok-fail-label "$KWOK_FAIL_LABEL" "${nodes[@]}" "${clusters[@]}" || exit 1
}

# Ports of a stopped stack: EKS_SYNC_*_PORT when set, else those of the last run (state file), else the defaults.
choose_ports() {
  ETCD_PORT=${EKS_SYNC_ETCD_PORT:-${ETCD_PORT:-23790}}
  APISERVER_PORT=${EKS_SYNC_APISERVER_PORT:-${APISERVER_PORT:-16443}}
  KCM_PORT=${EKS_SYNC_KCM_PORT:-${KCM_PORT:-17443}}
  MOTO_PORT=${EKS_SYNC_MOTO_PORT:-${MOTO_PORT:-15566}}
  SCHEDULER_PORT=${EKS_SYNC_SCHEDULER_PORT:-${SCHEDULER_PORT:-}}
  KWOK_PORT=${EKS_SYNC_KWOK_PORT:-${KWOK_PORT:-}}
  derive_ports
}

# Ports of components newer than a stack's state (or not chosen): derived from the controller-managers' first port,
# so that a stack started with its own EKS_SYNC_KCM_PORT (CI's, a second developer stack) moves them along.
derive_ports() {
  SCHEDULER_PORT=${SCHEDULER_PORT:-${EKS_SYNC_SCHEDULER_PORT:-$((KCM_PORT + 1000))}}
  KWOK_PORT=${KWOK_PORT:-${EKS_SYNC_KWOK_PORT:-$((KCM_PORT + 2000))}}
}

# Components in start order; stopped in reverse. A cluster's own components follow each other, so that they start
# as soon as its API server is ready, while the next API server still boots.
components() {
  local i name
  printf '%s\n' moto etcd
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do printf 'apiserver-%s\n' "$(cluster_name "$i")"; done
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    name=$(cluster_name "$i")
    printf '%s\n' "controller-manager-$name" "scheduler-$name" "kwok-$name"
  done
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
  local c p all
  all=$(components)
  for c in $all; do
    live_pid "$c" >/dev/null && continue
    describe_component "$c"
    for p in "${c_ports[@]}"; do ensure_port_free "$c" "$p"; done
  done
  # Recorded only now: a failed port check must not move the ports of the stack directory's last run.
  write_state
  ensure_pki
  write_kubeconfigs
  ln -sfn "$KUBE_BIN_DIR/kubectl" "$STACK_DIR/bin/kubectl"

  # One pass starts what is not running, each component once the one it needs is ready (so the API servers start
  # in parallel, and moto boots alongside everything); the next awaits them all.
  local fresh=()
  local -A ready=()
  for c in $all; do
    describe_component "$c"
    [[ -z $c_needs ]] || await_ready "$c_needs"
    if ! live_pid "$c" >/dev/null; then "${c_start[@]}" && fresh+=("$c"); fi
  done
  for c in $all; do await_ready "$c"; done

  if ((${#fresh[@]} == 0)); then
    log "already running: $STACK_CLUSTERS cluster(s), nothing started (state: $STACK_DIR)"
  else
    log "up in $((SECONDS - started)) s: started ${fresh[*]}"
    log "clusters stack-1..stack-$STACK_CLUSTERS at https://127.0.0.1:$APISERVER_PORT and up, moto at http://127.0.0.1:$MOTO_PORT"
    log "use it:  eval \"\$(npm run --silent stack -- env)\""
  fi
}

# Waits until a component is ready, once per `up` (the caller declares `ready`); a ready API server's cluster then
# gets deploy/rbac.yaml.
await_ready() {
  local c=$1 c_ports c_needs c_start c_check c_timeout c_url
  [[ -z ${ready[$c]:-} ]] || return 0
  describe_component "$c"
  wait_ready "$c" "$LOG_DIR/$c.log" "$c_timeout" "${c_check[@]}"
  [[ $c != apiserver-* ]] || apply_rbac "${c##*-}"
  ready[$c]=1
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
  local purge
  one_flag purge --purge "$@"
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
  # In phases, each in parallel: the API servers' clients, then API servers and moto, then etcd (the API servers
  # need it to shut down cleanly).
  local all phase
  all=$( (components && printf '%s\n' "${extra[@]}") | sort -u)
  for phase in '^(controller-manager|scheduler|kwok)-' '^(apiserver-|moto$)' '^etcd$'; do
    for c in $(grep -E "$phase" <<<"$all"); do stop_component "$c" & done
    wait
  done
  if ((purge)); then
    # Only a directory this script made (it has the state file) is removed.
    if [[ -f $STATE_FILE || -f $LEGACY_STATE_FILE ]]; then
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
  local c pid health ok=0
  for c in $(components); do
    describe_component "$c"
    if pid=$(live_pid "$c"); then
      if "${c_check[@]}" >/dev/null 2>&1; then health=healthy; else health=UNHEALTHY ok=1; fi
      printf '%-32s %-9s pid %-8s %-10s %s\n' "$c" running "$pid" "$health" "$c_url"
    else
      ok=1
      printf '%-32s %-9s %-12s %-10s %s\n' "$c" STOPPED '' '' "$c_url"
    fi
  done
  printf 'state: %s\n' "$STACK_DIR"
  return "$ok"
}

cmd_env() {
  local json
  one_flag json --json "$@"
  load_state || die "the stack is not set up (no $STATE_FILE): run npm run stack -- up"
  if state_outdated; then
    # A stack directory of an older checkout (stack.env only, or newer): described once from that state.
    lock_stack
    load_state
    write_state
  fi
  if ((json)); then
    cat "$STATE_FILE"
  else
    stack_info exports "$STATE_FILE"
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
