#!/usr/bin/env bash
# The packaged configuration file (packaging/lantiand.conf) against `lantiand --help`: every option
# of the help is in the file (as `key = value` or `#key = value`), with the help's default where
# the help shows one; every key in the file is an option; and lantiand reads the file — once as
# shipped and once with every line uncommented — without a problem. The same checks then run on
# two damaged copies of the file, which they must reject.
# usage: conf_lists_every_option.sh BIN_DIR [CONF]
set -euo pipefail
bin=$1
conf=${2:-$(dirname "$0")/../../packaging/lantiand.conf}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin/lantiand" --help >"$work/help"
# "  --name arg (=default)" or "  -h [ --help ]"; a wrapped description line starts further right.
awk '
  match($0, /^  (-[a-z] \[ )?--[a-z0-9-]+/) {
    name = substr($0, RSTART, RLENGTH); sub(/.*--/, "", name)
    value = "\001"                                   # no default shown
    if (match($0, /^  --[a-z0-9-]+ arg \(=[^)]*\)/)) {
      value = substr($0, RSTART, RLENGTH); sub(/^[^(]*\(=/, "", value); sub(/\)$/, "", value)
    }
    print name "\t" value
  }' "$work/help" >"$work/options"
count=$(wc -l <"$work/options")
# A help text that parses into a handful of options means this parser broke, not that they went.
[ "$count" -ge 80 ] || { echo "FAIL: only $count options read from lantiand --help"; exit 1; }

# check_conf FILE: prints each problem, returns their number.
check_conf() {
  local file=$1
  # KEY<tab>VALUE<tab>#: the commented lines show defaults; a line set on purpose is not compared.
  sed -n 's/^\(#\{0,1\}\)\([a-z0-9][a-z0-9-]*\) *= *\(.*\)$/\2\t\3\t\1/p' "$file" >"$work/keys"
  local status=0
  awk -F'\t' '
    function norm(v) {                               # as Boost reads bools and numbers
      if (v == "true" || v == "yes" || v == "on") return "1"
      if (v == "false" || v == "no" || v == "off") return "0"
      if (v ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) return sprintf("%.12g", v + 0)
      return v
    }
    FNR == NR { help[$1] = $2; next }
    { present[$1] = 1 }
    $3 == "#" && !($1 in conf) { conf[$1] = $2 }
    END {
      problems = 0
      for (name in help) {
        # help and config are the command line`s own: a configuration file names neither.
        if (name == "help" || name == "config") continue
        if (!(name in present)) { print "missing from the file: " name; problems++; continue }
        # certs-script: its default is wherever the executable runs from.
        if (help[name] == "\001" || !(name in conf) || name == "certs-script") continue
        if (norm(conf[name]) != norm(help[name])) {
          print name ": the file says \"" conf[name] "\", lantiand --help \"" help[name] "\""
          problems++
        }
      }
      for (name in present)
        if (!(name in help) || name == "help" || name == "config") {
          print "not an option of lantiand: " name; problems++
        }
      exit problems > 100 ? 100 : problems
    }' "$work/options" "$work/keys" >"$work/problems" || status=$?
  sort "$work/problems"
  [ "$status" -eq 0 ] || return "$status"
  # lantiand reads the file: as it is, then with every option line uncommented. --help stops it
  # after the file is parsed (unknown keys and values of the wrong type are problems, exit 2).
  "$bin/lantiand" --config "$file" --help >/dev/null 2>"$work/err" ||
    { echo "lantiand refuses the file: $(cat "$work/err")"; return 1; }
  sed 's/^#\([a-z0-9][a-z0-9-]* *=\)/\1/' "$file" >"$work/uncommented.conf"
  "$bin/lantiand" --config "$work/uncommented.conf" --help >/dev/null 2>"$work/err" ||
    { echo "lantiand refuses the file uncommented: $(cat "$work/err")"; return 1; }
  return 0
}

failures=0
if problems=$(check_conf "$conf"); then
  echo "ok   $conf lists the $((count - 2)) options of lantiand --help with their defaults"
else
  echo "FAIL $conf:"; echo "$problems"; failures=$((failures + 1))
fi

# The checks can fail: an option left out, and a default that is not the server's.
grep -v '^#max-accepts-per-second *=' "$conf" >"$work/missing.conf"
if problems=$(check_conf "$work/missing.conf"); then
  echo "FAIL a file without max-accepts-per-second passes"; failures=$((failures + 1))
elif [ "$problems" != "missing from the file: max-accepts-per-second" ]; then
  echo "FAIL a file without max-accepts-per-second: $problems"; failures=$((failures + 1))
else
  echo "ok   a file without max-accepts-per-second fails"
fi
sed 's/^#idle-timeout-s *=.*/#idle-timeout-s = 301/' "$conf" >"$work/stale.conf"
if problems=$(check_conf "$work/stale.conf"); then
  echo "FAIL a file with a wrong default passes"; failures=$((failures + 1))
elif [ "$problems" != 'idle-timeout-s: the file says "301", lantiand --help "300"' ]; then
  echo "FAIL a file with a wrong default: $problems"; failures=$((failures + 1))
else
  echo "ok   a file with a wrong default fails"
fi

if [ "$failures" -eq 0 ]; then echo "3 passed, 0 failed"; else echo "$((3 - failures)) passed, $failures failed"; fi
exit $((failures > 0))
