#!/usr/bin/env bash
# `make up`: deploy the local stack with the Pulumi CLI, then print its endpoint and smoke report.
#
# - Installs the Pulumi CLI with its official installer (into ~/.pulumi/bin) when it is not on PATH; without
#   network it says so in one line, suggests `make demo`, and exits 1.
# - Keeps the state in .pulumi-state/ inside the project (a local file backend, no Pulumi Cloud account), through
#   PULUMI_BACKEND_URL, so the user's own `pulumi login` is left alone.
# - The local stack holds no secret: its passphrase is empty unless PULUMI_CONFIG_PASSPHRASE is already set.
# PULUMI_INSTALL_URL overrides where the installer comes from (a mirror); PULUMI_INSTALL_TIMEOUT bounds the download.
set -euo pipefail

cd "$(dirname "$0")/.."
PROJECT_DIR="$PWD"
STACK="local"
INSTALL_URL="${PULUMI_INSTALL_URL:-https://get.pulumi.com}"
INSTALL_TIMEOUT="${PULUMI_INSTALL_TIMEOUT:-20}"

if [ ! -x "$PROJECT_DIR/.venv/bin/python" ]; then
    echo "make up: no virtualenv in $PROJECT_DIR/.venv; run \`make venv\` first" >&2
    exit 1
fi
export PATH="$PROJECT_DIR/.venv/bin:$HOME/.pulumi/bin:$PATH"

install_pulumi() {
    local workdir status=0
    workdir="$(mktemp -d)"
    echo "make up: installing the Pulumi CLI into ~/.pulumi/bin with its official installer ($INSTALL_URL)"
    curl -fsSL --connect-timeout 5 --max-time "$INSTALL_TIMEOUT" "$INSTALL_URL" -o "$workdir/install.sh" \
        >"$workdir/log" 2>&1 \
        && sh "$workdir/install.sh" --no-edit-path >>"$workdir/log" 2>&1 \
        || status=$?
    rm -rf "$workdir"
    return "$status"
}

if ! command -v pulumi >/dev/null 2>&1 && ! install_pulumi; then
    echo "make up: the Pulumi CLI is not installed and cannot be downloaded from $INSTALL_URL (no network?);" \
        "run \`make demo\` for the same local deployment without Pulumi" >&2
    exit 1
fi

mkdir -p "$PROJECT_DIR/.pulumi-state"
export PULUMI_BACKEND_URL="file://$PROJECT_DIR/.pulumi-state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
export PULUMI_SKIP_UPDATE_CHECK=true

pulumi stack select "$STACK" 2>/dev/null || pulumi stack init "$STACK"
pulumi up --yes --stack "$STACK"

echo
echo "Endpoint: $(pulumi stack output endpoint --stack "$STACK")"
echo "Smoke report:"
pulumi stack output smoke_summary --stack "$STACK"
echo "Stop it with \`pulumi destroy --yes --stack $STACK\` (state in .pulumi-state/)."
