#!/usr/bin/env bash
# Build, run and test the keyserver.
#
#   ./build.sh          install missing Debian packages, build
#                       build/ngx_hkp_module.so and build/reconsvc
#   ./build.sh run      build if needed, then run nginx with the module (and
#                       reconsvc once it has a daemon) in the foreground
#   ./build.sh test     build (normal and ASan+UBSan), install what the tests
#                       need, run the whole suite (prove t/), then every fuzz
#                       harness for HKP_FUZZ_TEST_SECONDS (default 25) each
#   ./build.sh deb      build the Debian packages libnginx-mod-http-hkp and
#                       hkp-reconsvc (debian/, dpkg-buildpackage) into
#                       build/, and check them with lintian
#   ./build.sh fuzz [SECONDS]
#                       build the libFuzzer harnesses (fuzz/, clang) and run
#                       each for SECONDS (default 60); crash inputs go to
#                       build/fuzz/artifacts/<target>/
#
# Environment: HKP_LISTEN (default 127.0.0.1:11371), RECON_LISTEN
# (default 127.0.0.1:11370), HKP_VAR (default ./var), RECON_PROFILES
# (reconsvc run --profiles, default sks,hockeypuck).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"
B="$ROOT/build"
NGX_SRC=/usr/share/nginx/src
JOBS=$(nproc 2>/dev/null || echo 2)
# The nginx worker user of `./build.sh run` when started as root.
RUN_USER=www-data

BUILD_PKGS=(nginx nginx-dev liblmdb-dev lmdb-utils libgmp-dev libpcre2-dev libssl-dev
            zlib1g-dev gcc make pkg-config dpkg-dev binutils)
TEST_PKGS=(curl gnupg dirmngr sq debian-keyring perl sks python3-cryptography procps
           iproute2 logrotate chromium fonts-dejavu-core)
BENCH_PKGS=(wrk sks)
FUZZ_PKGS=(clang libclang-rt-14-dev)
DEB_PKGS=(debhelper dpkg-dev lintian)
# More sanitizer-pass tests: the hash profiles in the module (hashquery's
# per-profile form, a profile added while nginx runs).
SAN_PROFILE_TESTS="t/41-hashquery-profile.t t/45-profile-added.t"
# Fuzz targets (fuzz/fuzz_<name>.c) with the largest input each is given.
FUZZ_TARGETS="keys:8192 armor:16384 form:16384 hashquery:8192 recon_msg:4096 json:16384 ed25519:1024"
# Test files that also run in the sanitizer pass of ./build.sh test.
SAN_TESTS="t/20-import.t t/30-lookup.t t/48-web.t t/38-serve-policy.t t/39-takedown.t t/35-health.t t/32-malformed.t t/34-index-primary.t t/36-reply-cap.t t/37-metrics.t t/40-add.t t/44-body-limits.t t/45-oversize.t t/46-map.t t/41-hashquery.t t/47-hkpv2.t t/49-vks.t t/29-v1-unchanged.t t/53-stats-peers.t t/54-stats-histogram.t t/55-recon-bootstrap.t t/66-selfsig-fill.t"

log() { printf '%s\n' "build.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Installs the named Debian packages that are not installed yet.
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    fi
    log "installing ${missing[*]}"
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

# nginx's module signature (binary compatibility string) of a file.
ngx_signature() {
    strings "$1" | grep -E '^[0-9]+,[0-9]+,[0-9]+,[01]+$' | head -n1
}

# Configures nginx's build for our module, only when the module's file list
# or config changed (configure dominates the build time).
configure_module() {
    local bdir=${1:-$B/nginx} extra_cc=${2:-} extra_ld=${3:-}
    local stamp="$bdir/.configured" want
    want=$( { cat "$ROOT/config"; echo "$extra_cc"; ls "$ROOT"/ngx_hkp_module/*.[ch] "$ROOT"/shared/*.[ch] "$ROOT"/html/* 2>/dev/null; } | md5sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ -f "$bdir/Makefile" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    log "configuring nginx module build in $bdir (Debian's flags)"
    mkdir -p "$bdir"
    (
        cd "$NGX_SRC"
        # shellcheck disable=SC1091
        . ./conf_flags
        ./configure \
            --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS) -std=gnu11 $extra_cc" \
            --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC $extra_ld" \
            "${NGX_CONF_FLAGS[@]}" \
            --add-dynamic-module="$ROOT" \
            --builddir="$bdir"
    ) >"$bdir.configure.log" 2>&1 || { tail -n 30 "$bdir.configure.log" >&2; die "nginx configure failed (see $bdir.configure.log)"; }
    echo "$want" >"$stamp"
}

build_module() {
    configure_module
    make -s -C "$NGX_SRC" -f "$B/nginx/Makefile" -j"$JOBS" modules >"$B/nginx-make.log" 2>&1 \
        || { cat "$B/nginx-make.log" >&2; die "module build failed"; }
    if ! cmp -s "$B/nginx/ngx_hkp_module.so" "$B/ngx_hkp_module.so" 2>/dev/null; then
        # A new file, renamed over the old: a running nginx keeps its copy.
        cp "$B/nginx/ngx_hkp_module.so" "$B/ngx_hkp_module.so.tmp"
        mv -f "$B/ngx_hkp_module.so.tmp" "$B/ngx_hkp_module.so"
    fi
    local want got
    want=$(ngx_signature /usr/sbin/nginx)
    got=$(ngx_signature "$B/ngx_hkp_module.so")
    [ "$want" = "$got" ] || die "module signature $got does not match /usr/sbin/nginx ($want)"
}

# The module again with AddressSanitizer + UndefinedBehaviorSanitizer, for
# the sanitizer pass of the tests (loaded with the ASan runtime preloaded).
SAN_CC="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
build_module_asan() {
    configure_module "$B/nginx-asan" "$SAN_CC" "-fsanitize=address,undefined"
    make -s -C "$NGX_SRC" -f "$B/nginx-asan/Makefile" -j"$JOBS" modules >"$B/nginx-asan-make.log" 2>&1 \
        || { cat "$B/nginx-asan-make.log" >&2; die "ASan module build failed"; }
    mkdir -p "$B/asan"
    cp "$B/nginx-asan/ngx_hkp_module.so" "$B/asan/ngx_hkp_module.so.tmp"
    mv -f "$B/asan/ngx_hkp_module.so.tmp" "$B/asan/ngx_hkp_module.so"
}

build_c() {
    make -s -j"$JOBS" all
}

build_all() {
    ensure_pkgs "${BUILD_PKGS[@]}"
    mkdir -p "$B"
    build_c
    build_module
}

# Writes a complete nginx.conf for a local run into $1 (the prefix dir).
write_run_conf() {
    local prefix=$1 listen=$2 db=$3 membership=$4 recon_port=$5 user_line=""
    # As root, the workers (which parse uploads) run as nginx's own
    # unprivileged user (cmd_run gives it the database), when it can reach
    # the state directory.
    if [ "$(id -u)" -eq 0 ]; then
        if [ "$RUN_AS" = root ]; then user_line="user root;"; else user_line="user $RUN_AS $RUN_AS;"; fi
    fi
    mkdir -p "$prefix/logs" "$prefix/tmp"
    sed -e "s|@MODULE@|$B/ngx_hkp_module.so|g" \
        -e "s|@PREFIX@|$prefix|g" \
        -e "s|@LISTEN@|$listen|g" \
        -e "s|@DB@|$db|g" \
        -e "s|@MEMBERSHIP@|$membership|g" \
        -e "s|@RECON_PORT@|$recon_port|g" \
        -e "s|@USER@|$user_line|g" \
        "$ROOT/conf/nginx-run.conf.in" >"$prefix/nginx.conf"
}

cmd_run() {
    build_all
    ensure_pkgs debian-keyring      # the keys the README suggests loading first
    local var=${HKP_VAR:-$ROOT/var} listen=${HKP_LISTEN:-127.0.0.1:11371}
    local recon=${RECON_LISTEN:-127.0.0.1:11370}
    mkdir -p "$var"
    var=$(cd "$var" && pwd)
    # Create the database if there is none yet, so nginx can open it.
    "$B/reconsvc" import --db "$var/db" >/dev/null
    local n
    n=$(mdb_stat -s keys "$var/db" 2>/dev/null | awk '/Entries:/ {print $2}')
    if [ "${n:-0}" = 0 ]; then
        log "the database $var/db is empty. Load keys with, for example:"
        log "  $B/reconsvc import --db $var/db /usr/share/keyrings/debian-keyring.gpg"
        log "(keydump files from a peer load the same way: reconsvc import --db $var/db dump/*.pgp)"
    else
        log "database $var/db holds $n keys"
    fi
    RUN_AS=$RUN_USER
    if [ "$(id -u)" -eq 0 ] && ! runuser -u "$RUN_USER" -- test -x "$var"; then
        RUN_AS=root
        log "WARNING: nginx's workers run as root: $RUN_USER cannot reach $var (a parent"
        log "  directory is not searchable, e.g. /root). For unprivileged workers, use a"
        log "  state directory it can reach: HKP_VAR=/var/lib/hkp-run ./build.sh run"
    fi
    write_run_conf "$var/nginx" "$listen" "$var/db" "$var/membership" "${recon##*:}"
    if [ "$RUN_AS" != root ] && [ "$(id -u)" -eq 0 ]; then
        # LMDB readers write lock.mdb and /pks/add writes data.mdb; nginx
        # buffers request bodies in tmp/. reconsvc, as root, still writes.
        chown -R "$RUN_USER:$RUN_USER" "$var/db" "$var/nginx/tmp"
    fi
    if [ ! -f "$var/membership" ]; then
        printf '%s\n' \
            '# Recon peers, SKS format: one "host port" per line; "#" starts a comment.' \
            '# Example (an SKS peer on its default recon port):' \
            '# keyserver.example.net 11370 # Jane Doe <jane@example.net> 0x0123456789ABCDEF' \
            >"$var/membership"
    fi
    log "HKP on http://$listen/  (try: curl 'http://$listen/pks/lookup?op=stats')"
    log "recon on $recon, peers from $var/membership; Ctrl-C stops."
    /usr/sbin/nginx -t -q -p "$var/nginx" -c "$var/nginx/nginx.conf" -e "$var/nginx/logs/error.log"
    local ngx_pid recon_pid
    /usr/sbin/nginx -p "$var/nginx" -c "$var/nginx/nginx.conf" -e "$var/nginx/logs/error.log" </dev/null &
    ngx_pid=$!
    "$B/reconsvc" run --db "$var/db" --listen "$recon" --http-port "${listen##*:}" \
        --membership "$var/membership" --gossip "${RECON_GOSSIP:-60}" \
        --profiles "${RECON_PROFILES:-sks,hockeypuck}" </dev/null &
    recon_pid=$!
    trap 'kill -QUIT $ngx_pid 2>/dev/null; kill -TERM $recon_pid 2>/dev/null; wait; exit 0' INT TERM
    # Whichever stops first failed: stop the other one too.
    wait -n $ngx_pid $recon_pid || true
    kill -QUIT $ngx_pid 2>/dev/null || true
    kill -TERM $recon_pid 2>/dev/null || true
    wait
    die "a server stopped unexpectedly (see $var/nginx/logs/error.log and the output above)"
}

cmd_test() {
    ensure_pkgs "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
    build_all
    log "building the ASan+UBSan variant"
    make -s -j"$JOBS" SAN=1 all
    build_module_asan
    export HKP_ROOT="$ROOT"
    log "running the test suite"
    local rc=0
    prove -r -j"${TEST_JOBS:-2}" t/ || rc=1
    # Sanitizer pass: the module (ASan+UBSan, runtime preloaded into nginx
    # only) and reconsvc (ASan+UBSan+LeakSanitizer) under the tests that
    # drive them hardest. The unit tests already ran under ASan above.
    log "running the sanitizer pass (ASan+UBSan)"
    HKP_MODULE_SO="$B/asan/ngx_hkp_module.so" \
    HKP_SAN_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
    HKP_RECONSVC="$B/asan/reconsvc" \
        prove -j"${TEST_JOBS:-2}" $SAN_TESTS $SAN_PROFILE_TESTS || rc=1
    cmd_fuzz "${HKP_FUZZ_TEST_SECONDS:-25}" || rc=1
    return $rc
}

# Builds the libFuzzer harnesses and runs each for $1 seconds (default 60)
# on its growing corpus in build/fuzz/corpus/<target> plus the seeds in
# fuzz/corpus/<target>. Prints executions and coverage per target; fails
# when a harness crashes, leaks, times out or violates an invariant.
cmd_fuzz() {
    local secs=${1:-60} rc=0 t name maxlen log done_line
    [[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "fuzz: SECONDS must be a positive integer"
    ensure_pkgs "${BUILD_PKGS[@]}" "${FUZZ_PKGS[@]}"
    make -s -j"$JOBS" fuzz
    for t in $FUZZ_TARGETS; do
        name=${t%%:*}
        maxlen=${t#*:}
        log="$B/fuzz/$name.log"
        mkdir -p "$B/fuzz/corpus/$name" "$B/fuzz/artifacts/$name"
        log "fuzzing $name for ${secs}s (-max_len=$maxlen)"
        if ! "$B/fuzz/bin/$name" -max_len="$maxlen" -max_total_time="$secs" \
                -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
                -artifact_prefix="$B/fuzz/artifacts/$name/" \
                "$B/fuzz/corpus/$name" "$ROOT/fuzz/corpus/$name" >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            log "FAIL: fuzz target $name (input in $B/fuzz/artifacts/$name/, log $log)"
            rc=1
            continue
        fi
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1)
        log "fuzz $name: ${done_line:-no DONE line (see $log)}"
    done
    return $rc
}

# Builds the .debs from a copy of the tracked (and new, not ignored) files,
# so a developer's build/ and var/ never reach the package, and leaves them
# with their .changes and .buildinfo in build/; then runs lintian on them
# (its overrides, each with its reason, are in debian/*.lintian-overrides).
cmd_deb() {
    ensure_pkgs "${BUILD_PKGS[@]}" "${DEB_PKGS[@]}"
    local ver src
    ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
    src="$B/deb/hkp-keyserver-$ver"
    rm -rf "$B/deb"
    mkdir -p "$src"
    git -C "$ROOT" ls-files -z -co --exclude-standard \
        | (cd "$ROOT" && xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$src"
    log "building the Debian packages in $src"
    (cd "$src" && dpkg-buildpackage -b -us -uc) >"$B/deb/build.log" 2>&1 \
        || { tail -n 40 "$B/deb/build.log" >&2; die "dpkg-buildpackage failed (see $B/deb/build.log)"; }
    mv "$B"/deb/*.deb "$B"/deb/*.changes "$B"/deb/*.buildinfo "$B/"
    log "built: $(cd "$B" && ls ./*_"$ver"_*.deb | tr '\n' ' ')"
    log "lintian:"
    lintian --info "$B/hkp-keyserver_${ver}_$(dpkg --print-architecture).changes" >&2 \
        || die "lintian found errors"
}

case "${1:-build}" in
    build) build_all ;;
    run)   cmd_run ;;
    test)  cmd_test ;;
    fuzz)  cmd_fuzz "${2:-60}" ;;
    deb)   cmd_deb ;;
    clean) rm -rf "$B" ;;
    *)     echo "usage: $0 [build|run|test|deb|fuzz [SECONDS]|clean]" >&2; exit 2 ;;
esac
