#!/usr/bin/env python3
"""The AMQP method tables are the spec's: src/proto/amqp/amqp_spec.c must be
exactly what scripts/gen_amqp_spec.py makes of the 0-9-1 XML in
$SONDE_CORPUS/amqp/spec (regenerate it with that script after changing
either). Also checks a few facts of the XML against the table, so a
generator that emits nothing cannot pass: 5 classes with methods in 0-9-1
plus RabbitMQ's confirm, basic.publish is (60, 40) and carries content,
queue.declare-ok answers queue.declare.

Usage: python3 tests/corpus/test_amqp_spec.py [--sonde IGNORED]
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
XML = os.path.join(CORPUS, "amqp", "spec", "amqp0-9-1.stripped.extended.xml")
GEN = os.path.join(ROOT, "scripts", "gen_amqp_spec.py")
TABLE = os.path.join(ROOT, "src", "proto", "amqp", "amqp_spec.c")


def main():
    if not os.path.exists(XML):
        print(f"SKIP amqp spec: {XML} is absent")
        return 0
    r = subprocess.run(["/usr/bin/python3", GEN, "--check", XML], capture_output=True, text=True)
    ok = r.returncode == 0
    print(("PASS" if ok else "FAIL") + " amqp spec: amqp_spec.c is the generator's output"
          + ("" if ok else ": " + r.stderr.strip()))
    text = open(TABLE).read()
    facts = [
        (r'\{ 60, 40, "basic\.publish", f_60_40, 5, AMQP_M_CONTENT \| AMQP_M_FROM_CLIENT, 0 \}',
         "basic.publish is (60, 40), 5 arguments, content, sent by the client"),
        (r'\{ 50, 11, "queue\.declare-ok", f_50_11, 3, AMQP_M_SYNC \| AMQP_M_FROM_SERVER, 10 \}',
         "queue.declare-ok answers queue.declare"),
        (r'amqp_nmethods = 64;', "64 methods (0-9-1 with RabbitMQ's extensions)"),
        (r'\{ "response", AMQP_LONGSTR, AMQP_F_SECRET \}', "start-ok's response is a credential"),
    ]
    for pat, what in facts:
        good = re.search(pat, text) is not None
        ok &= good
        print(("PASS" if good else "FAIL") + " amqp spec: " + what)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
