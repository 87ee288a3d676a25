#!/usr/bin/env bash
# Vendor the web UI's JavaScript libraries into the Python package, so that Neutrino runs with no internet and
# no build step: each library pinned in package.json ("dependencies", exact versions) is fetched with
# `npm pack` (which checks the registry's integrity hash), and its browser build and licence are copied into
# src/neutrino/engine/web/static/vendor/<name>/, with the version and integrity written in vendor/README.md.
#
#   bash scripts/vendor-web.sh          # after changing a version in package.json; commit what changed
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENDOR="$ROOT/src/neutrino/engine/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# name -> the file of its package to ship, as the browser loads it (d3: its UMD bundle, which an import() runs
# for its effect: it sets globalThis.d3)
declare -A BUILD=([d3]="dist/d3.min.js")

version_of() {
    node -e 'const v = require(process.argv[1]).dependencies[process.argv[2]];
             if (!/^\d+\.\d+\.\d+$/.test(v || "")) { console.error(`package.json: pin ${process.argv[2]} to an exact version`); process.exit(1); }
             console.log(v);' "$ROOT/package.json" "$1"
}

{
    echo "# Vendored JavaScript libraries"
    echo
    echo "Written by \`scripts/vendor-web.sh\` from the versions pinned in \`package.json\`; do not edit by hand."
    echo
    echo "| library | version | file | licence | npm integrity |"
    echo "|---|---|---|---|---|"
} > "$WORK/README.md"

for name in "${!BUILD[@]}"; do
    version="$(version_of "$name")"
    (cd "$WORK" && npm pack --silent --json "$name@$version" > "$name.json")
    tarball="$WORK/$(node -p 'require(process.argv[1])[0].filename' "$WORK/$name.json")"
    integrity="$(node -p 'require(process.argv[1])[0].integrity' "$WORK/$name.json")"
    mkdir -p "$WORK/$name"
    tar -xzf "$tarball" -C "$WORK/$name"
    out="$VENDOR/$name"
    rm -rf "$out"
    mkdir -p "$out"
    file="$name.js"
    license="$(node -p 'require(process.argv[1]).license' "$WORK/$name/package/package.json")"
    {
        echo "/*! $name $version | $license licence: see LICENSE beside this file | vendored from npm by scripts/vendor-web.sh */"
        cat "$WORK/$name/package/${BUILD[$name]}"
    } > "$out/$file"
    cp "$WORK/$name/package/LICENSE" "$out/LICENSE"
    echo "| $name | $version | \`$name/$file\` (its \`${BUILD[$name]}\`) | $license (\`$name/LICENSE\`) | \`$integrity\` |" >> "$WORK/README.md"
    echo "vendored $name $version -> ${out#"$ROOT/"}/$file"
done
cp "$WORK/README.md" "$VENDOR/README.md"
