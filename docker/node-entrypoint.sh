#!/bin/sh
# The command of every node container. On the volume shared by the nodes (/run/fmx) it makes
# the job secret if no node has yet (first one wins; mode 600, never in the image), serves jobs
# with pmixd, and once pmixd listens adds this node to the hostfile /run/fmx/hosts; when the
# container stops it takes the node out of the hostfile again.
set -eu
dir=/run/fmx
me=$(hostname)
slots=${FMX_SLOTS:-2}
port=${FMX_PORT:-7707}

if [ ! -s "$dir/secret" ]; then
  tmp=$(mktemp "$dir/.secret.XXXXXX") # mode 600
  head -c 48 /dev/urandom | base64 >"$tmp"
  ln "$tmp" "$dir/secret" 2>/dev/null || true # atomic: another node may have been first
  rm -f "$tmp"
fi

# hosts.d holds one line per node; the hostfile is rebuilt under a lock, in node order
hostfile() {
  (
    flock 9
    cat "$dir"/hosts.d/* 2>/dev/null | sort -V >"$dir/.hosts.new" || true
    mv "$dir/.hosts.new" "$dir/hosts"
  ) 9>"$dir/.hosts.lock"
}
pmixd --listen "$port" --secret-file "$dir/secret" &
pid=$!
# into the hostfile only once pmixd is serving: a launcher that reads it finds a daemon
tries=0
until ss -ltnH "sport = :$port" | grep -q .; do
  kill -0 "$pid" 2>/dev/null || exit 1
  tries=$((tries + 1))
  [ $tries -le 300 ] || { echo "fmx-node: pmixd not serving on port $port after 30 s" >&2; exit 1; }
  sleep 0.1
done
mkdir -p "$dir/hosts.d"
echo "$me slots=$slots" >"$dir/hosts.d/$me"
hostfile

stop() {
  rm -f "$dir/hosts.d/$me"
  hostfile
  kill -TERM "$pid" 2>/dev/null || true
}
trap stop TERM INT
wait "$pid" || true
wait "$pid" 2>/dev/null || true
