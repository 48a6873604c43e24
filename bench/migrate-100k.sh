#!/usr/bin/env bash
# Kept so that the README's "Performance" section still works: bench/run.sh does this job
# now (and compares with the reference pipeline and pgloader). See bench/run.sh --help.
# Usage: bench/migrate-100k.sh [CALLS]
set -euo pipefail
exec "$(dirname "$0")/run.sh" --sizes "${1:-100000}" --rounds 1 --skip-pgloader
