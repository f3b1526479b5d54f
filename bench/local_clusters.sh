# local_clusters.sh - sourced by the bench scripts: start `floret local`
# clusters in the background for a benchmark and stop them all again, on
# every exit path of the script that sources it (which calls
# local_clusters_stop from its EXIT trap).
# Depends on bash, coreutils (timeout, tail), sed.

local_cluster_pids=()

# local_cluster_start VAR FLORET NODES OUT: a `FLORET local -n NODES`
# writing to OUT; VAR gets its broker URL. Exits the script when no URL
# shows within 15 s.
local_cluster_start() {
  local var=$1 floret=$2 n=$3 out=$4 i url=""
  : > "$out"
  "$floret" local -n "$n" > "$out" 2>&1 &
  local_cluster_pids+=("$!")
  for ((i = 0; i < 300; i++)); do
    url=$(sed -n 's/^FLORET_BROKER=//p' "$out")
    [[ -n "$url" ]] && break
    sleep 0.05
  done
  [[ -n "$url" ]] || { echo "$floret local -n $n did not start:"; cat "$out"; exit 1; }
  printf -v "$var" '%s' "$url"
}

# Ctrl-C to each cluster (it tears down its broker and nodes), then wait up
# to 20 s for each before killing it.
local_clusters_stop() {
  local p
  for p in "${local_cluster_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${local_cluster_pids[@]}"; do
    timeout 20 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
}
