# Source me (`source scripts/env.sh`) before running `pulumi preview|up -s <app>` by hand here.
# Puts the project's Pulumi CLI first on PATH and selects the same backend `oneclick` uses.
_oc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_oc_root/.tools/bin:$_oc_root/.venv/bin:$_oc_root/.tools/node/node_modules/.bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p "${ONECLICK_STATE_DIR:-$_oc_root/.state}/pulumi"
  export PULUMI_BACKEND_URL="file://${ONECLICK_STATE_DIR:-$_oc_root/.state}/pulumi"
fi
# The fixed passphrase is for sandbox stacks only; with a vendor token set, bring your own
# (the program refuses the fixed one for real targets).
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}${TURSO_API_TOKEN:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=oneclick-sandbox-only
fi
unset _oc_root
