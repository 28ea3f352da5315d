# shellcheck shell=bash
# Helpers shared by scripts/test.sh and scripts/demo.sh; source it, don't run it.
# Everything targets Debian 12's PostgreSQL 15 and must run as root: packages
# are installed with apt, and clusters run as the "postgres" OS user.

PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
# Pin pg_config to 15, whatever /usr/bin/pg_config would pick.
PG_CONFIG=$PGBIN/pg_config
PACKAGES=(postgresql-15 postgresql-server-dev-15 libipc-run-perl libcurl4-openssl-dev make gcc
          python3-psycopg prometheus prometheus-postgres-exporter)

# The checkout this script lives in, resolved to a physical path.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# Same locale everywhere: initdb and test output must not depend on the caller's.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE
export DEBIAN_FRONTEND=noninteractive

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0${*:+ $*})"
}

# Run a command as the postgres OS user (initdb and postgres refuse root),
# from / since the caller's directory may be closed to postgres.
as_postgres() {
    (cd / && runuser -u postgres -- "$@")
}

# Install whatever of PACKAGES is missing; touch apt not at all if nothing is.
ensure_packages() {
    local pkg missing=()
    for pkg in "${PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    apt-get -qq update </dev/null
    apt-get -qq -y -o Dpkg::Use-Pty=0 install "${missing[@]}" </dev/null >/dev/null
    [ -x "$PG_CONFIG" ] || die "$PG_CONFIG missing after installing packages"
}

# Node.js and npm, for the Node examples and the push tests' fake endpoints:
# Debian's, unless a node with npm is already installed (NodeSource's nodejs
# package carries its own npm and conflicts with Debian's).
ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    say "installing Debian packages: nodejs npm"
    apt-get -qq update </dev/null
    apt-get -qq -y -o Dpkg::Use-Pty=0 install nodejs npm </dev/null >/dev/null
}

# Serialise the scripts that install pgmsg into the system-wide PostgreSQL
# and start servers from it (the benchmark and the demo; the tests use a
# private copy): a server started by one would load the library another
# just replaced.  Held until the calling script exits.
hold_install_lock() {
    exec 9>/var/lock/pgmsg-install.lock
    if ! flock -n 9; then
        say "waiting for another pgmsg benchmark or demo run to finish"
        flock 9
    fi
}

# Build pgmsg in source tree $1 and install it into PostgreSQL 15.  Further
# arguments are make variables for the build (the tests pass PGMSG_CHECKS=1).
build_and_install() {
    local src=$1 jobs
    shift
    jobs=$(nproc 2>/dev/null || echo 2)
    say "building pgmsg in $src${*:+ with $*}"
    make -C "$src" -s -j"$jobs" PG_CONFIG="$PG_CONFIG" WERROR=1 "$@"
    say "installing pgmsg into $("$PG_CONFIG" --pkglibdir)"
    make -C "$src" -s PG_CONFIG="$PG_CONFIG" install "$@"
}

# make_private_postgres DIR: a private copy of PostgreSQL 15's installation
# under DIR, laid out as Debian lays out the real one, and point PG_CONFIG and
# PGBIN at it.  PostgreSQL finds its library and share directories relative
# to its own executables, so a server started from DIR loads the pgmsg built
# for this run and never the system-wide one: test runs from several
# checkouts can run at once, and a demo or benchmark server is left alone.
# The executables are copied (a symbolic link would lead back to the system
# tree); everything else is linked file by file.
make_private_postgres() {
    local root=$1 real
    real=$(dirname "$PGBIN")
    rm -rf "$root"
    install -d "$root$real" "$root/usr/share/postgresql" "$root/usr/include"
    cp -a "$PGBIN" "$root$real/bin"
    cp -as "$real/lib" "$root$real/lib"
    cp -as "/usr/share/postgresql/$PG_MAJOR" "$root/usr/share/postgresql/$PG_MAJOR"
    ln -s /usr/include/postgresql "$root/usr/include/postgresql"
    rm -f "$root$real/lib"/pgmsg* "$root/usr/share/postgresql/$PG_MAJOR/extension"/pgmsg*
    PGBIN=$root$PGBIN
    PG_CONFIG=$PGBIN/pg_config
}

# A short stable tag for this checkout, for per-checkout paths outside it.
checkout_tag() {
    printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12
}

# Stop (immediately) every postgres whose data directory lies under $1, found
# through its postmaster.pid; pg_ctl checks the pid file, so stale ones are harmless.
stop_clusters_under() {
    local pidfile
    [ -d "$1" ] || return 0
    while IFS= read -r pidfile; do
        as_postgres "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop \
            >/dev/null 2>&1 || true
    done < <(find "$1" -name postmaster.pid -type f 2>/dev/null)
}
