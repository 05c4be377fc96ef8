#!/bin/sh
# Test stand-in for "a host Python with torch" (this machine has none): runs python3 in the evaluator image with
# the temp directory and the checkout mounted at the same paths, the invoking user's uid (as a host process has), an init process as PID 1 (so the supervisor runs as an
# ordinary process, the way it does on a GPU machine without Docker) and no network. Used by gpu-check.test.ts
# to drive runtime/sandbox-host.ts; never by the product.
set -e
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
exec docker run --rm -i --init --network none --user "$(id -u):$(id -g)" --label conclave.sandbox=1 --label "conclave.sandbox.session=${CONCLAVE_TEST_SESSION:-host-runner}" \
  -v "${TMPDIR:-/tmp}:${TMPDIR:-/tmp}" -v "$REPO:$REPO:ro" -w "$PWD" -e CONCLAVE_JOB \
  --entrypoint python3 "${CONCLAVE_EVALUATOR_IMAGE:-conclave-evaluator:cpu}" "$@"
