#!/usr/bin/env bash
# `make pulumi`: leave a working Pulumi CLI, with its Python language host and scripts, in .tools/pulumi/bin/ and
# print that folder (the only line on stdout; progress goes to stderr).
#
# Where the CLI comes from, in order:
#   1. a `pulumi` already on PATH, at a version the project's Python SDK works with (>= the SDK pin in
#      pyproject.toml, major 3), with `pulumi-language-python` beside it or on PATH;
#   2. Pulumi's official installer (get.pulumi.com), at the version tools/pulumi/go.mod pins;
#   3. a build from Pulumi's Go modules (tools/pulumi/go.mod, checked by go.sum), cached outside the clone by
#      version in ${TRITON_GROUPS_CACHE:-~/.cache/triton-groups}/pulumi/<version>, so that another clone on the
#      same machine reuses it;
#   4. otherwise one line saying what is missing, and exit 1.
# Every folder is assembled aside and renamed into place: an interrupted run leaves the previous good state.
# PULUMI_INSTALL_URL overrides the installer's address; PULUMI_INSTALL_TIMEOUT bounds its download (seconds).
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
PROJECT_DIR="$(cd "$TOOLS_DIR/../.." && pwd)"
DEST="$PROJECT_DIR/.tools/pulumi/bin"
VERSION="$(sed -n 's|^[[:space:]]*github.com/pulumi/pulumi/pkg/v3 \(v[0-9][0-9.]*\)$|\1|p' "$TOOLS_DIR/go.mod")"
SDK_MIN="$(sed -n 's|.*"pulumi>=\([0-9][0-9.]*\),.*|\1|p' "$PROJECT_DIR/pyproject.toml")"
CACHE_ROOT="${TRITON_GROUPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/triton-groups}"
CACHE="$CACHE_ROOT/pulumi/$VERSION"
INSTALL_URL="${PULUMI_INSTALL_URL:-https://get.pulumi.com}"
INSTALL_TIMEOUT="${PULUMI_INSTALL_TIMEOUT:-60}"
# The files a complete folder holds; the policy analyzer script is optional (policy packs run through the host).
REQUIRED=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)

say() { echo "make pulumi: $*" >&2; }

# True when `$1/pulumi` runs and every required file is in `$1`.
complete_folder() {
    local dir="$1" name
    for name in "${REQUIRED[@]}"; do
        [ -x "$dir/$name" ] || return 1
    done
    "$dir/pulumi" version >/dev/null 2>&1
}

# True when version $1 (v3.X.Y) is at least $SDK_MIN and below 4.
compatible() {
    local version="${1#v}"
    [ "${version%%.*}" = 3 ] || return 1
    [ "$(printf '%s\n%s\n' "$SDK_MIN" "$version" | sort -V | head -n1)" = "$SDK_MIN" ]
}

# Replace folder $2 by the finished folder $1 (a rename, never a partly written folder).
publish() {
    local built="$1" target="$2"
    mkdir -p "$(dirname "$target")"
    rm -rf "$target.old"
    if [ -e "$target" ]; then mv "$target" "$target.old"; fi
    mv "$built" "$target"
    rm -rf "$target.old"
}

# Fill .tools/pulumi/bin with links to the files found in the folders given, first match wins.
link_into_dest() {
    local staging="$DEST.tmp.$$" name dir
    rm -rf "$staging"
    mkdir -p "$staging"
    for name in "${REQUIRED[@]}" pulumi-analyzer-policy-python; do
        for dir in "$@"; do
            if [ -x "$dir/$name" ]; then
                ln -s "$dir/$name" "$staging/$name"
                break
            fi
        done
    done
    if ! complete_folder "$staging"; then
        rm -rf "$staging"
        return 1
    fi
    publish "$staging" "$DEST"
}

from_path() {
    local found dir version host_dir
    found="$(PATH="$(echo "$PATH" | tr ':' '\n' | grep -vxF "$DEST" | paste -sd:)" command -v pulumi || true)"
    [ -n "$found" ] || return 1
    found="$(readlink -f "$found")"
    dir="$(dirname "$found")"
    version="$("$found" version 2>/dev/null || true)"
    if ! compatible "$version"; then
        say "the pulumi on PATH ($found) is ${version:-of unknown version}; the project needs >= $SDK_MIN (< 4)"
        return 1
    fi
    host_dir="$(dirname "$(readlink -f "$(command -v pulumi-language-python || echo "$dir/pulumi-language-python")")")"
    link_into_dest "$dir" "$host_dir"
}

from_installer() {
    local staging="$CACHE.installer.$$"
    [ -n "$VERSION" ] || return 1
    rm -rf "$staging"
    mkdir -p "$staging"
    if ! curl -fsSL --connect-timeout 5 --max-time "$INSTALL_TIMEOUT" "$INSTALL_URL" -o "$staging/install.sh" \
        2>/dev/null; then
        rm -rf "$staging"
        say "Pulumi's installer cannot be downloaded from $INSTALL_URL"
        return 1
    fi
    say "installing Pulumi $VERSION with its official installer"
    if ! sh "$staging/install.sh" --version "${VERSION#v}" --install-root "$staging/root" --no-edit-path \
        >"$staging/log" 2>&1 || ! complete_folder "$staging/root/bin"; then
        say "Pulumi's installer failed (log: $CACHE.installer.log)"
        mkdir -p "$(dirname "$CACHE")"
        mv "$staging/log" "$CACHE.installer.log" 2>/dev/null || true
        rm -rf "$staging"
        return 1
    fi
    mv "$staging/root/bin" "$staging/bin"
    rm -rf "$staging/root" "$staging/install.sh"
    publish "$staging" "$CACHE"
}

from_go_modules() {
    local staging="$CACHE.build.$$" log="$CACHE.build.log" sdk_dir ldflags start
    if ! command -v go >/dev/null 2>&1; then
        say "no Go toolchain on PATH to build Pulumi $VERSION from its Go modules"
        return 1
    fi
    start=$SECONDS
    say "building Pulumi $VERSION from its Go modules into $CACHE (first time on this machine: minutes)"
    rm -rf "$staging"
    mkdir -p "$staging/bin"
    ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION"
    if ! (
        cd "$TOOLS_DIR"
        export CGO_ENABLED=0 GOFLAGS=-mod=readonly
        go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$staging/bin/pulumi" \
            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
        go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$staging/bin/pulumi-language-python" \
            ./langhost
        sdk_dir="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
        install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$staging/bin/"
        install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$staging/bin/"
    ) >"$log" 2>&1 || ! complete_folder "$staging/bin"; then
        rm -rf "$staging"
        say "building Pulumi $VERSION from its Go modules failed: $(tail -n 1 "$log") (full log: $log)"
        return 1
    fi
    publish "$staging" "$CACHE"
    say "built Pulumi $VERSION in $((SECONDS - start)) s"
}

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/pulumi.lock"
flock 9

if complete_folder "$DEST" && compatible "$("$DEST/pulumi" version)"; then
    echo "$DEST"
    exit 0
fi
if from_path; then
    echo "$DEST"
    exit 0
fi
if complete_folder "$CACHE/bin" || from_installer || from_go_modules; then
    link_into_dest "$CACHE/bin"
    echo "$DEST"
    exit 0
fi
say "no Pulumi CLI: none on PATH, the official installer cannot be downloaded, and Pulumi $VERSION cannot be" \
    "built from its Go modules (see the lines above); install Pulumi >= $SDK_MIN or Go >= 1.26"
exit 1
