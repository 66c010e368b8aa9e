#!/bin/sh
# The install steps of deploy/Dockerfile, in one place: the Dockerfile runs them, and so does
# tests/test_deploy.py on machines without a container engine.
#
#   sh deploy/install.sh build SRC DIST      the sdist and the wheel of the source tree SRC, into DIST
#                                            (needs build, setuptools>=68 and wheel beside $PYTHON,
#                                            and npm unless SRC's map page is built already)
#   sh deploy/install.sh install WHEEL VENV  the wheel and its dependencies into the venv VENV
#                                            (made when missing, reused when there: an upgrade)
#
# PYTHON names the interpreter (default python3). pip reads its PIP_* variables, e.g.
# PIP_NO_INDEX=1 PIP_FIND_LINKS=/srv/wheels for a server without Internet.
set -eu
PYTHON=${PYTHON:-python3}

usage() {
    echo "usage: install.sh build SRC DIST | install.sh install WHEEL VENV" >&2
    exit 2
}

[ $# -eq 3 ] || usage
case $1 in
build)
    if [ ! -f "$2/bot/webapp/static/vendor/build-stamp" ] && ! command -v npm >/dev/null 2>&1; then
        echo "install.sh: the map page is not built and there is no npm: install Node.js and npm (Debian: apt-get install npm)" >&2
        exit 2
    fi
    "$PYTHON" -m build --no-isolation --outdir "$3" "$2"
    ;;
install)
    [ -f "$2" ] || { echo "install.sh: no such wheel: $2" >&2; exit 2; }
    [ -x "$3/bin/python" ] || "$PYTHON" -m venv "$3"
    "$3/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --quiet "$2"
    "$3/bin/pttbridge" --version
    ;;
*)
    usage
    ;;
esac
