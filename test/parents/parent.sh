#!/bin/sh
# test/parents/parent.sh: a POSIX sh parent of tlsify: it pipes a request through
# `tlsify connect` and follows the control channel (protocol/control.md) through a FIFO on fd 3,
# one `while read -r event rest` per line. It prints what it found and exits 1 on any mismatch.
#
# Usage: sh parent.sh TLSIFY HOST:PORT CAFILE REQUEST EXPECTED-REPLY
# REQUEST is sent followed by LF; EXPECTED-REPLY is compared without its trailing newlines.
set -u
[ $# -eq 5 ] || { echo "usage: sh parent.sh TLSIFY HOST:PORT CAFILE REQUEST EXPECTED-REPLY" >&2; exit 2; }
tlsify=$1 target=$2 ca=$3 request=$4 expected=$5

dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/control" || exit 2

# Opening the FIFO for writing blocks until the loop below opens it for reading, and the loop
# sees EOF once tlsify (the only writer) has exited: no polling, no temporary event file.
printf '%s\n' "$request" | "$tlsify" connect "$target" --ca "$ca" 3>"$dir/control" >"$dir/reply" &
pid=$!

failed=0
mismatch() {
  echo "mismatch: expected $1, got '$2'" >&2
  failed=1
}

# field KEY REST: set $value to KEY's value in REST (still %XX-escaped), or to nothing.
field() {
  case " $2" in
    *" $1="*) value=" $2"; value=${value#*" $1="}; value=${value%% *} ;;
    *) value= ;;
  esac
}

lines=0 greeting= version= certs=0 pinned=0 last=
while read -r event rest; do
  lines=$((lines + 1))
  [ "$lines" -eq 1 ] && greeting="$event $rest"
  case $event in
    handshake) field version "$rest"; version=$value ;;
    cert)
      certs=$((certs + 1))
      field pin "$rest"
      case $value in sha256/?*) pinned=$((pinned + 1)) ;; *) mismatch "cert pin=sha256/..." "$value" ;; esac
      ;;
  esac
  last="$event $rest"
done <"$dir/control"
wait "$pid"
status=$?
reply=$(cat "$dir/reply")

echo "greeting: $greeting"
echo "tls: $version"
echo "certs: $certs pinned: $pinned"
echo "end: $last"
echo "reply: $reply"
echo "status: $status"

case $greeting in "hello proto=1 "*) ;; *) mismatch "the greeting 'hello proto=1 ...' first" "$greeting" ;; esac
case $version in TLSv1.2 | TLSv1.3) ;; *) mismatch "a handshake line with version=TLSv1.2 or TLSv1.3" "$version" ;; esac
[ "$pinned" -ge 1 ] || mismatch "at least one cert line with pin=sha256/..." "$pinned"
case $last in "end code=ok exit=0 "* | "end code=ok exit=0") ;; *) mismatch "'end code=ok exit=0' as the last line" "$last" ;; esac
[ "$status" -eq 0 ] || mismatch "tlsify exit status 0" "$status"
[ "$reply" = "$expected" ] || mismatch "the reply '$expected'" "$reply"
exit "$failed"
