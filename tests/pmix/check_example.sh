#!/usr/bin/env bash
# Checks the output of one of OpenPMIx's example programs run as RANKS ranks: every rank must
# print the lines that mean it succeeded, and no line may report a failure (the examples print
# "failed" or "wrong value" and still exit 0). Prints the first problem found; exit 0 or 1.
#   check_example.sh hello|client|dmodex|pub|pubi|jctrl|fault|jobctl|group|group_dmodex|
#                    group_lcl_cid|asyncgroup|pubsub|dynamic|spawn RANKS OUTPUT_FILE
# (jobctl, pubsub and spawn are the project's own: tests/pmix/jobctl.c, pubsub.c, spawn.c)
set -u
ex=$1 n=$2 out=$3
fail() { echo "check_example.sh: $ex -n $n: $*"; exit 1; }
# the job's namespace, as its rank 0 names it
ns=$(grep -m1 -oE "^Client ns [^ ]+ rank 0: Running" "$out" | awk '{ print $3 }')

# every line a rank writes on failure: PMIx's error strings and the examples' own words
bad=$(grep -iE "failed|wrong|error|timed out|not-supported|not supported|not found|unreach" "$out" |
  grep -vE "^spawn: PMIX_(HOST no-such-node: JOB FAILED TO LAUNCH|ADD_HOST: NOT-SUPPORTED)$|^fmx\[[0-9]+\] glue: error: [^ ]+:0: PMIx_Spawn: pmix.addhost: the job's nodes cannot grow$|^pmixrun: spawn: host \"no-such-node\" is not one of the job's nodes$|^jobctl: (checkpoint|allocation): NOT-SUPPORTED$|^Client ns [^ ]+ rank 0: exiting with error$|^pmixrun: rank 0 on node [^ ]+ (exited with status 1|closed its PMIx connection).*--enable-recovery" | head -1)
[ "$ex" = fault ] || [ -z "$(grep -E "exiting with error|enable-recovery" "$out")" ] || bad="an unexpected failure line"
[ -z "$bad" ] || fail "a rank reported a failure: $bad"
count() { grep -cE "$1" "$out"; }
for ((r = 0; r < n; r++)); do
  case $ex in
  hello)
    [ "$(count "^Client ns [^ ]+ rank $r pid [0-9]+: Running on host ")" -eq 1 ] ||
      fail "rank $r did not report running"
    [ "$(count "^Client ns [^ ]+ rank $r:PMIx_Finalize successfully completed$")" -eq 1 ] ||
      fail "rank $r did not finalize"
    ;;
  client)
    # one correct value of every rank's key, local or remote as the rank's place says
    got=$(count "^Client ns [^ ]+ rank $r: PMIx_Get [^ ]+-[0-9]+-(local|remote) returned correct$")
    [ "$got" -eq "$n" ] || fail "rank $r read $got of $n values correctly"
    for ((k = 0; k < n; k++)); do
      [ "$(count "^Client ns [^ ]+ rank $r: PMIx_Get [^ ]+-$k-(local|remote) returned correct$")" -eq 1 ] ||
        fail "rank $r did not read rank $k's value"
    done
    [ "$(count "^Client ns [^ ]+ rank $r:PMIx_Finalize successfully completed$")" -eq 1 ] ||
      fail "rank $r did not finalize"
    ;;
  dmodex)
    # success is silent but for rank 0's start and finalize; every failure path of every rank
    # prints a "failed" line (checked above), and the closing fence waits for all ranks
    [ "$r" -ne 0 ] || [ "$(count "^Client ns [^ ]+ rank 0: Running. World size $n$")" -eq 1 ] ||
      fail "rank 0 did not report running in a world of $n"
    ;;
  pub | pubi | jctrl)
    # pub, pubi: rank 0 publishes two keys and unpublishes them at the end, every other rank
    # looks one (pub) or both (pubi, waiting for them) up and checks value, type and owner;
    # jctrl: informational job control and a heartbeat monitor, then a fence
    [ "$(count "^Client ns [^ ]+ rank $r:PMIx_Finalize successfully completed$")" -eq 1 ] ||
      fail "rank $r did not finalize"
    ;;
  group | group_dmodex | group_lcl_cid)
    # group: ranks 0, 2, 3 construct a group with a context id and destruct it; group_dmodex:
    # all ranks, then each reads the others' data; group_lcl_cid: all, then each reads every
    # rank's local context id (1234 + rank). The same context id everywhere, checked below.
    if [ "$ex" != group ] || [ "$r" -ne 1 ]; then
      [ "$(count "^(Rank )?$r Group construct complete with status SUCCESS KEY pmix.grp.ctxid CID [0-9]+$")" -eq 1 ] ||
        fail "rank $r did not construct the group with a context id"
    fi
    [ "$ex" != group_lcl_cid ] ||
      [ "$(count "^[^ ]+:$r: PMIx_Get LOCAL CID for rank [0-9]+ SUCCESS value: ")" -eq "$n" ] ||
      fail "rank $r did not read every rank's local context id"
    # group prints its finalize; the others say COMPLETE after it (and a failure if it failed)
    [ "$(count "^(Client ns [^ ]+ rank $r:PMIx_Finalize successfully completed|[^ ]+:$r COMPLETE)$")" -ge 1 ] ||
      fail "rank $r did not finalize"
    ;;
  asyncgroup)
    # rank 0 invites 2 and 3 (they join), the group fences and is destructed; 1 stays out
    case $r in
    0) [ "$(count "^Client ns [^ ]+ rank 0: Group invite complete with status SUCCESS!$")" -eq 1 ] ||
      fail "rank 0's invitation did not complete" ;;
    2 | 3) [ "$(count "^[^ ]+:$r Group complete - executing fence across group$")" -eq 1 ] ||
      fail "rank $r did not join" ;;
    esac
    [ "$(count "^[^ ]+:$r COMPLETE$")" -eq 1 ] || fail "rank $r did not complete"
    ;;
  jobctl | pubsub)
    [ "$(count "^$ex: rank $r ok$")" -eq 1 ] || fail "rank $r did not say ok"
    ;;
  spawn)
    # rank 0 spawns with PMIX_HOST, PMIX_HOSTFILE, PMIX_MAPBY node, an unknown host, PMIX_ADD_HOST and checks
    # where the children went (tests/pmix/spawn.c); every rank finishes
    [ "$r" -ne 0 ] || [ "$(count "^spawn: rank 0: 5 of 5 placements as asked$")" -eq 1 ] ||
      fail "rank 0's spawns were not placed as asked"
    [ "$(count "^spawn: rank $r done$")" -eq 1 ] || fail "rank $r did not finish"
    ;;
  dynamic)
    # rank 0 spawns 2 of OpenPMIx's client (namespace <job>.1) and reads the new namespace's
    # size and a rank's local rank; every parent and child rank finalizes (children below)
    [ "$(count "^Client ns ${ns//./\\.} rank $r:PMIx_Finalize successfully completed$")" -eq 1 ] ||
      fail "rank $r did not finalize"
    ;;
  fault)
    # rank 0 exits 1 without finalizing; every other rank must hear PMIX_ERR_PROC_ABORTED
    # (its handler prints the line), then finalize; the job goes on (--enable-recovery)
    [ "$r" -eq 0 ] && continue
    [ "$(count "^Client ns [^ ]+ rank $r:PMIx_Finalize successfully completed$")" -eq 1 ] ||
      fail "rank $r did not finalize"
    ;;
  *) fail "unknown example" ;;
  esac
done
case $ex in group*)
  cids=$(grep -oE "Group construct complete with status SUCCESS KEY pmix.grp.ctxid CID [0-9]+$" "$out" |
    awk '{ print $NF }' | sort -u | wc -l)
  [ "$cids" -eq 1 ] || fail "the group's members were given $cids different context ids"
  ;;
esac
if [ "$ex" = dynamic ]; then
  child="${ns//./\\.}\\.1"
  [ "$(count "^Client ${ns//./\\.}:0 job $child size 2$")" -eq 1 ] || fail "rank 0 did not read the spawned job's size"
  [ "$(count "^Client ${ns//./\\.}:0 job $child local rank [01]$")" -eq 1 ] ||
    fail "rank 0 did not read a spawned rank's local rank"
  for c in 0 1; do
    for k in 0 1; do
      [ "$(count "^Client ns $child rank $c: PMIx_Get $child-$k-(local|remote) returned correct$")" -eq 1 ] ||
        fail "spawned rank $c did not read spawned rank $k's value"
    done
    [ "$(count "^Client ns $child rank $c:PMIx_Finalize successfully completed$")" -eq 1 ] ||
      fail "spawned rank $c did not finalize"
  done
fi
if [ "$ex" = jobctl ]; then
  [ "$(count "^jobctl: rank $((n - 1)) got SIGUSR1$")" -eq 1 ] || fail "rank $((n - 1)) got no signal"
  [ "$(count "^jobctl: checkpoint: NOT-SUPPORTED$")" -eq 1 ] || fail "checkpoint not refused"
  [ "$(count "^jobctl: allocation: NOT-SUPPORTED$")" -eq 1 ] || fail "allocation not refused"
fi
if [ "$ex" = fault ]; then
  [ "$(count "^DEBUGGER DAEMON NOTIFIED TERMINATED - AFFECTED [^ ]+$")" -eq $((n - 1)) ] ||
    fail "$(count "^DEBUGGER DAEMON NOTIFIED TERMINATED") of $((n - 1)) ranks heard that rank 0 aborted"
fi
if [ "$ex" = pub ] || [ "$ex" = pubi ]; then
  [ "$(count "^PUBLISH-LOOKUP SUCCEEDED$")" -eq $((n - 1)) ] ||
    fail "$(count "^PUBLISH-LOOKUP SUCCEEDED$") of $((n - 1)) ranks found the published data"
  [ "$(count "^UNPUBLISH SUCCEEDED$")" -eq 1 ] || fail "rank 0 did not unpublish"
fi
if [ "$ex" = dmodex ] && [ "$(count "^Client ns [^ ]+ rank 0:PMIx_Finalize successfully completed$")" -ne 1 ]; then
  fail "rank 0 did not finalize"
fi
exit 0
