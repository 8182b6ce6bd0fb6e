#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, found by running each candidate.
# pyenv shims for versions that aren't activated fail when run, so they're skipped.
set -u
check() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}
candidates=(python3.13 python3.12 python3)
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for d in "$root"/versions/3.13* "$root"/versions/3.12* /usr/local/bin /usr/bin; do
  [ -x "$d/bin/python3" ] && candidates+=("$d/bin/python3")
  [ -x "$d/python3" ] && candidates+=("$d/python3")
done
for c in "${candidates[@]}"; do
  path=$(command -v "$c" 2>/dev/null) || continue
  if check "$path"; then
    # Resolve a shim to the real interpreter so the venv doesn't depend on pyenv.
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "No Python >= 3.12 found. Install one (e.g. 'apt-get install python3.13 python3.13-venv' or 'pyenv install 3.13') and retry." >&2
exit 1
