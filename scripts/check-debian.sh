#!/bin/sh
# make check-debian: applies the quilt series of real Debian 12 source
# packages (format 3.0 (quilt)) with bootstrap and compares each tree with
# what `dpkg-source -x` makes of the same package: file contents, modes,
# symlinks and empty directories, .pc/ aside. Prints one line per package
# and a closing "N identical, M differ". Not part of CI: it downloads.
#
#   scripts/check-debian.sh [LIST]     (default scripts/check-debian.list)
#
# Environment (all optional):
#   BOOTSTRAP       the bootstrap binary (default bin/bootstrap)
#   CHECK_DEBSRC    where the source packages are kept between runs
#                   (default /var/cache/bootstrap-debsrc/check-debian)
#   CHECK_KEEP=1    keep the trees of packages that differ, and say where
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
list=${1:-scripts/check-debian.list}
bs=$(realpath "${BOOTSTRAP:-bin/bootstrap}")
src=${CHECK_DEBSRC:-/var/cache/bootstrap-debsrc/check-debian}
mkdir -p "$src"
chmod 755 "$src" # apt downloads as _apt when it can

# A deb-src entry, as scripts/debsrc.sh adds it, the first time a package
# has to be downloaded.
sources_ready=
need_sources() {
	[ -n "$sources_ready" ] && return 0
	f=/etc/apt/sources.list.d/debian.sources
	if [ -f "$f" ] && ! grep -q '^Types:.*deb-src' "$f"; then
		sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
	fi
	apt-get update -q >/dev/null
	sources_ready=1
}

# dsc_files DSC: "sha256 name" for every file the .dsc lists.
dsc_files() {
	awk '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0} on && NF == 3 {print $1, $3}' "$1"
}

# top_dirs TARBALL: how many top-level names the tarball has ("./" aside).
top_dirs() {
	tar -tf "$1" | sed 's|^\./||' | grep -v '^$' | cut -d/ -f1 | sort -u | wc -l
}

# recipe DSC: a recipe that unpacks the package as dpkg-source does (the
# orig tarball, each orig-COMP tarball in COMP/, the debian tarball's
# debian/; a lone top-level directory stripped) and applies its series.
recipe() {
	d=$(dirname "$1")
	printf 'name: check\ncomponents:\n  - name: pkg\n    sources:\n'
	# In dpkg-source's order: the orig tarball, the orig-COMP ones, then
	# the debian tarball, whose files win over an upstream debian/.
	dsc_files "$1" | while read -r sum name; do
		case $name in
		*.asc) ;;
		*.orig.tar.*) echo "1 $sum $name" ;;
		*.orig-*.tar.*) echo "2 $sum $name" ;;
		*.debian.tar.*) echo "3 $sum $name" ;;
		esac
	done | sort -k1,1 -k3 | while read -r _ sum name; do
		case $name in
		*.orig.tar.*) dest=. ;;
		*.orig-*.tar.*) dest=${name##*.orig-}; dest=${dest%%.tar.*} ;;
		*) dest=debian ;;
		esac
		strip=0
		[ "$(top_dirs "$d/$name")" = 1 ] && strip=1
		printf '      - url: file://%s\n        sha256: %s\n        strip: %s\n        dest: %s\n' "$d/$name" "$sum" "$strip" "$dest"
	done
	printf '    patches:\n      - series: ${{ src }}/debian/patches/series\n'
	printf '    steps:\n      - name: done\n        run: "true"\n'
}

# manifest TREE: every entry (type, path, link target), the executable
# files, the sha256 of every file and the empty directories, .pc/ aside.
# Permission bits other than "executable or not" are left out: dpkg-source
# rewrites every mode to 0666 or 0777 less the umask, bootstrap keeps the
# archive's (see docs/how-it-works.md, "Patches as GNU patch applies them").
manifest() {
	(
		cd "$1"
		find . -path ./.pc -prune -o ! -path . -printf '%y %p %l\n' | sort
		find . -path ./.pc -prune -o -type f -perm /111 -printf 'executable %p\n' | sort
		find . -path ./.pc -prune -o -type f -print0 | xargs -0 -r sha256sum | sort -k2
		find . -path ./.pc -prune -o -type d -empty -printf 'empty %p\n' | sort
	)
}

start=$(date +%s)
same=0 differ=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for pkg in $(grep -v '^#' "$list" | awk 'NF {print $1}'); do
	dsc=$(ls "$src/${pkg}"_*.dsc 2>/dev/null | sort -V | tail -1 || true)
	if [ -z "$dsc" ]; then
		need_sources
		(cd "$src" && apt-get source --download-only -q "$pkg" >/dev/null 2>&1) || true
		dsc=$(ls "$src/${pkg}"_*.dsc 2>/dev/null | sort -V | tail -1 || true)
	fi
	if [ -z "$dsc" ]; then
		echo "differ     $pkg: could not download it"
		differ=$((differ + 1))
		continue
	fi
	name=$(basename "$dsc" .dsc)
	w=$tmp/$name
	mkdir -p "$w"
	if ! dpkg-source -x "$dsc" "$w/ref" >"$w/dpkg-source.log" 2>&1; then
		echo "differ     $name: dpkg-source -x failed (see $w/dpkg-source.log)"
		differ=$((differ + 1))
		continue
	fi
	patches=$(grep -cv '^\s*\(#\|$\)' "$w/ref/debian/patches/series" 2>/dev/null || echo 0)
	recipe "$dsc" >"$w/check.yaml"
	if ! "$bs" run --skip-doctor --offline --cache "$tmp/cache" --workdir "$w/work" "$w/check.yaml" >"$w/bootstrap.log" 2>&1; then
		echo "differ     $name ($patches patches): bootstrap failed: $(grep -m1 'bootstrap:' "$w/bootstrap.log" | cut -c1-300)"
		differ=$((differ + 1))
		[ -n "${CHECK_KEEP:-}" ] && cp -a "$w" "/tmp/check-debian-$name" && echo "           kept in /tmp/check-debian-$name"
		rm -rf "$w"
		continue
	fi
	manifest "$w/ref" >"$w/ref.txt"
	manifest "$w/work/src/pkg" >"$w/got.txt"
	if cmp -s "$w/ref.txt" "$w/got.txt"; then
		echo "identical  $name ($patches patches)"
		same=$((same + 1))
	else
		echo "differ     $name ($patches patches): $(diff "$w/ref.txt" "$w/got.txt" | grep -c '^[<>]') entries, first: $(diff "$w/ref.txt" "$w/got.txt" | grep '^[<>]' | head -2 | tr '\n' ' ')"
		differ=$((differ + 1))
		[ -n "${CHECK_KEEP:-}" ] && cp -a "$w" "/tmp/check-debian-$name" && echo "           kept in /tmp/check-debian-$name"
	fi
	rm -rf "$w"
done
echo "took $(($(date +%s) - start)) s"
echo "$same identical, $differ differ"
[ "$differ" = 0 ]
