#!/usr/bin/env bash
# Lints, with cfn-lint from PyPI, the CloudFormation template that `npm run package` (osls) generated and the
# CloudFormation examples in deploy/. The tool lives in a cached venv so repeated runs skip the install.
#   bash scripts/cfn-lint.sh [template ...]   (default: the generated stack template and the deploy/ CloudFormation examples)
#   CFN_LINT_VERSION=1.x.y to pin another version.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -gt 0 ]]; then
  templates=("$@")
else
  # Not deploy/rbac.yaml: that one is Kubernetes RBAC.
  templates=(
    "$root/.serverless/cloudformation-template-update-stack.json"
    "$root/deploy/cross-account-role.yaml"
    "$root/deploy/access-entry.yaml"
  )
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/eks-secret-sync/cfn-lint-venv"
# Pinned so that a new rule release cannot break CI unannounced; bump deliberately.
version="${CFN_LINT_VERSION:-1.58.0}"

for template in "${templates[@]}"; do
  if [[ ! -f "$template" ]]; then
    echo "cfn-lint: $template not found; run 'npm run package' first" >&2
    exit 2
  fi
done

python="$(command -v python3 || command -v python || true)"
if [[ -z "$python" ]]; then
  echo "cfn-lint: python3 is required (apt-get install python3 python3-venv)" >&2
  exit 2
fi

if [[ ! -x "$venv/bin/cfn-lint" ]] || [[ "$("$venv/bin/cfn-lint" --version 2>/dev/null)" != *"$version"* ]]; then
  echo "cfn-lint: installing cfn-lint $version into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$version"
fi

echo "cfn-lint $("$venv/bin/cfn-lint" --version | awk '{print $NF}') on:"
printf '  %s\n' "${templates[@]#"$root"/}"
# Any commercial region has every resource type used here; lint against the one we package for.
"$venv/bin/cfn-lint" --regions "${AWS_REGION:-eu-west-1}" -- "${templates[@]}"
echo "cfn-lint: no findings"
