#!/usr/bin/env bash
# roomtruth set-up and entry point.  Installs everything it needs (Debian packages as root,
# a virtual environment in .venv with the project and its test tools), then runs:
#   bash scripts/run.sh demo [DIR]   the main job: the whole pipeline on the simulated room
#   bash scripts/run.sh test [ARGS]  the test suite (what .ci/run calls)
#   bash scripts/run.sh bench        the benchmarks against the peer tools
#   bash scripts/run.sh setup        only install
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
what="${1:-demo}"; shift || true

base_pkgs=(libportaudio2 libsndfile1 jackd2 jconvolver)
test_pkgs=(chromium chromium-driver)
bench_pkgs=(drc ffmpeg)

need_pkgs() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "roomtruth: please install as root: apt-get install ${missing[*]}" >&2; exit 2
    fi
    echo "roomtruth: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

py="${PYTHON:-python3}"
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv 2>/dev/null || { need_pkgs python3-venv; "$py" -m venv .venv; }
  fi
  local stamp=.venv/.roomtruth-installed
  local want; want="$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "roomtruth: installing Python packages into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[test]"
    # compile the monitor engine's numba kernels once here, not in the first engine a user builds
    .venv/bin/python -c "from monitor import kernels; kernels.warm_up()" || true
    .venv/bin/python -c "from monitor.engine import Engine; Engine(fs=48000, n_channels=2, block=128)" || true
    echo "$want" > "$stamp"
  fi
}

case "$what" in
  setup) need_pkgs "${base_pkgs[@]}" "${test_pkgs[@]}"; ensure_venv ;;
  demo)
    need_pkgs "${base_pkgs[@]}"; ensure_venv
    exec .venv/bin/roomtruth demo -o "${1:-demo-out}" ;;
  test)
    need_pkgs "${base_pkgs[@]}" "${test_pkgs[@]}"; ensure_venv
    # two or more cores: pytest-xdist workers (one per core, at most 4; ROOMTRUTH_TEST_WORKERS
    # overrides, 0 = none); the JACK rig tests all go to one worker (tests/conftest.py)
    workers="${ROOMTRUTH_TEST_WORKERS:-$(n=$(nproc 2>/dev/null || echo 1); echo $(( n < 4 ? n : 4 )))}"
    par=(); [ "$workers" -ge 2 ] && par=(-n "$workers" --dist loadfile)
    set +e
    .venv/bin/python -m pytest -q "${par[@]}" "$@"
    rc=$?
    [ $rc -eq 5 ] && { echo "no tests ran" >&2; exit 1; }
    exit $rc ;;
  bench)
    need_pkgs "${base_pkgs[@]}" "${bench_pkgs[@]}"; ensure_venv
    for b in benchmarks/bench_*.py; do echo "== $b"; .venv/bin/python "$b"; done ;;
  *) echo "usage: bash scripts/run.sh demo|test|bench|setup" >&2; exit 2 ;;
esac
