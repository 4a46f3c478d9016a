#!/usr/bin/env bash
# Fuzzes a running sagaflow HTTP API from its OpenAPI document (/documentation/json) with
# schemathesis, installed from PyPI on first use into the git-ignored .sagaflow/fuzz-venv.
#
#   scripts/fuzz-http.sh <base-url> [schemathesis run options...]
#   scripts/fuzz-http.sh http://127.0.0.1:3000 --max-examples 200 --seed 7
#
# Exit codes: schemathesis's own (0 = no failure), 3 = python3 or schemathesis unavailable.
# The checks: no 5xx, status codes and bodies as documented, invalid input refused. Not
# checked: 405 for undeclared methods (Fastify answers 404 for any unknown route) and
# acceptance of every schema-valid body (JSON with a "__proto__" key is refused on purpose).
set -euo pipefail

version=4.32.5
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.sagaflow/fuzz-venv"
base="${1:?usage: scripts/fuzz-http.sh <base-url> [schemathesis options]}"
shift

# CPython 3.11 can raise "SystemError: AST constructor recursion depth mismatch" inside
# Hypothesis (CPython gh-106905): prefer 3.12+ where one is installed (pyenv included).
python=""
for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3; do
  if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "fuzz-http: python3 (3.9+) is not installed; install it to fuzz the HTTP API" >&2
  exit 3
fi
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  echo "fuzz-http: installing schemathesis $version into $venv with $("$python" --version 2>&1) (first run only)" >&2
  rm -rf "$venv"
  if ! { "$python" -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"; } >"$root/.sagaflow/fuzz-install.log" 2>&1; then
    echo "fuzz-http: could not install schemathesis from PyPI; see .sagaflow/fuzz-install.log" >&2
    exit 3
  fi
fi
phases=()
if ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
  echo "fuzz-http: Python below 3.12, skipping the coverage phase (CPython gh-106905)" >&2
  phases=(--phases examples,fuzzing,stateful)
fi

exec "$venv/bin/schemathesis" run "$base/documentation/json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples 40 \
  --no-color \
  --output-truncate true \
  "${phases[@]}" \
  "$@"
