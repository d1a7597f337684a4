#!/usr/bin/env bash
# Re-record every release of docs/compat/ with the command that made it (after cases were added
# or a declaration changed; tests/test_compat.py names the stale ones). Runs one at a time.
#   tools/compat-again.sh            # every record
#   tools/compat-again.sh 2.2.2 ...  # only these releases
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
releases=("$@")
if [ ${#releases[@]} -eq 0 ]; then
  for f in docs/compat/torch-*.json; do r=${f#docs/compat/torch-}; releases+=("${r%.json}"); done
fi
for release in "${releases[@]}"; do
  # The venv the record was made in (COMPAT_VENV=... of its recorded command, if it had one)
  # and the note on how that venv was made, carried over to the new record.
  mapfile -t found < <(python3 - "docs/compat/torch-$release.json" 2>/dev/null <<'PY' || true
import json, shlex, sys
made = json.load(open(sys.argv[1]))["recorded"]
words = shlex.split(made["command"])
venv = next((w.split("=", 1)[1] for w in words if w.startswith("COMPAT_VENV=")), "")
prefix = f"existing venv {venv}, "
print(venv)
print(made["venv"][len(prefix):] if venv and made["venv"].startswith(prefix) else "")
PY
  )
  venv=${found[0]:-}
  if [ -n "$venv" ] && [ -x "$venv/bin/python" ]; then
    COMPAT_VENV=$venv COMPAT_VENV_NOTE=${found[1]:-} tools/compat.sh "$release"
  else
    tools/compat.sh "$release"
  fi
done
