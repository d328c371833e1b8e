#!/usr/bin/env bash
# The Debian package as an operator receives it: built with cpack from BUILD_DIR, its control
# fields, conffiles and file list, the extracted programs run from a scratch root (lantiand's help
# and configuration file, lantian-decode on a corpus frame, lantiand making its development
# certificates with the packaged script), the systemd unit through `systemd-analyze verify` and
# `security` on that root, the maintainer scripts run against stub commands (with and without a
# running systemd), and dpkg installing, upgrading, removing and purging the package in an overlay
# of the root — both in private mount namespaces: the host is never touched.
# usage: check_package.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() {  # check NAME COMMAND...: one line per check; the run goes on after a failure
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
same() {  # same EXPECTED ACTUAL: equal, or both shown
  [ "$1" = "$2" ] && return 0
  diff <(echo "$1") <(echo "$2") | sed 's/^/     /'
  return 1
}

version=$(sed -n 's/^project(lantian VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb=$work/pkg/lantian_${version}_${arch}.deb

# --- the package ------------------------------------------------------------------------------
cpack --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; echo "FAIL cpack"; exit 1; }
check "cpack writes lantian_${version}_${arch}.deb" test -f "$deb"
[ -f "$deb" ] || exit 1

field() { dpkg-deb --field "$deb" "$1"; }
check "Package: lantian" same lantian "$(field Package)"
check "Version: $version (the project's)" same "$version" "$(field Version)"
check "Section: net" same net "$(field Section)"
check "Architecture: $arch" same "$arch" "$(field Architecture)"
check "Maintainer set" grep -q '^.* <[^@ ]*@[^@ ]*>$' <<<"$(field Maintainer)"
check "Description has the Chinese line" grep -q '蓝天：重型柴油车及非道路移动机械排放远程监控服务器。' <<<"$(field Description)"
# adduser and openssl by hand; the libraries computed by dpkg-shlibdeps.
depends=$(field Depends | tr -d ' ' | tr ',' '\n' | sed 's/(.*//' | sort)
for p in adduser openssl libc6 libstdc++6 libssl3 librocksdb7.8 libjemalloc2 libspdlog1.10-fmt9 \
  libboost-program-options1.81.0; do
  check "Depends: $p" grep -qx "$p" <<<"$depends"
done
check "conffiles: /etc/lantian/lantiand.conf" same /etc/lantian/lantiand.conf \
  "$(dpkg-deb --info "$deb" conffiles)"
dpkg-deb --control "$deb" "$work/control"
for s in postinst prerm postrm; do
  check "$s is an executable sh script" \
    bash -c "test -x '$work/control/$s' && head -1 '$work/control/$s' | grep -qx '#!/bin/sh' && sh -n '$work/control/$s'"
done

# Every file, its mode and owner, exactly.
{
  for f in lantiand lantian-decode lantian-sim; do echo "-rwxr-xr-x root/root ./usr/bin/$f"; done
  echo "-rwxr-xr-x root/root ./usr/share/lantian/make-dev-certs.sh"
  for f in "$src"/samples/*; do echo "-rw-r--r-- root/root ./usr/share/lantian/samples/$(basename "$f")"; done
  echo "-rw-r--r-- root/root ./usr/share/lantian/prometheus/lantian-alerts.yml"
  echo "-rw-r--r-- root/root ./usr/share/lantian/prometheus/lantian-cluster-alerts.yml"
  echo "-rw-r--r-- root/root ./usr/share/lantian/grafana/lantian-dashboard.json"
  for f in "$src"/docs/*.md README.Debian; do echo "-rw-r--r-- root/root ./usr/share/doc/lantian/$(basename "$f")"; done
  echo "-rw-r--r-- root/root ./lib/systemd/system/lantiand.service"
  echo "-rw-r--r-- root/root ./etc/lantian/lantiand.conf"
} | sort -k3 >"$work/expected-files"
dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | sort -k3 >"$work/files"
check "the package holds exactly the expected files" diff "$work/expected-files" "$work/files"
check "every directory belongs to root" \
  bash -c "! dpkg-deb --contents '$deb' | awk '\$1 ~ /^d/ && \$2 != \"root/root\"' | grep -q ."

# --- the extracted programs -------------------------------------------------------------------
root=$work/root
dpkg -x "$deb" "$root"
for f in lantiand lantian-decode lantian-sim; do
  check "$f finds every library" bash -c "! ldd '$root/usr/bin/$f' | grep -q 'not found'"
done
"$root/usr/bin/lantiand" --help >"$work/help"
check "lantiand --help: usage line" same "Usage: lantiand [options]" "$(head -1 "$work/help")"
check "lantiand --help: the admin port's default" grep -qx '  --admin arg (=127.0.0.1:9100)         HOST:PORT of /metrics and /healthz' "$work/help"
conf_test() {  # its own lines only when it fails
  bash "$src/tests/package/conf_lists_every_option.sh" "$root/usr/bin" "$root/etc/lantian/lantiand.conf" \
    >"$work/conf-test" 2>&1 || { sed 's/^/     /' "$work/conf-test"; return 1; }
}
check "the packaged configuration file lists every option of the packaged lantiand" conf_test
"$root/usr/bin/lantian-sim" --help >"$work/sim-help"
check "lantian-sim --help" same "lantian-sim options:" "$(head -1 "$work/sim-help")"
corpus=$src/tests/corpus/frames
check "lantian-decode decodes the example login exactly as the corpus says" \
  same "$(jq -c . "$corpus/e1-login.json")" "$("$root/usr/bin/lantian-decode" "$(cat "$corpus/e1-login.hex")")"

# The packaged lantiand makes its development certificates with the packaged script, and stops
# gracefully on SIGTERM.
start_server() {  # start_server DATA_DIR: sets server_pid; waits for the listener or the exit
  "$root/usr/bin/lantiand" --data-dir "$1" --listen "tls://127.0.0.1:0" --admin 127.0.0.1:0 \
    --api off >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q 'event=admin_listening' "$work/server.log" && return 0
    kill -0 "$server_pid" 2>/dev/null || return 0
    sleep 0.1
  done
}
start_server "$work/data"
admin=$(sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' "$work/server.log")
check "lantiand from the package starts" test -n "$admin"
check "it made development certificates" test -s "$work/data/certs/server.crt"
check "/healthz answers ok" same ok "$(curl -s "http://127.0.0.1:${admin:-1}/healthz")"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
check "SIGTERM stops it gracefully (exit 0, event=stopped)" \
  bash -c "[ $status -eq 0 ] && grep -q 'event=stopped' '$work/server.log'"
# Without the packaged script there are no certificates: the build tree's copy is never used.
rm "$root/usr/share/lantian/make-dev-certs.sh"
start_server "$work/data2"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$server_pid" 2>/dev/null && echo "     lantiand started without its script"
status=0
wait "$server_pid" || status=$?
server_pid=
check "without the packaged script lantiand fails, naming it" \
  bash -c "[ $status -ne 0 ] && grep -q '$root/usr/.*make-dev-certs.sh' '$work/server.log' &&
           [ ! -e '$work/data2/certs/server.crt' ]"

# --- the unit ---------------------------------------------------------------------------------
unit=$root/lib/systemd/system/lantiand.service
for line in "User=lantian" "Group=lantian" "StateDirectory=lantian" "ConfigurationDirectory=lantian" \
  "ExecStart=/usr/bin/lantiand --config /etc/lantian/lantiand.conf --data-dir /var/lib/lantian" \
  'ExecReload=/bin/kill -HUP $MAINPID' "Restart=on-failure" "TimeoutStopSec=60" \
  "LimitNOFILE=262144" "NoNewPrivileges=yes" "ProtectSystem=strict" "UMask=0027" \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "CapabilityBoundingSet=" \
  "ReadWritePaths=-/var/backups/lantian" "PrivateTmp=yes"; do
  check "unit: $line" grep -qxF "$line" "$unit"
done
check "unit: no AmbientCapabilities" bash -c "! grep -q '^AmbientCapabilities' '$unit'"
# verify --root resolves ExecStart inside the scratch root; it needs the targets the unit refers to
# (sysinit.target and the rest, from the host) and /bin/kill there.
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"
for t in sysinit.target basic.target shutdown.target network.target multi-user.target; do
  cp "/lib/systemd/system/$t" "$root/lib/systemd/system/$t"
done
verify_out=$(systemd-analyze verify --root="$root" lantiand.service 2>&1) && verify_status=0 || verify_status=$?
check "systemd-analyze verify: no error, no warning" same "0 " "$verify_status $verify_out"
security=$(systemd-analyze security --offline=yes --root="$root" --no-pager lantiand.service 2>&1 | tail -1)
exposure=$(sed -n 's/.*Overall exposure level for lantiand.service: \([0-9.]*\).*/\1/p' <<<"$security")
check "systemd-analyze security: exposure ${exposure:-?} at most 2.8 (systemd 252's scale)" \
  awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.8) }'

# --- the maintainer scripts -------------------------------------------------------------------
# Each runs with PATH holding only stubs that log their arguments, in a mount namespace whose /run
# and /var/lib are empty tmpfs: the same script, with systemd running (/run/systemd/system) and
# without. `systemctl is-active` answers "active"; dpkg-statoverride knows no override.
stubs=$work/stubs
mkdir -p "$stubs"
for c in adduser install chown chmod systemctl dpkg-statoverride; do
  cat >"$stubs/$c" <<EOF
#!/bin/sh
echo "$c \$*" >>"$work/calls"
[ "$c" != dpkg-statoverride ]
EOF
  chmod +x "$stubs/$c"
done
run_script() {  # run_script SYSTEMD(yes|no) STATE(yes|no) SCRIPT ARGS...: prints the calls, then "exit N"
  local systemd=$1 state=$2
  shift 2
  : >"$work/calls"
  local status=0
  unshare --mount --propagation private sh -c '
    mkdir -p /var/backups
    mount -t tmpfs none /run && mount -t tmpfs none /var/lib && mount -t tmpfs none /var/backups ||
      exit 99
    [ "$0" = yes ] && mkdir -p /run/systemd/system
    [ "$1" = yes ] && mkdir -p /var/lib/lantian /var/backups/lantian
    shift
    exec env -i PATH="'"$stubs"'" /bin/sh "$@"' "$systemd" "$state" "$work/control/$@" \
    2>"$work/stderr" || status=$?
  cat "$work/calls"
  echo "exit $status"
}
adduser_call="adduser --system --group --home /var/lib/lantian --no-create-home --quiet --gecos Lantian emission monitoring server lantian"
conf_calls="dpkg-statoverride --list /etc/lantian/lantiand.conf
chown root:lantian /etc/lantian/lantiand.conf
chmod 0640 /etc/lantian/lantiand.conf"
check "postinst configure, new, no systemd: user, state directory, configuration file" same \
  "$adduser_call
install -d -o lantian -g lantian -m 0750 /var/lib/lantian
install -d -o lantian -g lantian -m 0750 /var/backups/lantian
$conf_calls
exit 0" "$(run_script no no postinst configure)"
check "postinst configure, new, systemd: daemon-reload, not started" same \
  "$adduser_call
install -d -o lantian -g lantian -m 0750 /var/lib/lantian
install -d -o lantian -g lantian -m 0750 /var/backups/lantian
$conf_calls
systemctl --system daemon-reload
exit 0" "$(run_script yes no postinst configure)"
check "postinst configure, upgrade, systemd: a running server restarts" same \
  "$adduser_call
$conf_calls
systemctl --system daemon-reload
systemctl --quiet is-active lantiand.service
systemctl restart lantiand.service
exit 0" "$(run_script yes yes postinst configure 0.0.9)"
check "postinst with an unknown action fails" same "exit 1" "$(run_script no no postinst bogus)"
check "prerm remove, systemd: stop, then disable" same \
  "systemctl stop lantiand.service
systemctl --quiet disable lantiand.service
exit 0" "$(run_script yes yes prerm remove)"
check "prerm remove, no systemd: disable only" same \
  "systemctl --quiet disable lantiand.service
exit 0" "$(run_script no yes prerm remove)"
check "prerm upgrade: the server keeps running" same "exit 0" "$(run_script yes yes prerm upgrade "$version")"
check "postrm remove, systemd: daemon-reload, the archive stays" same \
  "systemctl --system daemon-reload
exit 0" "$(run_script yes yes postrm remove)"
check "postrm purge: nothing deleted" same "exit 0" "$(run_script no yes postrm purge)"
check "postrm purge says the archive is kept" grep -q '/var/lib/lantian (the archive) and the user lantian are kept' "$work/stderr"

# --- a real installation, upgrade, removal and purge ----------------------------------------------
# dpkg itself installs the package into an overlay of the host's root, in a private mount
# namespace: every write (the user in /etc/passwd, dpkg's database, the files) lands in a tmpfs
# that vanishes with the namespace. No systemd runs in that root.
mkdir -p "$work/ov"
cp "$deb" "$work/lantian.deb"
unshare --mount --propagation private bash -s "$work/ov" "$work/lantian.deb" >"$work/install.out" 2>&1 <<'INSTALL' || true
set -u
ov=$1 deb=$2
m=$ov/merged
mount -t tmpfs none "$ov" && mkdir -p "$ov/upper" "$ov/work" "$m" &&
  mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$m" &&
  mount -t proc proc "$m/proc" && mount --bind /dev "$m/dev" && cp "$deb" "$m/tmp/lantian.deb" ||
  { echo "FAIL an overlay of / could not be mounted"; exit 0; }
in_root() { chroot "$m" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
t() {  # t NAME COMMAND...: run in the root
  local name=$1
  shift
  if in_root "$@" >"$ov/last" 2>&1; then echo "ok   $name"; else echo "FAIL $name"; sed 's/^/     /' "$ov/last"; fi
}
t "dpkg -i installs it" dpkg -i /tmp/lantian.deb
t "user lantian: system user, home /var/lib/lantian, no login" sh -c   'getent passwd lantian | grep -Eq "^lantian:x:[0-9]+:[0-9]+:[^:]*:/var/lib/lantian:/usr/sbin/nologin$" && [ "$(id -u lantian)" -lt 1000 ]'
t "/var/lib/lantian: lantian:lantian 750" sh -c '[ "$(stat -c "%U:%G %a" /var/lib/lantian)" = "lantian:lantian 750" ]'
t "/etc/lantian/lantiand.conf: root:lantian 640" sh -c '[ "$(stat -c "%U:%G %a" /etc/lantian/lantiand.conf)" = "root:lantian 640" ]'
t "dpkg records the conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" lantian | grep -q "^ /etc/lantian/lantiand.conf [0-9a-f]\{32\}$"'
t "lantian reads the configuration file" setpriv --reuid=lantian --regid=lantian --init-groups \
  /usr/bin/lantiand --config /etc/lantian/lantiand.conf --help
t "other users do not" sh -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/lantian/lantiand.conf'
in_root sh -c 'echo "log-level = debug" >>/etc/lantian/lantiand.conf'
t "installing it again (an upgrade) succeeds" dpkg -i /tmp/lantian.deb
t "the upgrade keeps a changed configuration file" grep -qx "log-level = debug" /etc/lantian/lantiand.conf
t "dpkg -r removes it" dpkg -r lantian
t "removal: programs gone, configuration and archive kept" sh -c \
  '[ ! -e /usr/bin/lantiand ] && [ -f /etc/lantian/lantiand.conf ] && [ -d /var/lib/lantian ]'
t "dpkg -P purges it" dpkg -P lantian
t "purge: configuration gone, archive and user kept" sh -c \
  '[ ! -e /etc/lantian/lantiand.conf ] && [ -d /var/lib/lantian ] && getent passwd lantian >/dev/null'
INSTALL
cat "$work/install.out"
passed=$((passed + $(grep -c '^ok ' "$work/install.out" || true)))
failed=$((failed + $(grep -c '^FAIL ' "$work/install.out" || true)))
[ "$(grep -c '^ok ' "$work/install.out" || true)" -eq 13 ] ||
  { echo "FAIL the installation ran $(grep -c '^ok ' "$work/install.out" || true) of its 13 checks"; failed=$((failed + 1)); }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
