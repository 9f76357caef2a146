#!/usr/bin/env python3
"""MQTT, live: a real mosquitto on loopback (its own port), `sonde capture
--port PORT` (eBPF, root) while mosquitto_sub/mosquitto_pub (3.1.1 and 5.0,
QoS 0/1/2, a password) and python3-paho-mqtt (5.0 with properties,
subscribe/unsubscribe, keep-alive pings, and a connection opened before
sonde started) run. tcpdump records the same traffic; tshark's MQTT
dissection of that file is the reference for how many packets of each type
there were and which packet ids they carried.

Usage: test_mqtt_live.py [--dry] [--keep] path/to/sonde. PASS/FAIL/SKIP lines.
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import (Child, Report, SondeRun, free_port, kill_children, kill_sondes,  # noqa: E402
                     parse_args, wait_port)

PY = "/usr/bin/python3"
SECRET = "s3cret-pw-7"

# A 5.0 client connected before sonde: it publishes (QoS 1, with a user
# property) only once told to, on stdin.
EARLY = r'''
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port = int(sys.argv[1])
c = mqtt.Client(client_id="early", protocol=mqtt.MQTTv5)
c.connect("127.0.0.1", port, keepalive=120)
c.loop_start()
time.sleep(0.5)
print("connected", flush=True)
sys.stdin.readline()
p = Properties(PacketTypes.PUBLISH)
p.UserProperty = ("origin", "early")
c.publish("early/t", b"after sonde", qos=1, properties=p).wait_for_publish(5)
time.sleep(0.3)
c.disconnect()
c.loop_stop()
print("done", flush=True)
'''

PAHO = r'''
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port = int(sys.argv[1])
got = []
c = mqtt.Client(client_id="paho5", protocol=mqtt.MQTTv5)
c.on_message = lambda cl, u, m: got.append((m.topic, m.qos))
cp = Properties(PacketTypes.CONNECT)
cp.SessionExpiryInterval = 30
c.connect("127.0.0.1", port, keepalive=1, properties=cp)
c.loop_start()
time.sleep(0.3)
c.subscribe([("p/#", 2)])
time.sleep(0.3)
for q in (0, 1, 2):
    p = Properties(PacketTypes.PUBLISH)
    p.UserProperty = ("k", "v%d" % q)
    p.MessageExpiryInterval = 60
    c.publish("p/q%d" % q, b"paho %d" % q, qos=q, properties=p).wait_for_publish(5)
time.sleep(2.5)                                   # keep-alive 1 s: PINGREQ/PINGRESP
c.unsubscribe("p/#")
time.sleep(0.3)
c.disconnect()
c.loop_stop()
assert sorted(got) == [("p/q0", 0), ("p/q1", 1), ("p/q2", 2)], got
'''


def mqtt_recs(recs):
    return [r for r in recs if r.get("protocol") == "mqtt"]


def msgs(ex):
    """Every packet of the records: (side, message)."""
    for r in ex:
        for side in ("request", "response"):
            if r.get(side):
                yield side, r[side], r


def run_clients(rep, port, tmp):
    ok = True
    sub = Child(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "m/#", "-q", "2",
                 "-V", "mqttv5", "-C", "6", "-W", "20", "-v", "-i", "sub5"], name="mosquitto_sub")
    time.sleep(0.5)
    # the credentials from mosquitto_pub's options file, not its command
    # line: a process's command line is in every record's enrichment
    cfg = os.path.join(tmp, "cfg")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "mosquitto_pub"), "w") as f:
        f.write(f"-u bob\n-P {SECRET}\n")
    env = dict(os.environ, XDG_CONFIG_HOME=cfg)
    for v in ("mqttv5", "mqttv311"):
        for q in (0, 1, 2):
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", v,
                                "-t", f"m/{v}/q{q}", "-m", f"hello {v} {q}", "-q", str(q),
                                "-i", f"pub-{v}-{q}"],
                               capture_output=True, text=True, timeout=30, env=env)
            ok &= rep.check(f"mosquitto_pub -V {v} -q {q} ran", r.returncode == 0, r.stderr)
    sub.wait(30)
    ok &= rep.check("mosquitto_sub got all six messages", sub.stdout().count("hello") == 6,
                    sub.stdout()[-500:])
    c = subprocess.run([PY, "-c", PAHO, str(port)], capture_output=True, text=True, timeout=60)
    ok &= rep.check("paho-mqtt 5.0 client ran", c.returncode == 0, c.stderr[-800:])
    return ok


def tshark_counts(pcap, port):
    """(Counter of packet type numbers, set of (type, packet id)) by tshark."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-d", f"tcp.port=={port},mqtt", "-Y", "mqtt",
                          "-T", "fields", "-e", "mqtt.msgtype", "-e", "mqtt.msgid"],
                         capture_output=True, text=True, timeout=120).stdout
    types, ids = collections.Counter(), set()
    for line in out.splitlines():
        cols = line.split("\t")
        tl = cols[0].split(",") if cols[0] else []
        il = cols[1].split(",") if len(cols) > 1 and cols[1] else []
        for t in tl:
            types[int(t)] += 1
        for t, i in zip([t for t in tl if int(t) in (3, 4, 5, 6, 7, 8, 9, 10, 11)], il):
            ids.add((int(t), int(i)))
    return types, ids


NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}


def check(rep, ex, raw, pcap, port):
    types = collections.Counter(m["packet"] for _, m, _ in msgs(ex))
    rep.info("sonde: " + json.dumps(dict(types)))
    want, ids = tshark_counts(pcap, port)
    want = {NAMES[t]: n for t, n in want.items()}
    rep.info("tshark: " + json.dumps(want))
    rep.check("packet counts by type agree with tshark's dissection of the same traffic",
              dict(types) == want and want, f"sonde {dict(types)} tshark {want}")
    got_ids = {(k, m["packet_id"]) for _, m, _ in msgs(ex) if "packet_id" in m
               for k in [next(t for t, n in NAMES.items() if n == m["packet"])]}
    rep.check("packet ids agree with tshark's", got_ids == ids,
              f"only sonde {sorted(got_ids - ids)[:8]} only tshark {sorted(ids - got_ids)[:8]}")
    rep.check("the password appears in no record", SECRET not in raw)
    conns = [r for r in ex if r.get("request", {}).get("packet") == "CONNECT"
             and r["request"].get("username")]
    pw = {r["request"].get("password") for r in conns}
    rep.check("CONNECT with credentials: username kept, password masked (one password, one mask)",
              len(conns) == 6 and len(pw) == 1
              and all(re.fullmatch(r"\*\*\*\*\[\d+:[0-9a-f]+\]", p or "") for p in pw),
              conns[:1])
    for v, label in (("mqttv5", "MQTT/5.0"), ("mqttv311", "MQTT/3.1.1")):
        pubs = {q: [r for r in ex if r.get("request", {}).get("topic") == f"m/{v}/q{q}"]
                for q in (0, 1, 2)}
        rep.check(f"{v}: QoS 0 publish is an event",
                  len(pubs[0]) == 1 and not pubs[0][0].get("response") and not pubs[0][0]["flags"]
                  and pubs[0][0]["version"] == label, pubs[0])
        rep.check(f"{v}: QoS 1 publish paired with PUBACK (same packet id)",
                  len(pubs[1]) == 1 and pubs[1][0].get("response", {}).get("packet") == "PUBACK"
                  and pubs[1][0]["response"]["packet_id"] == pubs[1][0]["request"]["packet_id"],
                  pubs[1])
        rel = [r for r in ex if r.get("request", {}).get("packet") == "PUBREL"
               and r["conn"]["id"] == (pubs[2][0]["conn"]["id"] if pubs[2] else -1)]
        rep.check(f"{v}: QoS 2 publish paired with PUBREC, then PUBREL with PUBCOMP",
                  len(pubs[2]) == 1 and pubs[2][0].get("response", {}).get("packet") == "PUBREC"
                  and len(rel) == 1 and rel[0]["response"]["packet"] == "PUBCOMP", pubs[2] + rel)
        dels = [r for r in ex if r.get("response", {}).get("topic", "").startswith(f"m/{v}/")
                and not r.get("request")]
        rep.check(f"{v}: the three deliveries to mosquitto_sub are events",
                  sorted(r["response"]["qos"] for r in dels) == [0, 1, 2], dels[:1])
    acks = [r for r in ex if not r.get("response")
            and r.get("request", {}).get("packet") in ("PUBACK", "PUBREC", "PUBCOMP")]
    rep.check("the subscribers' acks of deliveries are events naming the delivery (topic, QoS)",
              len(acks) == 6 + 3 and all(  # sub: 2 + 2 x 2, paho: 1 + 2
                  r["request"].get("acknowledges", {}).get("topic", "")[:2] in ("m/", "p/")
                  for r in acks), acks[:2])
    sub = [r for r in ex if r.get("request", {}).get("packet") == "SUBSCRIBE"
           and r["request"]["topics"][0]["topic"] == "p/#"]
    rep.check("paho: SUBSCRIBE paired with SUBACK granted_qos_2",
              sub and sub[0]["response"]["reason_codes"][0]["reason"] == "granted_qos_2", sub)
    pp = [r for r in ex if r.get("request", {}).get("topic", "").startswith("p/q")]
    rep.check("paho: v5 publish properties named (user property, message expiry)",
              len(pp) == 3 and all(r["request"]["properties"]["message_expiry_interval"] == 60
                                   and r["request"]["properties"]["user_properties"][0][0] == "k"
                                   for r in pp), pp[:1])
    pings = [r for r in ex if r.get("request", {}).get("packet") == "PINGREQ"]
    rep.check("paho: keep-alive PINGREQ paired with PINGRESP",
              pings and all(r.get("response", {}).get("packet") == "PINGRESP" for r in pings),
              pings[:1])
    uns = [r for r in ex if r.get("request", {}).get("packet") == "UNSUBSCRIBE"]
    rep.check("paho: UNSUBSCRIBE paired with UNSUBACK and its reason code",
              uns and uns[0]["response"]["reason_codes"][0]["reason"] == "success", uns)
    early = [r for r in ex if r.get("request", {}).get("topic") == "early/t"]
    rep.check("connection opened before sonde: its PUBLISH (QoS 1) paired with PUBACK, "
              "5.0 guessed from the packet's shape",
              len(early) == 1 and early[0]["response"]["packet"] == "PUBACK"
              and early[0]["version"] == "MQTT/5.0" and early[0]["request"].get("version_guessed")
              and early[0]["request"]["properties"]["user_properties"] == [["origin", "early"]],
              early)
    lone = [r for r in ex if set(r["flags"]) & {"unanswered", "unsolicited", "parse_error"}]
    rep.check("nothing unanswered, unsolicited or malformed", not lone, lone[:2])


def main():
    sonde, dry, keep, _ = parse_args(sys.argv[1:])
    rep = Report("mqtt-live")
    if os.geteuid() != 0:
        rep.skip("needs root (eBPF)")
        return 0
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub", "tcpdump", "tshark"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            rep.skip(f"{tool} is not installed")
            return 0
    if subprocess.run([PY, "-c", "import paho.mqtt.client"], capture_output=True).returncode:
        rep.skip("python3-paho-mqtt is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-mqtt.")
    os.chmod(tmp, 0o755)  # mosquitto drops to its own user
    port = free_port()
    try:
        conf = os.path.join(tmp, "m.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest stdout\n")
        Child(["mosquitto", "-c", conf], name="mosquitto", stdin=False)
        if not rep.check("mosquitto up", wait_port(port)):
            return 1
        early = Child([PY, "-c", EARLY, str(port)], name="early client")
        if not rep.check("early client connected before sonde", early.wait_for("connected", 15),
                         early.stderr()[-500:]):
            return 1
        pcap = os.path.join(tmp, "mqtt.pcap")
        dump = Child(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", pcap, f"tcp port {port}"],
                     name="tcpdump", stdin=False)
        time.sleep(1)
        run = SondeRun(sonde, tmp, "mqtt", ["--port", str(port)], rep, dry=dry)
        if dry or not run.ok:
            return 0 if dry else 1
        early.send(b"go\n")
        rep.check("early client published", early.wait_for("done", 15), early.stderr()[-500:])
        ok = run_clients(rep, port, tmp)
        rc, recs = run.stop()
        time.sleep(0.5)
        dump._signal_group(signal.SIGINT)  # tcpdump writes its last packets
        rep.check("sonde exited 0", rc == 0, run.stderr()[-1000:])
        with open(run.out) as f:
            raw = f.read()
        ex = mqtt_recs(recs)
        stats = [r for r in recs if r.get("type") == "stats"]
        rep.info(f"{len(ex)} mqtt records; stats: " + (json.dumps(
            {k: v for k, v in stats[-1].items() if v and k != "type"})[:600] if stats else "none"))
        if not ok:
            return 1
        check(rep, ex, raw, pcap, port)
        rep.check("no parse errors", stats and stats[-1].get("parse_errors") == 0,
                  stats[-1:] and stats[-1].get("parse_errors"))
        return 1 if rep.failed else 0
    finally:
        kill_sondes()
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            rep.info(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
