#!/usr/bin/env bash
# Record the spec on one torch release: docs/compat/torch-RELEASE.json.
#
#   tools/compat.sh RELEASE                    # makes .compat/venv-RELEASE if it is not there
#   COMPAT_VENV=DIR tools/compat.sh RELEASE    # or uses DIR, an existing venv with that torch
#   (COMPAT_VENV_NOTE="how DIR was made" goes into the record with it)
#
# A venv made here: `python -m venv`, `pip install torch==RELEASE` (with 'numpy<2' for 2.2.x,
# whose wheels were built against NumPy 1), then the project. Either way the project is
# installed from this working tree, non-editable (pip install --force-reinstall), and run from
# a temporary directory, so the record is of this tree's code as a user would install it.
# The record is `rnn-autograd check --json` plus how it was made (date, command, venv, the
# commit of the tree, the pytest suite's result). Written by this script only, never by hand.
# Re-recording an existing venv takes a minute or two (install + every case, twice).
set -euo pipefail

release=${1:?usage: tools/compat.sh RELEASE (e.g. 2.13.0); COMPAT_VENV=DIR to reuse a venv}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COMPAT_VENV:-$root/.compat/venv-$release}
python=${PYTHON:-python3}
out="$root/docs/compat/torch-$release.json"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ -x "$venv/bin/python" ]; then
  # How it was made: the note this script left when it made it, else COMPAT_VENV_NOTE, if given.
  made="existing venv $venv"
  if [ -f "$venv/.compat-made" ]; then made="$made, $(cat "$venv/.compat-made")"; fi
  if [ -n "${COMPAT_VENV_NOTE:-}" ]; then made="$made, $COMPAT_VENV_NOTE"; fi
else
  extra=()
  case "$release" in 2.0.* | 2.1.* | 2.2.*) extra=("numpy<2") ;; esac
  echo "compat: creating $venv with torch==$release ${extra[*]}" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "torch==$release" "${extra[@]}"
  made="created by tools/compat.sh on $(date -u '+%Y-%m-%d %H:%M UTC'): $python -m venv; pip install torch==$release ${extra[*]}"
  echo "$made" >"$venv/.compat-made"
fi

have=$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$have" != "$release" ]; then
  echo "compat: $venv has torch '${have:-none}', not $release; give a venv with torch==$release as COMPAT_VENV, or none" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A clean copy of what a release holds (an in-tree build/ could carry stale modules along).
mkdir "$work/src"
cp -r "$root/rnn_autograd" "$root/pyproject.toml" "$root/README.md" "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
echo "compat: installing the project from $root into $venv" >&2
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$work/src"
"$venv/bin/python" -m pip install --quiet "$work/src" pytest  # dependencies still missing, if any
cd "$work"  # not the checkout: the installed copy is what runs (src/ is not importable from here)
status=0
"$venv/bin/python" -m rnn_autograd check --all --json >"$work/check.json" || status=$?
if [ "$status" -gt 1 ]; then
  echo "compat: rnn-autograd check failed to run (exit $status)" >&2
  exit "$status"
fi
suite=$("$venv/bin/python" -m pytest --pyargs rnn_autograd -q -p no:cacheprovider 2>&1 | tail -n 1 || true)

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- rnn_autograd 2>/dev/null)" ]; then
  commit="$commit+uncommitted changes in rnn_autograd/"
fi
command="tools/compat.sh $release"
[ -n "${COMPAT_VENV:-}" ] && command="COMPAT_VENV=$COMPAT_VENV $command"

"$venv/bin/python" - "$work/check.json" "$out" "$command" "$made" "$commit" "$suite" <<'PY'
import datetime, json, sys
from importlib import metadata
import rnn_autograd

src, out, command, made, commit, suite = sys.argv[1:]
doc = json.load(open(src, encoding="utf-8"))
doc["recorded"] = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "command": command,
    "venv": made,
    "installed_copy": rnn_autograd.__file__.rsplit("/", 1)[0],
    "packages": {n: metadata.version(n) for n in ("torch", "numpy", "rich", "packaging")},
    "tree": commit,
    "pytest --pyargs rnn_autograd": suite.split(" in ")[0].strip("= "),
}
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
s = doc["summary"]
print(f"compat: torch {doc['torch']}: {s['match']} of {s['cases']} match -> {out}")
PY
exit "$status"
