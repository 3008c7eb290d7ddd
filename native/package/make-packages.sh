#!/usr/bin/env bash
# Writes dvdi's packages (run by `./mvnw -Prelease package`, native/pom.xml):
#   dvdi-<version>-linux-amd64.{tar.gz,deb}                     the Mesos-independent part
#   dvdi-<version>-mesos-<mesos>-linux-amd64.{tar.gz,deb}       per isolator module built
# each tarball with its SHA256SUMS. Files: /usr/lib/dvdi (dvdi.jar, dvdi-demo, the module),
# /usr/bin/dvdi and dvdi-demo, /etc/dvdi/dvdi.properties (a conffile), the modules file with the
# installed paths in /usr/share/dvdi, and in /usr/share/doc/dvdi the README's operator part
# (README.md), the license (LICENSE) and the third-party notices (copyright,
# nlohmann-json-3.11.2.copyright). Each tarball also holds a SHA256SUMS of its own files.
# The .deb's post-install step trains the class-data sharing archive for the installed jar and
# JDK (dvdi.jsa, removed again with the package), and again when a JDK under /usr/lib/jvm changes
# (a dpkg trigger).
#
# Usage: make-packages.sh VERSION CMAKE_BUILD_DIR DVDI_JAR OUT_DIR
set -euo pipefail
version="$1" build="$2" jar="$3" out="$4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
arch=amd64
demo="$build/native/demo/dvdi-demo"
[ -f "$jar" ] || { echo "make-packages: no $jar (build java/dvdi-dist first)" >&2; exit 1; }
[ -x "$demo" ] || { echo "make-packages: no $demo (the native build makes it)" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "make-packages: dpkg-deb not found (Debian: dpkg)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"

# operator_readme: the README's part between its "operator part" markers, under a title
operator_readme() {
  printf '# dvdi %s: the operator guide\n\n' "$version"
  printf 'From the README of dvdi %s: installing, using with Mesos, requests, providers,\n' "$version"
  printf 'configuration, the CLI, errors, state and recovery. License: Apache-2.0 (LICENSE).\n\n'
  awk '/^<!-- operator part: begin/{p=1;next} /^<!-- operator part: end/{exit} p' "$repo/README.md"
}
[ "$(operator_readme | grep -c '^## ')" -gt 1 ] || { echo "make-packages: README.md has no operator part markers" >&2; exit 1; }

# stage NAME [MESOS_VERSION MODULE]: the file tree of one package under $out/stage/NAME/root
stage() {
  local name="$1" mesos="${2:-}" module="${3:-}" root="$out/stage/$1/root"
  install -d "$root/usr/lib/dvdi" "$root/usr/bin" "$root/etc/dvdi" "$root/usr/share/doc/dvdi"
  install -m 0644 "$jar" "$root/usr/lib/dvdi/dvdi.jar"
  install -m 0755 "$demo" "$root/usr/lib/dvdi/dvdi-demo"
  install -m 0755 "$repo/bin/dvdi" "$repo/bin/dvdi-demo" "$root/usr/bin/"
  install -m 0644 "$here/dvdi.properties" "$root/etc/dvdi/dvdi.properties"
  operator_readme > "$root/usr/share/doc/dvdi/README.md" && chmod 0644 "$root/usr/share/doc/dvdi/README.md"
  install -m 0644 "$repo/LICENSE" "$here/copyright" "$root/usr/share/doc/dvdi/"
  install -m 0644 "$repo/native/third_party/nlohmann-json-3.11.2/COPYRIGHT" "$root/usr/share/doc/dvdi/nlohmann-json-3.11.2.copyright"
  if [ -n "$mesos" ]; then
    install -d "$root/usr/share/dvdi"
    install -m 0644 "$module" "$root/usr/lib/dvdi/libmesos_dvdi_isolator-$mesos.so"
    sed -e "s#@DVDI_MODULE_LIBRARY@#/usr/lib/dvdi/libmesos_dvdi_isolator-$mesos.so#" -e "s#@DVDI_JAR@#/usr/lib/dvdi/dvdi.jar#" \
      "$repo/modules/dvdi-mod.json" > "$root/usr/share/dvdi/dvdi-mod.json"
    chmod 0644 "$root/usr/share/dvdi/dvdi-mod.json"
  fi
}

# tarball NAME: $out/NAME.tar.gz (one top directory, NAME) and its line in SHA256SUMS
tarball() {
  local name="$1"
  cp -a "$out/stage/$name/root" "$out/stage/$name/$name"
  (cd "$out/stage/$name/$name" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum > SHA256SUMS)
  tar -C "$out/stage/$name" --owner=0 --group=0 -czf "$out/$name.tar.gz" "$name"
  (cd "$out" && sha256sum "$name.tar.gz" >> SHA256SUMS)
}

# deb NAME DEBVERSION DESCRIPTION: $out/NAME.deb
deb() {
  local name="$1" debversion="$2" what="$3" root="$out/stage/$1/root"
  install -d "$root/DEBIAN"
  cat > "$root/DEBIAN/control" <<EOF
Package: dvdi
Version: $debversion
Architecture: $arch
Maintainer: dvdi developers <dvdi@localhost>
Depends: openjdk-17-jre-headless | java17-runtime-headless, util-linux, e2fsprogs
Recommends: xfsprogs
Section: admin
Priority: optional
Description: external persistent volumes for Apache Mesos tasks
 $what
EOF
  echo /etc/dvdi/dvdi.properties > "$root/DEBIAN/conffiles"
  install -m 0755 "$here/postinst" "$here/prerm" "$root/DEBIAN/"
  install -m 0644 "$here/triggers" "$root/DEBIAN/"
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$out/$name.deb" >/dev/null
  (cd "$out" && sha256sum "$name.deb" >> SHA256SUMS)
}

base="dvdi-$version-linux-$arch"
stage "$base"
tarball "$base"
deb "$base" "$version" "The dvdi CLI, the JNI bridge's jar and the demo, without a Mesos module."
# The modules this CMake configuration builds (native/mesos/CMakeLists.txt writes the list).
modules="$build/native/mesos/modules.list"
[ -f "$modules" ] || { echo "make-packages: no $modules (configure the native build first)" >&2; exit 1; }
while read -r mesos module <&3; do
  [ -f "$module" ] || { echo "make-packages: the module for Mesos $mesos was not built: $module" >&2; exit 1; }
  name="dvdi-$version-mesos-$mesos-linux-$arch"
  stage "$name" "$mesos" "$module"
  tarball "$name"
  deb "$name" "$version+mesos$mesos" "The isolator module for Mesos $mesos, the dvdi CLI, the jar and the demo."
done 3< "$modules"
rm -rf "$out/stage"
echo "dvdi packages in $out:"
(cd "$out" && ls -1 *.tar.gz *.deb)
