#!/usr/bin/env bash
# compare-seaweedfs.sh: run SeaweedFS beside cairn on this machine and
# print both sets of numbers beside this machine's limits.
#
# For people, not for CI: it takes a few minutes (plus about ten to
# build SeaweedFS the first time), writes several GiB under a temporary
# directory, and its numbers mean something only on a quiet machine.
#
# What it does, every process on 127.0.0.1, in a new temporary directory:
#   1. builds cairn (go build ./cmd/cairn) unless CAIRN is set, and
#      SeaweedFS's weed from its Go module unless WEED is set (the build
#      is cached, see WEED_CACHE);
#   2. measures the machine's limits with `cairn bench limits` (the method
#      of docs/PERFORMANCE.md), in the same run;
#   3. SeaweedFS: a master (-defaultReplication=002), three volume servers
#      (same data center and rack, so 002 places three copies) and a filer,
#      each its own process; `weed benchmark -replication 002 -c CLIENTS
#      -n FILES -size SMALL_SIZE` (writes, then random reads), without and
#      with -fsync; then a BIG_MIB file PUT into the filer and GET back to
#      /dev/null with curl, without and with ?fsync=true;
#   4. cairn: a NameNode and three DataNodes, each a process of the built
#      binary; `cairn bench small --namenode ADDR --clients CLIENTS --files
#      FILES --sizes SMALL_SIZE`, then the same file with `cairn fs put`
#      and `cairn fs cat > /dev/null`, each timed as a process;
#   5. prints one table (and, with JSON_OUT, a JSON document) of every
#      figure with the machine limit it is compared with, as a ratio.
# With RUNS > 1 the order of the two systems alternates from run to run.
#
# Usage (from anywhere in the repository):
#   scripts/compare-seaweedfs.sh
#   RUNS=3 FILES=4000 JSON_OUT=/tmp/cmp.json scripts/compare-seaweedfs.sh
#   WEED=/path/to/weed CAIRN=/path/to/cairn scripts/compare-seaweedfs.sh
#
# Environment (defaults in brackets):
#   FILES        small files written then read by each system [4000]
#   SMALL_SIZE   small file size in bytes [1024] (weed benchmark adds 0-63
#                bytes of padding to each file)
#   CLIENTS      concurrent clients of the small-file benchmarks [16]
#   BIG_MIB      size of the large file, MiB [1024]
#   RUNS         rounds of both systems [1]
#   WEED_FSYNC   SeaweedFS write variants: both, 0 (its default: no fsync)
#                or 1 (fsync) [both]
#   LIMIT_SIZE   bytes of cairn bench limits' disk and TCP tests [1GiB]
#   WORK_BASE    where the temporary directory goes (must be a disk, not
#                tmpfs) [$TMPDIR, else /var/tmp]
#   WEED         a weed binary to use instead of building one
#   WEED_VERSION SeaweedFS module version to build
#                [v0.0.0-20261109003541-7506e5f91cd6]
#   WEED_CACHE   where the built weed is kept [~/.cache/cairn-compare]
#   CAIRN        a cairn binary to use instead of building one
#   JSON_OUT     also write the results as JSON to this file
#   VERIFY       1: check the large file read back by sha256 [0]
#   KEEP         1: keep the temporary directory (data and logs) [0]
#
# Requires: go (unless both binaries are given), curl, jq, awk.
# It stops only the processes it started (by their PIDs) when it exits,
# is interrupted or fails; after a failure it keeps the logs.
set -euo pipefail

FILES=${FILES:-4000}
SMALL_SIZE=${SMALL_SIZE:-1024}
CLIENTS=${CLIENTS:-16}
BIG_MIB=${BIG_MIB:-1024}
RUNS=${RUNS:-1}
WEED_FSYNC=${WEED_FSYNC:-both}
LIMIT_SIZE=${LIMIT_SIZE:-1GiB}
WORK_BASE=${WORK_BASE:-${TMPDIR:-/var/tmp}}
WEED_VERSION=${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
WEED_CACHE=${WEED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-compare}
JSON_OUT=${JSON_OUT:-}
VERIFY=${VERIFY:-0}
KEEP=${KEEP:-0}
WEED_MODULE=github.com/seaweedfs/seaweedfs

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in FILES SMALL_SIZE CLIENTS BIG_MIB RUNS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
case $WEED_FSYNC in both) WEED_FSYNC_MODES="0 1" ;; 0 | 1) WEED_FSYNC_MODES=$WEED_FSYNC ;; *) die "WEED_FSYNC must be both, 0 or 1" ;; esac
for tool in curl jq awk; do
	command -v "$tool" >/dev/null || die "$tool is needed"
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$WORK_BASE"
WORK=$(mktemp -d "$WORK_BASE/cairn-vs-seaweedfs.XXXXXX")
if [[ $(stat -f -c %T "$WORK") == tmpfs ]]; then
	log "warning: $WORK is on tmpfs: the disk figures will be memory's (set WORK_BASE)"
fi
RESULTS=$WORK/results.tsv # run, order, load, system, metric, value, unit, limit name, limit value
: >"$RESULTS"

# --- processes: every PID this script starts is in PIDS -----------------
PIDS=()
stop_pids() { # stop_pids PID...: SIGTERM, up to 15 s, then SIGKILL
	local p waited=0 alive
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	while :; do
		alive=0
		for p in "$@"; do
			if kill -0 "$p" 2>/dev/null; then alive=1; fi
		done
		((alive)) || break
		if ((waited >= 150)); then
			for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
			break
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
	local keep=() q
	for q in "${PIDS[@]}"; do
		[[ " $* " == *" $q "* ]] || keep+=("$q")
	done
	PIDS=("${keep[@]}")
}
stop_all() { # last started first
	local i rev=()
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do rev+=("${PIDS[i]}"); done
	((${#rev[@]} == 0)) || stop_pids "${rev[@]}"
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if [[ $KEEP == 1 ]]; then
		log "kept $WORK"
	elif ((rc != 0)); then
		# keep the logs and outputs, not the GiBs of data
		rm -rf "${WORK:?}/big" "${WORK:?}/bin" "${WORK:?}/weedsrc" "$WORK"/seaweedfs-*/{v1,v2,v3,filer,master,got} "$WORK"/cairn-*/{nn,dn1,dn2,dn3,got}
		log "kept the logs in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() { # start LOG CMD...: run CMD in the background, logging to LOG
	local logf=$1
	shift
	"$@" >"$logf" 2>&1 &
	PIDS+=("$!")
}

# port VAR: set VAR to a TCP port free on 127.0.0.1 and not handed out
# before, below the kernel's ephemeral range (a port that outgoing
# connections may take at any moment, which then fails a server's bind).
USED_PORTS=" "
PORT_MAX=$(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768) - 1))
((PORT_MAX > 12000)) || PORT_MAX=32767
port() {
	local p
	while :; do
		p=$((10000 + RANDOM % (PORT_MAX - 10000)))
		[[ $USED_PORTS == *" $p "* ]] && continue
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		USED_PORTS+="$p "
		printf -v "$1" %s "$p"
		return
	done
}

# wait_for DESC SECONDS CMD...: retry CMD every 0.2 s until it succeeds;
# fail if it does not within SECONDS or a server started here exits.
wait_for() {
	local desc=$1 secs=$2 end p
	shift 2
	end=$((SECONDS + secs))
	while ((SECONDS < end)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		for p in "${PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null || die "$desc: process $p exited (see the logs)"
		done
		sleep 0.2
	done
	die "$desc: not ready after ${secs}s"
}

now_ns() { date +%s%N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# mibs BYTES NS: MiB/s
mibs() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f", b / 1048576 / (ns / 1e9) }'; }

# record SYSTEM METRIC VALUE UNIT LIMITNAME LIMITVALUE
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$RUN" "$ORDER" "$LOAD" "$@" >>"$RESULTS"
}

# --- binaries -----------------------------------------------------------
mkdir -p "$WORK/bin"
if [[ -n ${CAIRN:-} ]]; then
	[[ -x $CAIRN ]] || die "CAIRN=$CAIRN is not executable"
else
	log "building cairn"
	(cd "$REPO" && go build -o "$WORK/bin/cairn" ./cmd/cairn)
	CAIRN=$WORK/bin/cairn
fi
CAIRN_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$REPO" diff --quiet HEAD 2>/dev/null; then CAIRN_COMMIT+="+dirty"; fi

if [[ -n ${WEED:-} ]]; then
	[[ -x $WEED ]] || die "WEED=$WEED is not executable"
elif [[ -x $WEED_CACHE/weed-$WEED_VERSION ]]; then
	WEED=$WEED_CACHE/weed-$WEED_VERSION
else
	# `go install module/weed@version` refuses this module: its go.mod has
	# a replace directive. So fetch the module from the Go module proxy
	# and build it as the main module, in a copy (the module cache is
	# read-only). About ten minutes on two cores.
	log "building SeaweedFS weed $WEED_VERSION (about ten minutes the first time; kept in $WEED_CACHE)"
	src=$(go mod download -json "$WEED_MODULE@$WEED_VERSION" | jq -r .Dir)
	[[ -d $src ]] || die "go mod download $WEED_MODULE@$WEED_VERSION failed"
	cp -r "$src" "$WORK/weedsrc"
	chmod -R u+w "$WORK/weedsrc"
	mkdir -p "$WEED_CACHE"
	(cd "$WORK/weedsrc" && go build -o "$WEED_CACHE/weed-$WEED_VERSION.tmp" ./weed)
	mv "$WEED_CACHE/weed-$WEED_VERSION.tmp" "$WEED_CACHE/weed-$WEED_VERSION"
	rm -rf "$WORK/weedsrc"
	WEED=$WEED_CACHE/weed-$WEED_VERSION
fi
WEED_VER=$("$WEED" version 2>/dev/null | awk '/^version/ { $1 = ""; sub(/^ /, ""); print; exit }')
CAIRN_VER=$("$CAIRN" version | awk '{ print $3; exit }')

BIG=$WORK/big
BIG_BYTES=$((BIG_MIB * 1048576))
log "writing a ${BIG_MIB} MiB file of random bytes"
head -c "$BIG_BYTES" /dev/urandom >"$BIG"
BIG_SUM=
if [[ $VERIFY == 1 ]]; then BIG_SUM=$(sha256sum "$BIG" | cut -d' ' -f1); fi

check_get() { # check_get FILE-OR-EMPTY WHAT: with VERIFY=1, compare sha256
	[[ $VERIFY == 1 ]] || return 0
	local got
	got=$(sha256sum "$1" | cut -d' ' -f1)
	[[ $got == "$BIG_SUM" ]] || die "$2: the file read back differs (sha256 $got)"
	rm -f "$1"
}

# --- limits -------------------------------------------------------------
run_limits() {
	local d=$WORK/limits
	mkdir -p "$d"
	log "run $RUN: cairn bench limits ($LIMIT_SIZE)"
	"$CAIRN" bench limits --json --dir "$d" --size "$LIMIT_SIZE" >"$d/limits-$RUN.json" 2>"$d/limits-$RUN.log"
	local j=$d/limits-$RUN.json
	L_DISK=$(jq '.limits.disk_write_mib_s' "$j")
	L_DISK3=$(jq '.limits.disk_write_parallel_mib_s' "$j")
	L_RF3=$(jq '.limits.write_limit_mib_s' "$j")
	L_TCP=$(jq '.limits.loopback_tcp_mib_s' "$j")
	L_REPL=$(jq '.limits.replicas_per_s' "$j")
	L_RTT=$(jq '.limits.tcp_round_trips_per_s' "$j")
	L_SMALLW=$(awk -v r="$L_REPL" 'BEGIN { printf "%.0f", r / 3 }')
	L_SMALLR=$(awk -v r="$L_RTT" 'BEGIN { printf "%.0f", r / 2 }')
	record limits "disk write + fsync, 1 writer" "$L_DISK" MiB/s "" ""
	record limits "disk write + fsync, 3 writers at once" "$L_DISK3" MiB/s "" ""
	record limits "rf3 write limit (best disk write / 3)" "$L_RF3" MiB/s "" ""
	record limits "one loopback TCP stream" "$L_TCP" MiB/s "" ""
	record limits "new replicas (2 files, fsync'd, renamed), 16 writers" "$L_REPL" /s "" ""
	record limits "loopback TCP round trips, 1 KiB answer, 16 clients" "$L_RTT" /s "" ""
}

# --- SeaweedFS ------------------------------------------------------------
run_seaweedfs() {
	local d=$WORK/seaweedfs-$RUN
	mkdir -p "$d/master" "$d/filer" "$d/v1" "$d/v2" "$d/v3"
	local mport mgrpc fport fgrpc i vport vgrpc pids=()
	port mport
	port mgrpc
	port fport
	port fgrpc
	# SeaweedFS names a server HOST:PORT.GRPCPORT when its gRPC port is not
	# PORT+10000 (its default); masterweb is the master's HTTP address.
	local master=127.0.0.1:$mport.$mgrpc masterweb=127.0.0.1:$mport filer=http://127.0.0.1:$fport
	# weed's own log files go to -logdir (else to /tmp), its output to NAME.log
	local weed=("$WEED" -logdir="$d")
	log "run $RUN: starting SeaweedFS (master $masterweb, 3 volume servers, filer $filer)"
	start "$d/master.log" "${weed[@]}" master -ip=127.0.0.1 -port="$mport" -port.grpc="$mgrpc" \
		-mdir="$d/master" -peers=none -defaultReplication=002 -telemetry=false
	pids+=("$!")
	wait_for "SeaweedFS master" 60 curl -sf "http://$masterweb/cluster/status"
	for i in 1 2 3; do
		port vport
		port vgrpc
		start "$d/volume$i.log" "${weed[@]}" volume -ip=127.0.0.1 -port="$vport" -port.grpc="$vgrpc" \
			-dir="$d/v$i" -max=20 -master="$master" -dataCenter=dc1 -rack=rack1 -preStopSeconds=0
		pids+=("$!")
	done
	wait_for "SeaweedFS volume servers" 60 sh -c \
		"curl -sf 'http://$masterweb/dir/status' | jq -e '[.Topology.DataCenters[].Racks[].DataNodes[]] | length == 3'"
	start "$d/filer.log" "${weed[@]}" filer -ip=127.0.0.1 -port="$fport" -port.grpc="$fgrpc" \
		-master="$master" -defaultStoreDir="$d/filer"
	pids+=("$!")
	wait_for "SeaweedFS filer" 60 curl -sf "$filer/"

	# Volumes are made on the first write that needs one, which takes
	# seconds and would count in the first benchmark; make them now, as
	# weed benchmark's own help suggests, as cairn's DataNodes are ready
	# before its benchmark starts.
	curl -sf "http://$masterweb/vol/grow?collection=benchmark&replication=002&count=4" >/dev/null
	curl -sf "http://$masterweb/vol/grow?replication=002&count=4" >/dev/null

	local fs what out w r t0 t1 got
	for fs in $WEED_FSYNC_MODES; do
		what="no fsync"
		[[ $fs == 1 ]] && what="fsync"
		out=$d/benchmark-fsync$fs.txt
		log "run $RUN: weed benchmark -replication 002 -c $CLIENTS -n $FILES -size $SMALL_SIZE -fsync=$([[ $fs == 1 ]] && echo true || echo false)"
		"${weed[@]}" benchmark -master="$master" -replication=002 -c="$CLIENTS" -n="$FILES" -size="$SMALL_SIZE" \
			-fsync="$([[ $fs == 1 ]] && echo true || echo false)" -list="$d/benchmark-list-$fs.txt" >"$out" 2>&1 ||
			die "weed benchmark failed: see $out"
		w=$(awk '/Writing Benchmark/ { s = 1 } s && /Requests per second:/ { print $4; exit }' "$out")
		r=$(awk '/Reading Benchmark/ { s = 1 } s && /Requests per second:/ { print $4; exit }' "$out")
		grep -q 'Failed requests: *0$' "$out" || log "warning: weed benchmark had failed requests: see $out"
		[[ -n $w && -n $r ]] || die "could not read weed benchmark's output: $out"
		record seaweedfs "write ${SMALL_SIZE} B files, 002, $CLIENTS clients ($what)" "$w" files/s "new replicas/s / 3" "$L_SMALLW"
		record seaweedfs "read ${SMALL_SIZE} B files, $CLIENTS clients (after the $what writes)" "$r" files/s "loopback round trips/s / 2" "$L_SMALLR"
	done

	for fs in $WEED_FSYNC_MODES; do
		local q="" name=big$fs
		what="no fsync"
		if [[ $fs == 1 ]]; then q="?fsync=true" what="fsync"; fi
		log "run $RUN: curl PUT ${BIG_MIB} MiB into the filer ($what)"
		t0=$(now_ns)
		got=$(curl -sS -f -H 'Expect:' -T "$BIG" -o "$d/put$fs.out" -w '%{size_upload}' "$filer/bench/$name$q")
		t1=$(now_ns)
		[[ $got == "$BIG_BYTES" ]] || die "filer PUT sent $got bytes"
		record seaweedfs "put ${BIG_MIB} MiB through the filer, curl PUT, 002 ($what)" "$(mibs "$BIG_BYTES" $((t1 - t0)))" MiB/s "rf3 write limit" "$L_RF3"
		log "run $RUN: curl GET ${BIG_MIB} MiB from the filer"
		local dest=/dev/null
		[[ $VERIFY == 1 ]] && dest=$d/got
		t0=$(now_ns)
		got=$(curl -sS -f -o "$dest" -w '%{size_download}' "$filer/bench/$name")
		t1=$(now_ns)
		[[ $got == "$BIG_BYTES" ]] || die "filer GET read $got bytes"
		check_get "$dest" "SeaweedFS GET"
		record seaweedfs "get ${BIG_MIB} MiB through the filer, curl GET > /dev/null (the $what file)" "$(mibs "$BIG_BYTES" $((t1 - t0)))" MiB/s "one loopback TCP stream" "$L_TCP"
	done

	log "run $RUN: stopping SeaweedFS"
	# the filer first, then the volume servers, then the master
	stop_pids "${pids[3]}"
	stop_pids "${pids[1]}" "${pids[2]}" "${pids[0]}"
	[[ $KEEP == 1 ]] || rm -rf "$d/v1" "$d/v2" "$d/v3" "$d/filer" "$d/master"
}

# --- cairn ----------------------------------------------------------------
run_cairn() {
	local d=$WORK/cairn-$RUN
	mkdir -p "$d"
	local nn nport nhttp daddr dhttp i pids=()
	port nport
	port nhttp
	nn=127.0.0.1:$nport
	log "run $RUN: starting cairn (NameNode $nn, 3 DataNodes)"
	start "$d/nn.log" "$CAIRN" namenode --dir "$d/nn" --rpc-addr "$nn" --http-addr "127.0.0.1:$nhttp" --log-level warn
	pids+=("$!")
	for i in 1 2 3; do
		port daddr
		port dhttp
		start "$d/dn$i.log" "$CAIRN" datanode --dir "$d/dn$i" --namenode "$nn" \
			--addr "127.0.0.1:$daddr" --http-addr "127.0.0.1:$dhttp" --log-level warn
		pids+=("$!")
	done
	wait_for "cairn DataNodes" 60 sh -c \
		"'$CAIRN' admin report --json --namenode '$nn' | jq -e '.liveDatanodes == 3'"
	"$CAIRN" admin safemode wait --namenode "$nn" >/dev/null

	log "run $RUN: cairn bench small --clients $CLIENTS --files $FILES --sizes $SMALL_SIZE"
	local j=$d/small.json w r
	"$CAIRN" bench small --namenode "$nn" --clients "$CLIENTS" --files "$FILES" --sizes "$SMALL_SIZE" \
		--json >"$j" 2>"$d/small.log" || die "cairn bench small failed: see $d/small.log"
	w=$(jq '.small.sizes[0].write.files_per_second' "$j")
	r=$(jq '.small.sizes[0].read.files_per_second' "$j")
	record cairn "write ${SMALL_SIZE} B files, rf3, $CLIENTS clients (fsync'd)" "$w" files/s "new replicas/s / 3" "$L_SMALLW"
	record cairn "read ${SMALL_SIZE} B files, $CLIENTS clients" "$r" files/s "loopback round trips/s / 2" "$L_SMALLR"

	local t0 t1 dest=/dev/null
	log "run $RUN: cairn fs put ${BIG_MIB} MiB"
	t0=$(now_ns)
	"$CAIRN" fs put --namenode "$nn" "$BIG" /bench-big 2>"$d/put.log" || die "cairn fs put failed: see $d/put.log"
	t1=$(now_ns)
	record cairn "put ${BIG_MIB} MiB, cairn fs put, rf3 (fsync'd)" "$(mibs "$BIG_BYTES" $((t1 - t0)))" MiB/s "rf3 write limit" "$L_RF3"
	log "run $RUN: cairn fs cat ${BIG_MIB} MiB > /dev/null"
	[[ $VERIFY == 1 ]] && dest=$d/got
	t0=$(now_ns)
	"$CAIRN" fs cat --namenode "$nn" /bench-big >"$dest" 2>"$d/cat.log" || die "cairn fs cat failed: see $d/cat.log"
	t1=$(now_ns)
	check_get "$dest" "cairn fs cat"
	record cairn "get ${BIG_MIB} MiB, cairn fs cat > /dev/null" "$(mibs "$BIG_BYTES" $((t1 - t0)))" MiB/s "one loopback TCP stream" "$L_TCP"

	log "run $RUN: stopping cairn"
	stop_pids "${pids[3]}" "${pids[2]}" "${pids[1]}"
	stop_pids "${pids[0]}"
	[[ $KEEP == 1 ]] || rm -rf "$d/nn" "$d/dn1" "$d/dn2" "$d/dn3"
}

# --- the runs -------------------------------------------------------------
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_START=$(loadavg)
for ((RUN = 1; RUN <= RUNS; RUN++)); do
	LOAD=$(loadavg)
	if ((RUN % 2)); then ORDER="seaweedfs,cairn"; else ORDER="cairn,seaweedfs"; fi
	log "run $RUN of $RUNS: load average $LOAD, order $ORDER"
	run_limits
	if ((RUN % 2)); then
		run_seaweedfs
		run_cairn
	else
		run_cairn
		run_seaweedfs
	fi
done
LOAD_END=$(loadavg)

# --- the report -----------------------------------------------------------
{
	echo
	echo "SeaweedFS $WEED_VER ($WEED_MODULE@$WEED_VERSION) beside cairn $CAIRN_VER (commit $CAIRN_COMMIT)"
	echo "started $START on $(hostname), $(nproc) CPUs; load average $LOAD_START at the start, $LOAD_END at the end"
	echo "$RUNS run(s); $FILES files of $SMALL_SIZE B with $CLIENTS clients; a $BIG_MIB MiB file; data under $WORK_BASE"
	echo
	awk -F'\t' '
		BEGIN { printf "%-3s %-16s %-9s %-76s %10s %-8s %8s %6s\n", "run", "load average", "system", "metric", "value", "unit", "limit", "ratio" }
		{
			ratio = ($9 != "" && $9 > 0) ? sprintf("%.2f", $6 / $9) : ""
			lim = ($9 != "") ? sprintf("%.0f", $9) : ""
			printf "%-3s %-16s %-9s %-76s %10.1f %-8s %8s %6s\n", $1, $3, $4, $5, $6, $7, lim, ratio
		}' "$RESULTS"
	if ((RUNS > 1)); then
		echo
		echo "Over the $RUNS runs (min-max):"
		awk -F'\t' '
			{
				k = $4 "\t" $5
				if (!(k in n)) { keys[++nk] = k; unit[k] = $7; lname[k] = $8 }
				n[k]++
				if (n[k] == 1 || $6 < vmin[k]) vmin[k] = $6
				if (n[k] == 1 || $6 > vmax[k]) vmax[k] = $6
				if ($9 != "" && $9 > 0) {
					r = $6 / $9
					if (!(k in rmin) || r < rmin[k]) rmin[k] = r
					if (!(k in rmax) || r > rmax[k]) rmax[k] = r
				}
			}
			END {
				printf "%-9s %-76s %-20s %-8s %-12s %s\n", "system", "metric", "value", "unit", "ratio", "limit"
				for (i = 1; i <= nk; i++) {
					k = keys[i]
					split(k, f, "\t")
					rr = (k in rmin) ? sprintf("%.2f-%.2f", rmin[k], rmax[k]) : ""
					printf "%-9s %-76s %-20s %-8s %-12s %s\n", f[1], f[2], sprintf("%.1f-%.1f", vmin[k], vmax[k]), unit[k], rr, lname[k]
				}
			}' "$RESULTS"
	fi
	echo
	echo "Limits come from cairn bench limits in the same run (docs/PERFORMANCE.md, Method):"
	echo "  small writes: new replicas/s / 3 (each file is three replicas); small reads: loopback"
	echo "  round trips/s / 2; puts: the rf3 write limit; gets: one loopback TCP stream."
	echo "Notes:"
	echo "  - weed benchmark does not fsync by default (nor does a filer PUT without ?fsync=true):"
	echo "    its 'no fsync' writes are acknowledged from the page cache. The 'fsync' rows use"
	echo "    weed benchmark -fsync and PUT ?fsync=true. cairn fsyncs every block on all three"
	echo "    DataNodes before a file is closed, always."
	echo "  - weed benchmark pads each file with 0-63 random bytes and reads in random order;"
	echo "    a SeaweedFS read is one HTTP request to a volume server (the client caches volume"
	echo "    locations), a cairn read two round trips (the NameNode, then a DataNode)."
	echo "  - the filer splits files into 4 MiB chunks (-maxMB 4, its default); cairn writes"
	echo "    128 MiB blocks. Both large-file timings are whole processes (curl, cairn)."
}

if [[ -n $JSON_OUT ]]; then
	jq -R -s \
		--arg start "$START" --arg weed "$WEED_VER" --arg weed_module "$WEED_MODULE@$WEED_VERSION" \
		--arg cairn "$CAIRN_VER" --arg commit "$CAIRN_COMMIT" --arg load_start "$LOAD_START" \
		--arg load_end "$LOAD_END" --argjson files "$FILES" --argjson small_size "$SMALL_SIZE" \
		--argjson clients "$CLIENTS" --argjson big_mib "$BIG_MIB" --argjson runs "$RUNS" \
		--arg host "$(hostname)" --argjson cpus "$(nproc)" '
		{
			start: $start, host: $host, cpus: $cpus, loadavg_start: $load_start, loadavg_end: $load_end,
			seaweedfs: {version: $weed, module: $weed_module}, cairn: {version: $cairn, commit: $commit},
			files: $files, small_size: $small_size, clients: $clients, big_mib: $big_mib, runs: $runs,
			notes: ["weed benchmark does not fsync by default; the fsync rows use -fsync / ?fsync=true",
				"cairn fsyncs every block on every replica before close"],
			results: [split("\n")[] | select(length > 0) | split("\t") | {
				run: (.[0] | tonumber), order: .[1], loadavg: .[2], system: .[3], metric: .[4],
				value: (.[5] | tonumber), unit: .[6]}
				+ (if .[7] != "" then {limit: .[7], limit_value: (.[8] | tonumber),
					ratio: ((.[5] | tonumber) / (.[8] | tonumber) * 1000 | round / 1000)} else {} end)]
		}' "$RESULTS" >"$JSON_OUT"
	log "wrote $JSON_OUT"
fi
