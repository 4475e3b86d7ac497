#!/bin/sh
# Regenerates the lock files in this directory with the real package
# managers from the project in ./project, and records each tool's own listing
# of the installed tree next to the lock file. Needs node, npm, jq and access
# to registry.npmjs.org. node_modules never leave the temporary directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fresh copies the project ($project, default ./project) to $tmp/$1 and
# enters it.
project=project
fresh() {
	rm -rf "${tmp:?}/$1"
	cp -r "$here/$project" "$tmp/$1"
	cd "$tmp/$1"
}

# npmls reduces `npm ls --json --long` (which embeds every package.json,
# readme included) to name, version, install path relative to the project
# and children.
npmls() {
	jq --arg root "$PWD/" 'def r: {name, version, path: ((.path // "") | ltrimstr($root)), dependencies: ((.dependencies // {}) | map_values(r))}; r'
}

npmgen() { # dir npm-version lockfile-version
	fresh "$1"
	rm pnpm-workspace.yaml
	npx -y "npm@$2" install --no-audit --no-fund --omit-lockfile-registry-resolved=false --lockfile-version "$3"
	mkdir -p "$here/$1"
	cp package-lock.json "$here/$1/"
	npx -y "npm@$2" ls --json --all --long | npmls >"$here/$1/npm-ls.json"
	npx -y "npm@$2" ls --json --all --long --omit=dev | npmls >"$here/$1/npm-ls-prod.json"
}

what=${1:-all} # all, big (the fixtures with listings) or small (fuzz seeds)
if [ "$what" != small ]; then
npmgen npm-v3 11.19.1 3
npmgen npm-v2 8.19.4 2

# npm 6 writes lockfileVersion 1 and does not know workspaces.
fresh npm-v1
rm pnpm-workspace.yaml
npx -y npm@6.14.18 install --no-audit
mkdir -p "$here/npm-v1"
cp package-lock.json "$here/npm-v1/"
npx -y npm@6.14.18 ls --json --long | npmls >"$here/npm-v1/npm-ls.json" || true
npx -y npm@6.14.18 ls --json --long --prod | npmls >"$here/npm-v1/npm-ls-prod.json" || true
# npm shrinkwrap renames the v1 lock file.
npx -y npm@6.14.18 shrinkwrap
mkdir -p "$here/shrinkwrap-v1"
cp npm-shrinkwrap.json "$here/shrinkwrap-v1/"
cp "$here/npm-v1/npm-ls.json" "$here/npm-v1/npm-ls-prod.json" "$here/shrinkwrap-v1/"

fresh yarn-v1
rm pnpm-workspace.yaml
npx -y yarn@1.22.22 install --no-progress
mkdir -p "$here/yarn-v1"
cp yarn.lock "$here/yarn-v1/"
npx -y yarn@1.22.22 list --json >"$here/yarn-v1/yarn-list.json"

fresh yarn-berry
rm pnpm-workspace.yaml
printf 'nodeLinker: node-modules\nenableTelemetry: false\n' >.yarnrc.yml
npx -y @yarnpkg/cli-dist@4.18.1 install
mkdir -p "$here/yarn-berry"
cp yarn.lock "$here/yarn-berry/"
npx -y @yarnpkg/cli-dist@4.18.1 info --all --recursive --json >"$here/yarn-berry/yarn-info.jsonl"

pnpmgen() { # dir pnpm-version
	fresh "$1"
	npx -y "pnpm@$2" install
	mkdir -p "$here/$1"
	cp pnpm-lock.yaml "$here/$1/"
	npx -y "pnpm@$2" list --recursive --json --depth Infinity |
		jq --arg root "$PWD/" 'walk(if type == "object" and has("path") then .path |= ltrimstr($root) else . end)' >"$here/$1/pnpm-list.json"
}

pnpmgen pnpm-v5 7.33.7
pnpmgen pnpm-v6 8.15.9
pnpmgen pnpm-v9 9.15.9
fi
[ "$what" = big ] && exit 0

# Small lock files of a five-dependency project (./small), from the same
# tools: seeds for the fuzz targets, which crawl on the big ones.
project=small
seeds=$here/small/seeds
mkdir -p "$seeds"
fresh s-npm3 && npx -y npm@11.19.1 install --no-audit --no-fund --omit-lockfile-registry-resolved=false && cp package-lock.json "$seeds/npm-v3.package-lock.json"
fresh s-npm1 && npx -y npm@6.14.18 install --no-audit && cp package-lock.json "$seeds/npm-v1.package-lock.json"
fresh s-yarn1 && npx -y yarn@1.22.22 install --no-progress && cp yarn.lock "$seeds/yarn-v1.yarn.lock"
fresh s-berry && printf 'nodeLinker: node-modules\nenableTelemetry: false\n' >.yarnrc.yml && npx -y @yarnpkg/cli-dist@4.18.1 install && cp yarn.lock "$seeds/yarn-berry.yarn.lock"
fresh s-pnpm5 && npx -y pnpm@7.33.7 install && cp pnpm-lock.yaml "$seeds/pnpm-v5.pnpm-lock.yaml"
fresh s-pnpm6 && npx -y pnpm@8.15.9 install && cp pnpm-lock.yaml "$seeds/pnpm-v6.pnpm-lock.yaml"
fresh s-pnpm9 && npx -y pnpm@9.15.9 install && cp pnpm-lock.yaml "$seeds/pnpm-v9.pnpm-lock.yaml"
