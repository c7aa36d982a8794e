#!/usr/bin/env bash
# Builds dist/tinit_VERSION_ARCH.deb from each dist/tinit-linux-GOARCH, with
# dpkg-deb alone: there is no Debian source package, only the static binary,
# its man page, copyright and changelog.
#
#   SOURCE_DATE_EPOCH=... .ci/deb/build.sh DIST VERSION
#
# VERSION is git describe's (v1.2.0-3-g0123abc); deb_version turns it into
# a Debian version. SOURCE_DATE_EPOCH dates the changelog and the man page
# and clamps every file time, so a rebuild gives the same bytes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Who answers for the package. Set DEB_MAINTAINER for a real release.
: "${DEB_MAINTAINER:=tinit maintainers <tinit@users.noreply.github.com>}"

# deb_version maps git describe's output to a Debian version, which must
# start with a digit and, for a native package, have no hyphen (a hyphen
# starts a Debian revision):
#   v1.2.0               1.2.0
#   v1.2.0-3-g0123abc    1.2.0+3.g0123abc   (after 1.2.0)
#   v1.2.0-rc1           1.2.0~rc1          (before 1.2.0)
#   0123abc-dirty        0.0.0~git0123abc+dirty (no tag yet: before any release)
#   dev                  0.0.0~dev          (outside a checkout)
deb_version() {
	local v=$1 plus=
	if [[ $v == *-dirty ]]; then
		v=${v%-dirty}
		plus=dirty
	fi
	if [[ $v =~ ^(.+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v=${BASH_REMATCH[1]}
		plus=${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}${plus:+.$plus}
	elif [[ $v =~ ^[0-9a-f]{7,40}$ ]]; then
		# An abbreviated hash can start with a digit: test for it first.
		v=0.0.0~git$v
	elif [[ ! $v =~ ^v?[0-9] ]]; then
		v=0.0.0~$v
	fi
	v=${v#v}
	# What is left after the tag's numbers is a pre-release, which "~"
	# sorts before the release itself.
	v=${v//-/\~}
	v=${v//[^A-Za-z0-9.+~]/.}
	printf '%s%s\n' "$v" "${plus:++$plus}"
}

# deb_arch is Debian's name for a GOARCH; arm is built as ARMv7 hard-float.
deb_arch() {
	case $1 in
	amd64 | arm64 | s390x | riscv64) echo "$1" ;;
	arm) echo armhf ;;
	386) echo i386 ;;
	ppc64le) echo ppc64el ;;
	*)
		echo "deb_arch: no Debian architecture for GOARCH $1" >&2
		return 1
		;;
	esac
}

# man_options turns the README's flag table into man(7) entries: one list
# of flags to keep, and the man page cannot miss one the README has.
man_options() {
	awk '
	function roff(s,   out, parts, n, i) {
		gsub(/\\/, "\\e", s)
		# Markdown links keep their text.
		while (match(s, /\[[^]]*\]\([^)]*\)/)) {
			link = substr(s, RSTART, RLENGTH)
			sub(/\]\(.*/, "", link)
			s = substr(s, 1, RSTART - 1) substr(link, 2) substr(s, RSTART + RLENGTH)
		}
		gsub(/-/, "\\-", s)
		# `code` is bold.
		n = split(s, parts, "`")
		out = parts[1]
		for (i = 2; i <= n; i++)
			out = out (i % 2 ? "\\fR" : "\\fB") parts[i]
		return out
	}
	function flag(s,   n, parts, i, out, name, arg) {
		# `--rewrite FROM:TO`: the flag bold, its value italic.
		n = split(s, parts, "`")
		out = parts[1]
		for (i = 2; i <= n; i += 2) {
			name = parts[i]; arg = ""
			if (index(name, " ")) {
				arg = " \\fI" substr(name, index(name, " ") + 1) "\\fR"
				name = substr(name, 1, index(name, " ") - 1)
			}
			gsub(/-/, "\\-", name)
			out = out "\\fB" name "\\fR" arg parts[i + 1]
		}
		return out
	}
	/^\| Flag \| Variable \| Default \| Meaning \|$/ { table = 1; next }
	table && /^\|---/ { next }
	table && !/^\|/ { exit }
	table {
		# Cells hold no "|" (the options table is tested for it); an
		# empty cell is "| |", so split on the bars and trim.
		n = split($0, cell, /\|/)
		for (i = 2; i <= 5; i++) {
			c[i - 1] = cell[i]
			gsub(/^ +| +$/, "", c[i - 1])
		}
		print ".TP"
		print flag(c[1])
		line = roff(c[4])
		# "(`TINI_SUBREAPER`)" is the tini variable, honoured too.
		v = c[2]; if (v ~ /^\(.*\)$/) v = substr(v, 2, length(v) - 2)
		extra = v == "" ? "" : roff(v)
		if (c[3] != "") extra = extra (extra == "" ? "" : "; ") "default " roff(c[3])
		if (extra != "") line = line " [" extra "]"
		# A line must not start with a control character.
		if (line ~ /^[.\047]/) line = "\\&" line
		print line
	}
	' "$1"
}

# man_page writes tinit.1 for VERSION, dated SOURCE_DATE_EPOCH.
man_page() {
	local version=$1 date options
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
	options=$(man_options "$here/../../README.md")
	if [[ -z $options ]]; then
		echo "man_page: no flag table found in README.md" >&2
		return 1
	fi
	# Through the environment: awk -v would read the roff escapes (\fB) as
	# its own.
	DATE=$date VERSION=$version OPTIONS=$options awk '
		/^@OPTIONS@$/ { print ENVIRON["OPTIONS"]; next }
		{ gsub(/@DATE@/, ENVIRON["DATE"]); gsub(/@VERSION@/, ENVIRON["VERSION"]); print }
	' "$here/tinit.1.in"
}

# build_deb packages one binary, staging its tree in ROOT (a new directory).
build_deb() {
	local bin=$1 dist=$2 version=$3 root=$4 goarch arch doc size
	goarch=${bin##*/tinit-linux-}
	arch=$(deb_arch "$goarch")
	doc=$root/usr/share/doc/tinit

	install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$doc" "$root/usr/share/lintian/overrides"
	install -m 0755 "$bin" "$root/usr/bin/tinit"
	install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/tinit"
	# gzip -n: no name or time stamp inside, or the bytes change per build.
	man_page "$version" | gzip -9n >"$root/usr/share/man/man1/tinit.1.gz"
	install -m 0644 "$here/copyright" "$doc/copyright"
	{
		printf 'tinit (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Upstream build %s (https://github.com/tinit/tinit).\n\n' "$VERSION_RAW"
		printf ' -- %s  %s\n' "$DEB_MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
	} | gzip -9n >"$doc/changelog.gz"
	chmod 0644 "$root/usr/share/man/man1/tinit.1.gz" "$doc/changelog.gz"

	# For dpkg --verify, as dh_md5sums writes it.
	(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/md5sums"

	# As dpkg-gencontrol counts it: KiB per file, rounded up; from sizes,
	# not blocks, which differ between file systems.
	size=$(find "$root/usr" -type f -printf '%s\n' | awk '{ k += int(($1 + 1023) / 1024) } END { print k }')
	cat >"$root/DEBIAN/control" <<EOF
Package: tinit
Version: $version
Architecture: $arch
Maintainer: $DEB_MAINTAINER
Installed-Size: $size
Section: admin
Priority: optional
Homepage: https://github.com/tinit/tinit
Description: tiny init for containers
 tinit runs one program as its only child, forwards signals to the child's
 process group, reaps every orphaned zombie and exits with the child's exit
 code, as a container's PID 1. It accepts tini's command line, and adds
 restarts with backoff, a drain of the whole process tree, signal rewriting,
 exit-code remapping and an optional health endpoint.
 .
 The binary is static: it needs no library and runs in a scratch image.
EOF
	# --root-owner-group: root:root inside, whoever builds it.
	dpkg-deb --root-owner-group -Zxz --build "$root" "$dist/tinit_${version}_${arch}.deb" >/dev/null
}

main() {
	if [[ $# -ne 2 ]]; then
		echo "usage: SOURCE_DATE_EPOCH=SECONDS $0 DIST VERSION" >&2
		exit 2
	fi
	local dist=$1 version bin
	: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH (the commit time: git log -1 --format=%ct)}"
	export SOURCE_DATE_EPOCH
	VERSION_RAW=$2
	version=$(deb_version "$2")
	shopt -s nullglob
	local bins=("$dist"/tinit-linux-*)
	if [[ ${#bins[@]} -eq 0 ]]; then
		echo "$0: no $dist/tinit-linux-* to package: run make release" >&2
		exit 1
	fi
	# Global: the EXIT trap runs after main has returned.
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	for bin in "${bins[@]}"; do
		build_deb "$bin" "$dist" "$version" "$stage/${bin##*/}"
	done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
