#!/usr/bin/env python3
"""Kafka's tables against their sources.

  * src/proto/kafka/kafka_schema.c is exactly what scripts/kafka-schemas
    makes of the message schemas in $SONDE_CORPUS/kafka/message-schemas
    (the committed table is never edited by hand);
  * every Kafka error code tshark's dissector knows (tshark -G values,
    field kafka.error) has a name in src/proto/kafka/kafka_errors.c.

Usage: python3 tests/corpus/test_kafka_schema.py [--sonde IGNORED]
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    schemas = os.path.join(corpus, "kafka", "message-schemas")
    bad = 0
    if not os.path.isdir(schemas):
        print(f"SKIP kafka_schema: no {schemas}")
    else:
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "kafka-schemas"),
                            "--check", schemas,
                            os.path.join(ROOT, "src", "proto", "kafka", "kafka_schema.c")],
                           capture_output=True, text=True, check=False)
        sys.stdout.write(r.stdout[-4000:])
        bad |= r.returncode != 0
    if not shutil.which("tshark"):
        print("SKIP kafka_errors: no tshark")
        return 1 if bad else 0
    with open(os.path.join(ROOT, "src", "proto", "kafka", "kafka_errors.c"), encoding="utf-8") as fh:
        named = {int(m) for m in re.findall(r'"[A-Z_]+", /\* (-?\d+) \*/', fh.read())}
    out = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True,
                         check=False).stdout
    codes = set()
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) >= 3 and v[0] == "V" and v[1] == "kafka.error":
            c = int(v[2])
            codes.add(c - (1 << 32) if c >= 1 << 31 else c)
    missing = sorted(codes - named)
    if not codes:
        print("FAIL kafka_errors: tshark lists no kafka.error values")
        bad = 1
    elif missing:
        print(f"FAIL kafka_errors: codes tshark knows that sonde does not name: {missing}")
        bad = 1
    else:
        print(f"PASS kafka_errors: all {len(codes)} codes tshark knows are named "
              f"({len(named)} named)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
