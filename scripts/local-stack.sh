#!/usr/bin/env bash
# `make up` / `make down`: the local stack through the real Pulumi CLI that `make pulumi` provides.
#
# - `up` deploys the example group on a real tritonserver (`pulumi up` on the stack `local`, or STACK), then prints
#   the endpoint and the smoke report; `down` destroys it (`pulumi destroy`): no server and no state folder remain;
#   `release` writes the release that STACK serves to releases/STACK.json (`triton-groups release create`).
# - The state lives in .pulumi-state/ inside the project (a file backend, no Pulumi Cloud account), through
#   PULUMI_BACKEND_URL, so the user's own `pulumi login` is left alone.
# - The local stack holds no secret: its passphrase is empty unless PULUMI_CONFIG_PASSPHRASE is already set.
# - Offline-safe: no update check, and no download of provider plugins the local stack never uses (the venv holds
#   pulumi-oci and pulumi-docker-build, whose plugins the engine would otherwise try to fetch).
set -euo pipefail

cd "$(dirname "$0")/.."
ACTION="${1:-}"
STACK="${STACK:-local}"
case "$ACTION" in
    up | down | release) ;;
    *)
        echo "usage: scripts/local-stack.sh up|down|release" >&2
        exit 2
        ;;
esac
if [ ! -x .venv/bin/python ]; then
    echo "make $ACTION: no virtualenv in $PWD/.venv; run \`make venv\` first" >&2
    exit 1
fi
PULUMI_BIN="$(tools/pulumi/install.sh)" || exit 1

export PATH="$PULUMI_BIN:$PWD/.venv/bin:$PATH"
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p .pulumi-state

if [ "$ACTION" = release ]; then
    exec .venv/bin/triton-groups release create --from-stack "$STACK" --out "releases/$STACK.json"
fi

if [ "$ACTION" = down ]; then
    if ! pulumi stack select "$STACK" >/dev/null 2>&1; then
        echo "make down: the stack $STACK was never deployed here; nothing to destroy"
        exit 0
    fi
    pulumi destroy --yes --stack "$STACK"
    exit 0
fi

pulumi stack select "$STACK" >/dev/null 2>&1 || pulumi stack init "$STACK"
pulumi up --yes --stack "$STACK"
echo
echo "Endpoint: $(pulumi stack output endpoint --stack "$STACK")"
echo "Smoke report:"
pulumi stack output smoke_summary --stack "$STACK"
echo "Stop it with \`make down\` (pulumi destroy; the state stays in .pulumi-state/)."
