# shellcheck shell=bash
# Credentials of the local stack: a CA and a serving certificate it signs (clients verify TLS with the CA), the
# service-account signing key, static bearer tokens, and the generated kubeconfig files.
# Sourced by scripts/stack.sh after common.sh.

ensure_pki() {
  mkdir -p "$PKI_DIR"
  chmod 700 "$PKI_DIR"
  if [[ ! -s $PKI_DIR/ca.crt || ! -s $PKI_DIR/ca.key ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj '/CN=eks-secret-sync local stack CA' \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
      -keyout "$PKI_DIR/ca.key" -out "$PKI_DIR/ca.crt" 2>/dev/null ||
      die "openssl could not create the stack CA in $PKI_DIR"
    rm -f "$PKI_DIR/serving.crt"
  fi
  if [[ ! -s $PKI_DIR/serving.crt || ! -s $PKI_DIR/serving.key ]]; then
    # One serving certificate for every API server and controller-manager: all of them listen on loopback only.
    openssl req -newkey rsa:2048 -nodes -sha256 -subj '/CN=127.0.0.1' \
      -keyout "$PKI_DIR/serving.key" -out "$PKI_DIR/serving.csr" 2>/dev/null &&
      openssl x509 -req -sha256 -days 825 -in "$PKI_DIR/serving.csr" \
        -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" -CAcreateserial -out "$PKI_DIR/serving.crt" \
        -extfile <(printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
          'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth') 2>/dev/null ||
      die "openssl could not sign the serving certificate in $PKI_DIR"
    rm -f "$PKI_DIR/serving.csr"
  fi
  if [[ ! -s $PKI_DIR/sa.key ]]; then
    openssl genrsa -out "$PKI_DIR/sa.key" 2048 2>/dev/null && openssl rsa -in "$PKI_DIR/sa.key" -pubout \
      -out "$PKI_DIR/sa.pub" 2>/dev/null || die "openssl could not create the service-account key in $PKI_DIR"
  fi
  if [[ ! -s $PKI_DIR/tokens.csv ]]; then
    # token,user,uid,"groups": admin is a superuser for test setup; eks-secret-sync gets only what RBAC grants.
    printf '%s,admin,admin,"system:masters"\n%s,eks-secret-sync,eks-secret-sync,"eks-secret-sync"\n' \
      "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" >"$PKI_DIR/tokens.csv"
  fi
  chmod 600 "$PKI_DIR"/*.key "$PKI_DIR/tokens.csv"
}

token_of() {
  awk -F, -v user="$1" '$2 == user { print $1 }' "$PKI_DIR/tokens.csv"
}

cluster_name() { printf 'stack-%s\n' "$1"; }
apiserver_port() { printf '%s\n' $((APISERVER_PORT + $1 - 1)); }
kcm_port() { printf '%s\n' $((KCM_PORT + $1 - 1)); }
scheduler_port() { printf '%s\n' $((SCHEDULER_PORT + $1 - 1)); }
kwok_port() { printf '%s\n' $((KWOK_PORT + $1 - 1)); }

# Writes a kubeconfig with one context per cluster. Each cluster gets its own user name: client-node caches
# credentials by user name.
# Usage: write_kubeconfig FILE USER_SUFFIX TOKEN FIRST LAST
write_kubeconfig() {
  local file=$1 suffix=$2 token=$3 first=$4 last=$5 ca i name
  ca=$(base64 -w0 <"$PKI_DIR/ca.crt")
  {
    printf 'apiVersion: v1\nkind: Config\npreferences: {}\ncurrent-context: %s\nclusters:\n' "$(cluster_name "$first")"
    for ((i = first; i <= last; i++)); do
      name=$(cluster_name "$i")
      printf -- '- name: %s\n  cluster:\n    server: https://127.0.0.1:%s\n    certificate-authority-data: %s\n' \
        "$name" "$(apiserver_port "$i")" "$ca"
    done
    printf 'users:\n'
    for ((i = first; i <= last; i++)); do
      printf -- '- name: %s-%s\n  user:\n    token: %s\n' "$(cluster_name "$i")" "$suffix" "$token"
    done
    printf 'contexts:\n'
    for ((i = first; i <= last; i++)); do
      name=$(cluster_name "$i")
      printf -- '- name: %s\n  context:\n    cluster: %s\n    user: %s-%s\n' "$name" "$name" "$name" "$suffix"
    done
  } >"$file.tmp"
  chmod 600 "$file.tmp"
  mv "$file.tmp" "$file"
}

write_kubeconfigs() {
  mkdir -p "$KUBECONFIG_DIR"
  local admin sync i
  admin=$(token_of admin)
  sync=$(token_of eks-secret-sync)
  write_kubeconfig "$KUBECONFIG_DIR/admin.kubeconfig" admin "$admin" 1 "$STACK_CLUSTERS"
  write_kubeconfig "$KUBECONFIG_DIR/sync.kubeconfig" eks-secret-sync "$sync" 1 "$STACK_CLUSTERS"
  # The cluster's own components act as admin (system:masters), like a single-user test cluster: the stack tests
  # our RBAC, not theirs.
  local component
  for ((i = 1; i <= STACK_CLUSTERS; i++)); do
    for component in controller-manager scheduler kwok; do
      write_kubeconfig "$KUBECONFIG_DIR/$component-$(cluster_name "$i").kubeconfig" admin "$admin" "$i" "$i"
    done
  done
}
