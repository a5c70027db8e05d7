#!/usr/bin/env bash
# Build and check this crate for Windows and macOS from a Debian machine, and run its tests for Windows under Wine.
#
#   tools/xtarget.sh check-windows [cargo args]  # cargo check --all-targets for x86_64-pc-windows-gnu
#   tools/xtarget.sh check-macos [cargo args]    # the same for x86_64-apple-darwin and aarch64-apple-darwin
#   tools/xtarget.sh test-windows [cargo args]   # cargo test for Windows, each test binary run under Wine
#   tools/xtarget.sh setup [--wine]              # only the setup (each command above does what it needs first)
#
# Run from the crate's root (the Makefile does: make check-windows, check-macos, test-windows).
# Builds go to target/cross, a directory of their own: another std sysroot building into the
# same directory would make each rebuild all the other built. Downloads and the Wine prefix
# go to $XTARGET_HOME (~/.cache/socket-tutorial-xtarget).
#
# Why it is built this way:
#  - rustup cannot download other targets' std here, so std is compiled from its source with cargo's -Zbuild-std.
#    That flag is unstable: RUSTC_BOOTSTRAP=1 allows it on this stable rustc, for these checks only; the crate
#    itself uses nothing unstable.
#  - The source must be std's for exactly this rustc. rustup's rust-src component is used when it is installed;
#    otherwise it comes from Debian's rust-src package of the same version (Debian keeps recent releases in
#    trixie-backports and sid), fetched from the machine's own Debian mirror with a private apt configuration
#    under $XTARGET_HOME: the system's apt sources and the toolchain are not touched. The source goes into a
#    private sysroot (the toolchain's own host libraries, linked, plus that source), and cargo runs rustc through
#    a two-line wrapper that adds --sysroot, since cargo looks for std's source in the sysroot rustc reports.
#  - If neither has std's source for this rustc, the command exits with status 3 after one line saying so;
#    .ci/run reports that as SKIPPED, since nothing here can be checked without it. Any other failure is real.
#  - mingw-w64 is the Windows linker; std for windows-gnu needs its dlltool even for `cargo check`.
#  - Wine 8 (Debian bookworm's) runs the Windows tests. It lacks bcryptprimitives.dll, which every Windows
#    binary of Rust >= 1.78 imports for random numbers, so a ten-line stand-in is built with mingw and put
#    into the Wine prefix.
#  - The runner is given with --config, not CARGO_TARGET_<TRIPLE>_RUNNER: assert_cmd reads that variable inside
#    the Windows test process and would try to start `wine` from there.
# Wine is not Windows: symbolic links, ICMP errors and killing processes differ. A test that fails only under
# Wine says so and skips itself there (tests/common: skip_under_wine); it is never weakened for real Windows.
set -euo pipefail

HOME_DIR=${XTARGET_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/socket-tutorial-xtarget}
export WINEPREFIX=${WINEPREFIX:-$HOME_DIR/wineprefix} WINEDEBUG=${WINEDEBUG:--all}
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
TDIR=${XTARGET_DIR:-target/cross}
WINDOWS=x86_64-pc-windows-gnu
MACOS=(x86_64-apple-darwin aarch64-apple-darwin)
NO_SOURCE=3 # exit status: std's source for this rustc cannot be found

say() { echo "xtarget: $*" >&2; }

# Debian packages not installed yet, of those named.
missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

install_packages() {
    local need
    need=$(missing_packages "$@")
    [ -z "$need" ] && return 0
    command -v apt-get >/dev/null || { say "needs the Debian packages $need (apt-get not found)"; return 1; }
    say "installing" $need
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
}

# The machine's own Debian mirror, from its apt sources (deb822 or one-line format).
debian_mirror() {
    local uri
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
        | grep -E '/debian/?$' | head -n 1 || true)
    [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
    [ -n "$uri" ] && echo "${uri%/}"
}

RUST_VERSION=$(rustc -vV | sed -n 's/^release: //p')
HOST=$(rustc -vV | sed -n 's/^host: //p')
SYSROOT=$(rustc --print sysroot)
PRIVATE_SYSROOT=$HOME_DIR/sysroot-$RUST_VERSION

# A sysroot whose lib/rustlib/src/rust/library holds std's source for this rustc, fetched if need be.
std_source() {
    local src=lib/rustlib/src/rust/library
    if [ -f "$SYSROOT/$src/Cargo.lock" ] && { ! command -v rustup >/dev/null \
        || rustup component list --installed 2>/dev/null | grep -q '^rust-src'; }; then
        echo "$SYSROOT" # rustup's rust-src component, or a toolchain that came with its source
        return
    fi
    if [ ! -f "$PRIVATE_SYSROOT/.complete" ]; then
        rm -rf "$PRIVATE_SYSROOT"
        mkdir -p "$PRIVATE_SYSROOT/lib/rustlib/src/rust"
        ln -s "$SYSROOT/lib/rustlib/$HOST" "$PRIVATE_SYSROOT/lib/rustlib/$HOST"
        fetch_debian_source "$PRIVATE_SYSROOT/$src" >&2 || return
    fi
    echo "$PRIVATE_SYSROOT"
}

fetch_debian_source() {
    local dest=$1 a=$HOME_DIR/apt mirror debver
    command -v apt-get >/dev/null || { say "no rust-src component and no apt-get to fetch std's source"; return $NO_SOURCE; }
    mirror=$(debian_mirror) || true
    [ -n "$mirror" ] || { say "no rust-src component, and no Debian mirror in the apt sources to fetch it from"; return $NO_SOURCE; }
    mkdir -p "$a"/{lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d}
    : >"$a/status"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
        "$mirror" trixie-backports "$mirror" sid >"$a/etc/sources.list"
    cat >"$a/apt.conf" <<CONF
Dir::Etc::SourceList "$a/etc/sources.list";
Dir::Etc::SourceParts "$a/etc/sources.list.d";
Dir::Etc::Preferences "$a/etc/preferences";
Dir::Etc::PreferencesParts "$a/etc/preferences.d";
Dir::State "$a/";
Dir::State::Lists "$a/lists";
Dir::State::status "$a/status";
Dir::Cache "$a/cache";
APT::Sandbox::User "root";
CONF
    export APT_CONFIG=$a/apt.conf
    say "looking for std's source for rustc $RUST_VERSION in Debian's rust-src packages"
    apt-get update -qq
    debver=$(apt-cache madison rust-src | awk -v v="$RUST_VERSION+dfsg" 'index($3, v) == 1 {print $3; exit}')
    if [ -z "$debver" ]; then
        say "Debian has no rust-src for rustc $RUST_VERSION (it has: $(apt-cache madison rust-src \
            | awk '{print $3}' | sed 's/+dfsg.*//' | sort -uV | paste -sd ' ' -))"
        return $NO_SOURCE
    fi
    rm -rf "$a/x" "$a"/rust-src_*.deb
    (cd "$a" && apt-get download -qq "rust-src=$debver")
    mkdir "$a/x"
    dpkg-deb -x "$a"/rust-src_*.deb "$a/x"
    mv "$a/x/usr/src/rustc-$RUST_VERSION/library" "$dest"
    rm -rf "$a/x" "$a"/rust-src_*.deb
    echo "$debver" >"$PRIVATE_SYSROOT/.complete"
    say "std's source for rustc $RUST_VERSION: Debian's rust-src $debver"
}

# Wine, with the stand-in for the DLL it lacks.
setup_wine() {
    install_packages wine64 wine
    local stub=$HOME_DIR/bcryptprimitives
    if [ ! -f "$stub/bcryptprimitives.dll" ]; then
        mkdir -p "$stub"
        cat >"$stub/bcryptprimitives.c" <<'C'
/* Stand-in for bcryptprimitives.dll, which Wine 8 lacks; Rust's std asks it for random bytes (ProcessPrng). */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
C
        printf 'LIBRARY bcryptprimitives\nEXPORTS\n    ProcessPrng\n' >"$stub/bcryptprimitives.def"
        x86_64-w64-mingw32-gcc -O2 -shared -static-libgcc -o "$stub/bcryptprimitives.dll" \
            "$stub/bcryptprimitives.c" "$stub/bcryptprimitives.def" -ladvapi32
    fi
    if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
        say "creating the Wine prefix $WINEPREFIX"
        wineboot -i >/dev/null 2>&1 || true # 64-bit only: its complaints about wine32 are expected
        wineserver -w || true
    fi
    cp "$stub/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
}

# Everything a command needs; points cargo at a rustc that uses the sysroot holding std's source.
prepare() {
    local what=$1 sysroot
    mkdir -p "$HOME_DIR"
    sysroot=$(std_source) || exit $?
    case "$what" in
        windows) install_packages gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 ;;
        wine) install_packages gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 && setup_wine ;;
    esac
    if [ "$sysroot" != "$SYSROOT" ]; then
        local wrapper=$HOME_DIR/rustc-$RUST_VERSION
        printf '#!/bin/sh\nexec "%s" --sysroot "%s" "$@"\n' "$(rustup which rustc 2>/dev/null || command -v rustc)" \
            "$sysroot" >"$wrapper"
        chmod +x "$wrapper"
        export RUSTC=$wrapper
    fi
    export RUSTC_BOOTSTRAP=1
}

# cargo SUBCOMMAND for one target, std built from source.
xcargo() {
    local sub=$1 target=$2
    shift 2
    cargo "$sub" -Zbuild-std=std,panic_abort --target "$target" --target-dir "$TDIR" "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup)
        if [ "${1:-}" = --wine ]; then prepare wine; else prepare windows; fi
        say "ready" ;;
    check-windows)
        prepare windows
        xcargo check "$WINDOWS" --all-targets "$@" ;;
    check-macos)
        prepare macos
        # One cargo for both targets: their two std builds share the cores.
        cargo check -Zbuild-std=std,panic_abort "${MACOS[@]/#/--target=}" --target-dir "$TDIR" --all-targets "$@" ;;
    test-windows)
        prepare wine
        xcargo test "$WINDOWS" --config "target.$WINDOWS.runner=[\"wine\"]" "$@" ;;
    *)
        sed -n '4,7p' "$0" | sed 's/^# *//'
        exit 2 ;;
esac
