#!/usr/bin/env python3
"""A stand-in `helm` for cluster commands: records its arguments (and values on
stdin) to $FAKE_HELM_LOG as JSON lines, answers from $FAKE_HELM_HISTORY (and `get values`
from $FAKE_HELM_VALUES), fails
the command $FAKE_HELM_FAIL names (and uninstall, as for a release helm never
recorded, when $FAKE_HELM_NO_RELEASE is set), and passes `template` and `lint`
(which need no cluster) to the real helm."""

import json
import os
import sys

args = sys.argv[1:]
if args and args[0] in ("template", "lint"):
    os.execv(os.environ["REAL_HELM"], [os.environ["REAL_HELM"], *args])
stdin = sys.stdin.read() if "-" in args else ""
with open(os.environ["FAKE_HELM_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "values": json.loads(stdin) if stdin else None}) + "\n")
command = args[0] if args else ""
if command == "version":
    print("v4.1.4+fake")
elif command == "history":
    history = os.environ.get("FAKE_HELM_HISTORY", "[]")
    if history == "missing":
        print("Error: release: not found", file=sys.stderr)
        sys.exit(1)
    print(history)
elif command == "get":  # get values RELEASE: $FAKE_HELM_VALUES holds a JSON object of release name to values
    found = json.loads(os.environ.get("FAKE_HELM_VALUES", "{}")).get(args[2])
    if found is None:
        print("Error: release: not found", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(found))
elif command == "status" and os.environ.get("FAKE_HELM_HISTORY") == "missing":
    print("Error: release: not found", file=sys.stderr)  # as the real helm answers for a release it never installed
    sys.exit(1)
elif command == "status":
    print(json.dumps({"name": args[1], "version": 3, "info": {"status": "deployed"}}))
elif command == "uninstall" and os.environ.get("FAKE_HELM_NO_RELEASE"):
    print(f"Error: uninstall: Release not loaded: {args[1]}: release: not found", file=sys.stderr)
    sys.exit(1)
elif command == os.environ.get("FAKE_HELM_FAIL"):
    print(f"Error: {command} failed: admission webhook \"validate.kyverno.svc\" denied the request", file=sys.stderr)
    sys.exit(1)
elif command in ("upgrade", "rollback", "uninstall"):
    print(f"fake helm {command} ok")
else:
    print(f"fake helm: unexpected {args}", file=sys.stderr)
    sys.exit(2)
