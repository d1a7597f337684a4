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
  # The venv the record was made in: COMPAT_VENV=... of its recorded command, if it had one.
  venv=$(python3 - "docs/compat/torch-$release.json" <<'PY' 2>/dev/null || true
import json, shlex, sys
words = shlex.split(json.load(open(sys.argv[1]))["recorded"]["command"])
print(next((w.split("=", 1)[1] for w in words if w.startswith("COMPAT_VENV=")), ""))
PY
)
  if [ -n "$venv" ] && [ -x "$venv/bin/python" ]; then
    COMPAT_VENV=$venv tools/compat.sh "$release"
  else
    tools/compat.sh "$release"
  fi
done
