# shellcheck shell=bash
# Shared settings and helpers of scripts/stack.sh. Sourced, never run.

KUBE_VERSION=v1.37.2
# Staging modules (k8s.io/api, apiserver, ...) are published as v0.<minor>.<patch> of the same release.
KUBE_STAGING_VERSION=v0.${KUBE_VERSION#v1.}
# The etcd release that Kubernetes v1.37 pins for its own integration tests (hack/lib/etcd.sh, kubeadm default).
ETCD_VERSION=v3.7.0
MOTO_VERSION=5.2.5
# Fake nodes and pod lifecycles (scripts/stack/kwok/); its go.mod declares `go 1.26.0`, like Kubernetes v1.37.
KWOK_VERSION=v0.8.0

CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/eks-secret-sync
KUBE_BIN_DIR=$CACHE_DIR/kubernetes-$KUBE_VERSION
ETCD_BIN_DIR=$CACHE_DIR/etcd-$ETCD_VERSION
MOTO_DIR=$CACHE_DIR/moto-$MOTO_VERSION
KWOK_BIN_DIR=$CACHE_DIR/kwok-$KWOK_VERSION
STACK_DIR=${EKS_SYNC_STACK_DIR:-$CACHE_DIR/stack}

PKI_DIR=$STACK_DIR/pki
LOG_DIR=$STACK_DIR/logs
PID_DIR=$STACK_DIR/pids
KUBECONFIG_DIR=$STACK_DIR/kubeconfig
# The stack's description (scripts/stack/info.ts has its schema). stack.env: the state file of scripts from before
# stack.json, still read when it is the newer one (a stack started by an older checkout).
STATE_FILE=$STACK_DIR/stack.json
LEGACY_STATE_FILE=$STACK_DIR/stack.env

AWS_REGION_DEFAULT=us-east-1
# Readiness bounds, in seconds.
ETCD_READY_TIMEOUT=${EKS_SYNC_ETCD_READY_TIMEOUT:-30}
APISERVER_READY_TIMEOUT=${EKS_SYNC_APISERVER_READY_TIMEOUT:-90}
KCM_READY_TIMEOUT=${EKS_SYNC_KCM_READY_TIMEOUT:-60}
MOTO_READY_TIMEOUT=${EKS_SYNC_MOTO_READY_TIMEOUT:-60}
SCHEDULER_READY_TIMEOUT=${EKS_SYNC_SCHEDULER_READY_TIMEOUT:-60}
KWOK_READY_TIMEOUT=${EKS_SYNC_KWOK_READY_TIMEOUT:-60}
# The fake nodes of each cluster, and their label: kwok manages those nodes, and only those.
KWOK_NODES=(kwok-node-1 kwok-node-2)
KWOK_NODE_LABEL=eks-secret-sync.test/kwok=true
# The pod label that makes kwok fail a pod (values never-ready, crash-loop): scripts/stack/kwok/stages.yaml.
KWOK_FAIL_LABEL=eks-secret-sync.test/fail

log() { printf 'stack: %s\n' "$*" >&2; }

die() {
  printf 'stack: error: %s\n' "$*" >&2
  exit 1
}

# Prints the last lines of a log file, indented, to stderr.
log_tail() {
  local file=$1 lines=${2:-25}
  if [[ -s $file ]]; then
    printf '  last %s lines of %s:\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" | sed 's/^/    | /' >&2
  else
    printf '  (log %s is empty or missing)\n' "$file" >&2
  fi
}

# Fails naming the component, its log file and the end of that log.
die_component() {
  local component=$1 logfile=$2
  shift 2
  printf 'stack: error: %s: %s\n  log: %s\n' "$component" "$*" "$logfile" >&2
  log_tail "$logfile" "${EKS_SYNC_LOG_LINES:-25}"
  exit 1
}

# The start time of a process (field 22 of /proc/PID/stat, counted after the parenthesised command name, which may
# contain spaces). PID plus start time identifies a process even after its PID has been reused.
proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s\n' "${20}"
}

# Prints the PID recorded for a component if that very process is still alive; fails otherwise.
live_pid() {
  local pidfile=$PID_DIR/$1.pid pid start now
  [[ -f $pidfile ]] || return 1
  read -r pid start <"$pidfile" || return 1
  [[ -n ${pid:-} && -n ${start:-} ]] || return 1
  now=$(proc_start_time "$pid") || return 1
  [[ $now == "$start" ]] || return 1
  printf '%s\n' "$pid"
}

record_pid() {
  local component=$1 pid=$2 start
  start=$(proc_start_time "$pid") || return 1
  printf '%s %s\n' "$pid" "$start" >"$PID_DIR/$component.pid"
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Names the process listening on a port, when ss can tell.
port_holder() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))$/\1/p' | head -n1
}

ensure_port_free() {
  local component=$1 port=$2 holder
  if port_open "$port"; then
    holder=$(port_holder "$port")
    die "$component: port 127.0.0.1:$port is already in use${holder:+ by $holder}; stop that process or choose other ports (EKS_SYNC_*_PORT, see README)"
  fi
}

# Starts a program detached from the terminal (own session), logs to LOGFILE, records its PID.
# Usage: spawn COMPONENT LOGFILE PROGRAM [ARGS...]
spawn() {
  local component=$1 logfile=$2
  shift 2
  printf '\n=== %s starting %s ===\n' "$(date -u +%FT%TZ)" "$component" >>"$logfile"
  # setsid: a Ctrl-C in the shell that ran `up` must not reach the stack. Not a process-group leader here, so
  # setsid execs in place and $! is the component's own PID. The stack lock's descriptor is closed first, or the
  # component would hold the lock for its whole life.
  (
    [[ -z ${stack_lock:-} ]] || exec {stack_lock}>&-
    exec setsid "$@" </dev/null >>"$logfile" 2>&1
  ) &
  local pid=$!
  record_pid "$component" "$pid" || die_component "$component" "$logfile" "exited immediately after start"
}

# Polls CHECK (a command) until it succeeds; fails naming the component when its process dies or time runs out.
# Usage: wait_ready COMPONENT LOGFILE TIMEOUT_S CHECK [ARGS...]
wait_ready() {
  local component=$1 logfile=$2 timeout=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if ! live_pid "$component" >/dev/null; then
      die_component "$component" "$logfile" "the process exited before it became ready"
    fi
    if ((SECONDS >= deadline)); then
      die_component "$component" "$logfile" "not ready within ${timeout}s (it is still running; stop it with: npm run stack -- down)"
    fi
    sleep 0.3
  done
}

# Runs scripts/stack/info.ts (the stack description's reader and writer) with the repository's tsx.
stack_info() {
  local tsx=$ROOT/node_modules/.bin/tsx
  [[ -x $tsx ]] || die "$tsx is missing: run npm install first"
  "$tsx" "$ROOT/scripts/stack/info.ts" "$@"
}

# Single-quoted shell literal of $1.
sh_quote() {
  printf "'%s'" "${1//\'/\'\\\'\'}"
}
