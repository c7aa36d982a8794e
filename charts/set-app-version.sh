#!/bin/sh
# Writes a release's version into the charts: appVersion in
# charts/tinit-lib/Chart.yaml, charts/tinit/Chart.yaml and
# charts/tinit-inject/Chart.yaml (the default tag of both of its images),
# and the "tinit-lib.appVersion" template, the default tinit image tag
# (inside an include .Chart is the including chart, so tinit-lib carries
# its own copy).
#
#   charts/set-app-version.sh 1.2.3 [CHARTS_DIR]
set -eu
version=${1:?usage: $0 VERSION [CHARTS_DIR]}
dir=${2:-$(dirname "$0")}
case $version in
*[!A-Za-z0-9.+_-]*|'') echo "$0: bad version '$version'" >&2; exit 2 ;;
esac
for f in "$dir/tinit-lib/Chart.yaml" "$dir/tinit/Chart.yaml" "$dir/tinit-inject/Chart.yaml"; do
	sed -i "s/^appVersion: .*/appVersion: \"$version\"/" "$f"
done
sed -i "s/define \"tinit-lib.appVersion\" -}}[^{]*{{/define \"tinit-lib.appVersion\" -}}$version{{/" \
	"$dir/tinit-lib/templates/_tinit.tpl"
