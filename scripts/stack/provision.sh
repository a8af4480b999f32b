# shellcheck shell=bash
# First-use provisioning of the stack's programs, cached outside the repository and keyed by version:
#   kube-apiserver, kube-controller-manager,   built from the k8s.io/kubernetes Go module
#   kube-scheduler, kubectl
#   etcd                                       built from the go.etcd.io/etcd/server/v3 Go module
#   kwok (fake nodes and pods)                 built from the sigs.k8s.io/kwok Go module
#   moto (AWS emulator)                        a Python virtual environment
# Sourced by scripts/stack.sh after common.sh.

GO_MIN_MINOR=26 # k8s.io/kubernetes v1.37 declares `go 1.26.0`

find_go() {
  if command -v go >/dev/null 2>&1; then
    GO=$(command -v go)
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    die "Go is needed to build Kubernetes and etcd on first use (Go >= 1.$GO_MIN_MINOR; .ci/run installs it)"
  fi
  local version minor
  version=$("$GO" env GOVERSION)
  minor=$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$version")
  if [[ -z $minor || $minor -lt $GO_MIN_MINOR ]]; then
    if [[ -n $minor && $minor -ge 21 ]]; then
      # Go >= 1.21 can fetch a newer toolchain itself (it is published as a Go module).
      export GOTOOLCHAIN=go1.$GO_MIN_MINOR.0+auto
      log "$version is older than go1.$GO_MIN_MINOR: the go command will fetch a newer toolchain (GOTOOLCHAIN=$GOTOOLCHAIN)"
    else
      die "$GO is $version; building Kubernetes $KUBE_VERSION needs Go >= 1.$GO_MIN_MINOR"
    fi
  fi
}

# Runs a build script in the background, printing a heartbeat every minute; fails with the log's tail.
# Usage: run_build WHAT LOGFILE SCRIPT
run_build() {
  local what=$1 logfile=$2 script=$3 start=$SECONDS next=60 pid rc
  bash -euo pipefail -c "$script" >"$logfile" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - start >= next)); then
      # `go build -v` prints one line per compiled package.
      log "  building $what: $(((SECONDS - start) / 60)) min, $(grep -c '^[a-z][^ ]*$' "$logfile" || true) packages compiled so far"
      next=$((next + 60))
    fi
  done
  rc=0
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    die_component "build of $what" "$logfile" "failed (exit $rc); delete $CACHE_DIR/build to start over"
  fi
  log "  built $what in $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"
}

# A throwaway Go module that requires MODULE@VERSION and builds PACKAGES into OUT. Staging modules of
# k8s.io/kubernetes are `replace`d by their published versions, as upstream's go.mod points them to ./staging.
# Usage: go_build_script MODULE VERSION STAGING_VERSION OUT LDFLAGS PACKAGES...   (OUT: a file, or a dir ending in /)
go_build_script() {
  local module=$1 version=$2 staging=$3 out=$4 ldflags=$5
  shift 5
  local imports="" pkg
  for pkg in "$@"; do imports+="	_ \"$pkg\""$'\n'; done
  cat <<EOF
export GO111MODULE=on CGO_ENABLED=0 GOFLAGS=-buildvcs=false
go=$(sh_quote "$GO")
# Downloaded before go.mod exists: the upstream go.mod alone does not resolve (its staging requires are v0.0.0).
gomod=\$("\$go" mod download -json $(sh_quote "$module@$version") | sed -n 's/^[[:space:]]*"GoMod": "\\(.*\\)",\$/\\1/p')
test -s "\$gomod"
"\$go" mod init eks-secret-sync.local/build
"\$go" mod edit -require=$(sh_quote "$module@$version")
if [ -n $(sh_quote "$staging") ]; then
  for m in \$(sed -n 's#^[[:space:]]*\\(k8s\\.io/[A-Za-z0-9._-]*\\) => \\./staging/.*#\\1#p' "\$gomod"); do
    "\$go" mod edit -replace="\$m=\$m@$staging"
  done
fi
cat >tools.go <<'GO'
//go:build tools

package tools

import (
${imports})
GO
"\$go" mod tidy
"\$go" build -v -trimpath -ldflags=$(sh_quote "$ldflags") -o $(sh_quote "$out") $*
EOF
}

ensure_kubernetes() {
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl) b missing=()
  for b in "${bins[@]}"; do [[ -x $KUBE_BIN_DIR/$b ]] || missing+=("$b"); done
  ((${#missing[@]})) || return 0
  find_go
  # Only what is missing: a cache made before kube-scheduler joined the stack gets it alone (the Go build cache
  # still has the shared packages, so that costs about a minute), and the binaries a running stack uses stay.
  log "building ${missing[*]} $KUBE_VERSION from the Go module proxy"
  ((${#missing[@]} < ${#bins[@]})) || log "  first run only, about 25 min on 2 cores (later runs use the cache in $KUBE_BIN_DIR)"
  local work=$CACHE_DIR/build/kubernetes-$KUBE_VERSION minor=${KUBE_VERSION#v1.} pkgs=()
  minor=${minor%%.*}
  for b in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  # Version stamps as upstream's hack/lib/version.sh sets them, so /version and `kubectl version` tell the truth.
  local v ldflags="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  done
  rm -rf "$work" && mkdir -p "$work"
  run_build "Kubernetes $KUBE_VERSION (${missing[*]})" "$work.log" "cd $(sh_quote "$work"); $(go_build_script \
    k8s.io/kubernetes "$KUBE_VERSION" "$KUBE_STAGING_VERSION" "$work/out/" "$ldflags" "${pkgs[@]}")"
  install_bins "$work/out" "$KUBE_BIN_DIR" "${missing[@]}"
  rm -rf "$work"
}

# Builds one program of the stack on first use: unless BIN_DIR/NAME exists, runs the script that SCRIPT_FN WORK
# prints in a fresh directory WORK, where it leaves NAME in WORK/out/, and installs it in BIN_DIR.
# Usage: build_once NAME VERSION BIN_DIR SCRIPT_FN
build_once() {
  local name=$1 version=$2 bin_dir=$3 script_fn=$4
  [[ -x $bin_dir/$name ]] && return 0
  find_go
  log "building $name $version from the Go module proxy (first run only, about 3 min)"
  local work=$CACHE_DIR/build/$name-$version
  rm -rf "$work" && mkdir -p "$work/out"
  run_build "$name $version" "$work.log" "cd $(sh_quote "$work"); $("$script_fn" "$work")"
  install_bins "$work/out" "$bin_dir" "$name"
  rm -rf "$work"
}

# The server module's root package is etcd's `main`.
etcd_build_script() {
  go_build_script go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" "$1/out/etcd" "-s -w" go.etcd.io/etcd/server/v3
}

# kwok's go.mod has no replace directives, so `go install module@version` builds it as released, with the
# Kubernetes client libraries it pins (not ours: nothing links the two builds).
kwok_build_script() {
  echo "export CGO_ENABLED=0 GOBIN=$(sh_quote "$1/out")
    $(sh_quote "$GO") install -v -trimpath -ldflags='-s -w' $(sh_quote "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")"
}

ensure_etcd() { build_once etcd "$ETCD_VERSION" "$ETCD_BIN_DIR" etcd_build_script; }
ensure_kwok() { build_once kwok "$KWOK_VERSION" "$KWOK_BIN_DIR" kwok_build_script; }

# Moves built binaries into a versioned cache directory, each in one rename: a running stack keeps using the ones
# already there, and a directory missing one is completed by the next run (the ensure_* checks look at each file).
install_bins() {
  local from=$1 to=$2
  shift 2
  local b
  for b in "$@"; do [[ -x $from/$b ]] || die "build produced no $b in $from"; done
  mkdir -p "$to"
  for b in "$@"; do mv -f "$from/$b" "$to/$b"; done
}

ensure_moto() {
  [[ -f $MOTO_DIR/.complete && -x $MOTO_DIR/venv/bin/moto_server ]] && return 0
  command -v python3 >/dev/null 2>&1 || die "python3 is needed for the moto AWS emulator (.ci/run installs it)"
  log "installing moto $MOTO_VERSION into a Python virtual environment (first run only, about 1 min)"
  local logfile=$CACHE_DIR/build/moto-$MOTO_VERSION.log
  mkdir -p "$CACHE_DIR/build"
  # A virtual environment records its absolute path, so it is built in place and marked complete at the end.
  rm -rf "$MOTO_DIR"
  if ! python3 -m venv "$MOTO_DIR/venv" >"$logfile" 2>&1; then
    die_component "moto virtual environment" "$logfile" "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  if ! "$MOTO_DIR/venv/bin/python" -m pip install --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
    >>"$logfile" 2>&1; then
    die_component "moto install" "$logfile" "pip install failed"
  fi
  touch "$MOTO_DIR/.complete"
}

provision() {
  mkdir -p "$CACHE_DIR"
  # One provisioner at a time (two `up`s racing on a fresh machine would build twice into the same place).
  exec {provision_lock}>"$CACHE_DIR/provision.lock"
  flock "$provision_lock"
  ensure_moto
  ensure_etcd
  ensure_kubernetes
  ensure_kwok
  exec {provision_lock}>&-
}
