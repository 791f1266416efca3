# Sourced by scripts/start and scripts/test: make ./.venv with a Python >= 3.10.
# On a fresh Debian, `python3 -m venv` needs the python3-venv package; as root we install it.

ensure_venv() {
    local py="${PYTHON:-python3}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "anynode needs Python 3.10 or newer as '$py' (set PYTHON=/path/to/python3.x)" >&2
        return 1
    fi
    if [ -x .venv/bin/python ] && .venv/bin/python -c 'import pip' 2>/dev/null; then
        return 0
    fi
    if ! "$py" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            local ver
            ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            echo "installing python3-venv (apt-get)..." >&2
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${ver}-venv" >/dev/null 2>&1 \
                || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$py" -m venv .venv
        else
            echo "cannot create a virtual environment: install python3-venv (apt-get install python3-venv)" >&2
            return 1
        fi
    fi
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
}

# pip_install ARGS...: install into ./.venv quietly; pip's output (build notes included) is shown only on failure.
pip_install() {
    local log
    log=$(mktemp)
    if ! .venv/bin/python -m pip install -q "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "pip install $* failed (output above)" >&2
        return 1
    fi
    rm -f "$log"
}
