# Sourced by tests that start a Docker daemon: what it does to the host firewall and sysctls,
# recorded before and undone exactly afterwards (its own rules and chains only: rules that
# anything else added in the meantime stay), then checked.
#   fw_save DIR      records iptables/ip6tables (filter, nat), ip_forward, bridge netfilter
#   fw_undo DIR      removes the Docker rules and chains added since, restores policies and
#                    sysctls, deletes tables that did not exist (needs nft), unloads
#                    br_netfilter when it was not loaded before
#   fw_same DIR      0 when the firewall and sysctls read as they did at fw_save; else prints
#                    the difference and returns 1

# canonical TOOL TABLE: the table as rules and policies, without counters and comments; a table
# with only built-in chains at ACCEPT and no rule reads as empty (as one never created does)
# (`iptables-save -t TABLE` would create the table with nf_tables: the whole save is read)
fw_table() {
  "$1-save" 2>/dev/null | awk -v t="*$2" '$0 == t { on = 1; next } /^\*/ { on = 0 } on'
}

fw_canonical() {
  fw_table "$1" "$2" | grep -v '^#' | grep -vx COMMIT | sed 's/ \[[0-9]*:[0-9]*\]$//' |
    awk '/^-A / || (/^:/ && $2 != "ACCEPT") { keep = 1 } { lines[NR] = $0 }
         END { if (keep) for (i = 1; i <= NR; i++) print lines[i] }'
}

# exists TOOL TABLE: the table is there at all (with nf_tables, none is before first use)
fw_exists() {
  "$1-save" 2>/dev/null | grep -qx "\*$2"
}

fw_sysctls() {
  local k
  for k in net/ipv4/ip_forward net/ipv6/conf/all/forwarding net/bridge/bridge-nf-call-iptables \
    net/bridge/bridge-nf-call-ip6tables; do
    [ -e "/proc/sys/$k" ] && echo "$k $(cat "/proc/sys/$k")"
  done
  [ -d /sys/module/br_netfilter ] && echo "module br_netfilter"
}

fw_save() {
  local t tool
  mkdir -p "$1"
  for tool in iptables ip6tables; do
    command -v "$tool-save" >/dev/null || continue
    for t in filter nat; do
      fw_canonical "$tool" "$t" >"$1/$tool.$t"
      fw_exists "$tool" "$t" || : >"$1/$tool.$t.absent"
    done
  done
  fw_sysctls >"$1/sysctls"
}

# docker_rule LINE: a rule or chain of Docker's (its chains, its bridges, its address pools)
fw_docker_rule() {
  grep -qE 'DOCKER|fmxdocker0|docker0|-[io] br-|198\.18\.255\.|198\.19\.' <<<"$1"
}

fw_undo() {
  local dir=$1 t tool line chain policy k v
  for tool in iptables ip6tables; do
    [ -f "$dir/$tool.filter" ] || continue
    for t in filter nat; do
      # rules Docker added, newest first
      fw_canonical "$tool" "$t" | grep '^-A ' | grep -vxF -f "$dir/$tool.$t" | tac |
        while read -r line; do
          fw_docker_rule "$line" && eval "$tool -t $t -D ${line#-A }"
        done
      # its chains, emptied first (they jump to each other), then removed
      for chain in $(fw_canonical "$tool" "$t" | sed -n 's/^:\(DOCKER[^ ]*\) .*/\1/p'); do
        grep -q "^:$chain " "$dir/$tool.$t" || "$tool" -t "$t" -F "$chain"
      done
      for chain in $(fw_canonical "$tool" "$t" | sed -n 's/^:\(DOCKER[^ ]*\) .*/\1/p'); do
        grep -q "^:$chain " "$dir/$tool.$t" || "$tool" -t "$t" -X "$chain"
      done
      # built-in policies it changed (a table that was not there had them at ACCEPT)
      fw_canonical "$tool" "$t" | sed -n 's/^:\([A-Z]*\) \(ACCEPT\|DROP\)$/\1 \2/p' |
        while read -r chain policy; do
          v=$(sed -n "s/^:$chain \(ACCEPT\|DROP\)$/\1/p" "$dir/$tool.$t")
          [ "$policy" != "${v:-ACCEPT}" ] && "$tool" -t "$t" -P "$chain" "${v:-ACCEPT}"
        done
      # a table that was not there before and holds nothing now goes again
      if [ -f "$dir/$tool.$t.absent" ] && [ -z "$(fw_canonical "$tool" "$t")" ] &&
        fw_exists "$tool" "$t"; then
        nft delete table "$([ $tool = iptables ] && echo ip || echo ip6)" "$t" 2>/dev/null
      fi
    done
  done
  while read -r k v; do
    [ "$k" = module ] && continue
    [ "$(cat "/proc/sys/$k" 2>/dev/null)" = "$v" ] || echo "$v" >"/proc/sys/$k"
  done <"$dir/sysctls"
  if ! grep -q '^module br_netfilter$' "$dir/sysctls" && [ -d /sys/module/br_netfilter ]; then
    rmmod br_netfilter 2>/dev/null || modprobe -r br_netfilter 2>/dev/null
  fi
  return 0
}

fw_same() {
  local dir=$1 t tool same=0
  for tool in iptables ip6tables; do
    [ -f "$dir/$tool.filter" ] || continue
    for t in filter nat; do
      if [ -f "$dir/$tool.$t.absent" ] && fw_exists "$tool" "$t"; then
        echo "the $tool $t table exists, and did not before the test"
        same=1
      fi
      if ! diff <(cat "$dir/$tool.$t") <(fw_canonical "$tool" "$t") >"$dir/diff"; then
        echo "the $tool $t table differs from before the test:"
        sed 's/^/    /' "$dir/diff"
        same=1
      fi
    done
  done
  if ! diff "$dir/sysctls" <(fw_sysctls) >"$dir/diff"; then
    echo "sysctls or modules differ from before the test:"
    sed 's/^/    /' "$dir/diff"
    same=1
  fi
  return $same
}
