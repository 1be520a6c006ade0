#!/usr/bin/env bash
# One entry point for a fresh machine:
#   bash scripts/dev.sh demo   set up, then start the sandbox cluster and JupyterLab with the demo notebook
#   bash scripts/dev.sh test   set up, then ruff, mypy, the docs' strict build and the whole test suite (what .ci/run runs),
#                              then the compatibility run (K8STTY_SKIP_COMPAT=1 skips it)
#   bash scripts/dev.sh compat set up, then only the compatibility run (tests/compat/run.py)
#   bash scripts/dev.sh setup  only set up (system packages, .venv, editable install with the JS bundle)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${K8STTY_VENV:-$ROOT/.venv}
PY=$VENV/bin/python

log() { printf '\n==> %s\n' "$*" >&2; }

need_apt=()
command -v tmux >/dev/null || need_apt+=(tmux)
# screen: the persistent shells' second session manager (tests/test_persist_screen.py).
command -v screen >/dev/null || need_apt+=(screen)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)

setup() {
    if [ ${#need_apt[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing Debian packages: ${need_apt[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            apt-get install -y -q --no-install-recommends "${need_apt[@]}"
        else
            log "missing system packages (install them yourself): ${need_apt[*]}"
        fi
    fi
    command -v kubectl >/dev/null || log "kubectl not found: the kubectl conformance tests need it"
    if [ ! -x "$PY" ]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    "$PY" -m pip install -q --upgrade pip
    log "installing jupyter-k8stty (editable, builds the JS bundle) with test extras"
    "$PY" -m pip install -q -e ".[test]"
}

case "${1:-}" in
    setup)
        setup ;;
    demo)
        setup
        shift
        exec "$VENV/bin/jupyter-k8stty" demo "$@" ;;
    test)
        setup
        shift
        log "ruff"
        "$VENV/bin/ruff" check jupyter_k8stty tests benchmarks
        log "mypy"
        "$VENV/bin/mypy" jupyter_k8stty
        log "mkdocs build --strict (the documentation site, into a temporary folder)"
        site=$(mktemp -d)
        # NO_MKDOCS_2_WARNING: mkdocs-material's banner about its successor, not our problem.
        NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$site"
        rm -rf "$site"
        log "pytest"
        status=0
        "$VENV/bin/pytest" "$@" || status=$?
        if [ "${K8STTY_SKIP_COMPAT:-}" != 1 ]; then
            log "compatibility run (tests/compat: Notebook 7, JupyterLab 4.2 and 3.6, marimo, oldest dependencies)"
            "$PY" -m tests.compat.run || status=$?
        fi
        exit "$status" ;;
    compat)
        setup
        shift
        exec "$PY" -m tests.compat.run "$@" ;;
    *)
        echo "usage: bash scripts/dev.sh {demo|test|compat|setup}" >&2
        exit 2 ;;
esac
