#!/usr/bin/env python3
"""AMQP 0-9-1, live: a real rabbitmq-server on loopback (its own node name,
ports and directory), `sonde capture --port PORT` (eBPF, root) while
python3-pika declares, publishes (publisher confirms on), consumes, acks
and nacks, sends a message larger than the frame size, and a connection
opened before sonde started publishes and gets. tcpdump records the same
traffic; tshark's amqp dissection of it is the reference for the methods,
content frames and delivery tags.

Usage: test_amqp_live.py [--dry] [--keep] path/to/sonde. PASS/FAIL/SKIP lines.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "corpus"))
from livelib import (Child, Report, SondeRun, free_port, kill_children, kill_sondes,  # noqa: E402
                     parse_args, wait_port)
from test_amqp_corpus import sonde_msgs, tshark  # noqa: E402

PY = "/usr/bin/python3"
RMQ = "/usr/lib/rabbitmq/bin"
USER, SECRET = "sonde", "s3cret-amqp-9"
BIG = 300000  # bytes: more than two frames of RabbitMQ's 131072

EARLY = r'''
import sys, pika
port = int(sys.argv[1])
cred = pika.PlainCredentials(sys.argv[2], sys.argv[3])
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, credentials=cred,
                                                      heartbeat=0))
ch = c.channel()
ch.queue_declare("early.q")
print("connected", flush=True)
sys.stdin.readline()
ch.basic_publish("", "early.q", b"after sonde started")
m, props, body = ch.basic_get("early.q")
while m is None:
    m, props, body = ch.basic_get("early.q")
ch.basic_ack(m.delivery_tag)
c.close()
print("done", flush=True)
'''

CLIENT = r'''
import sys, pika
port, big = int(sys.argv[1]), int(sys.argv[4])
cred = pika.PlainCredentials(sys.argv[2], sys.argv[3])
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, credentials=cred,
                                                      heartbeat=0))
ch = c.channel()
ch.exchange_declare("sonde.ex", exchange_type="direct")
ch.queue_declare("sonde.q", auto_delete=True)
ch.queue_bind("sonde.q", "sonde.ex", routing_key="rk")
ch.confirm_delivery()
props = pika.BasicProperties(content_type="text/plain", headers={"h1": "v1", "n": 7},
                             delivery_mode=2, message_id="m-1")
for i in range(4):
    ch.basic_publish("sonde.ex", "rk", b"message %d" % i, properties=props)
ch.basic_publish("sonde.ex", "rk", b"B" * big)
got = []
def on(chan, method, p, body):
    got.append(body)
    if body == b"message 1":
        chan.basic_nack(method.delivery_tag, requeue=False)
    else:
        chan.basic_ack(method.delivery_tag)
    if len(got) == 5:
        chan.stop_consuming()
ch.basic_qos(prefetch_count=10)
ch.basic_consume("sonde.q", on)
ch.start_consuming()
assert len(got) == 5 and len(got[4]) == big, [len(b) for b in got]
c.close()
'''


def env_for(tmp, port, dist, epmd):
    e = dict(os.environ, HOME=tmp, RABBITMQ_NODENAME="sonde@localhost",
             RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(port),
             RABBITMQ_DIST_PORT=str(dist), ERL_EPMD_PORT=str(epmd), ERL_EPMD_ADDRESS="127.0.0.1",
             RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
             RABBITMQ_MNESIA_BASE=os.path.join(tmp, "mnesia"),
             RABBITMQ_LOG_BASE=os.path.join(tmp, "log"),
             RABBITMQ_PID_FILE=os.path.join(tmp, "rabbit.pid"),
             RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(tmp, "enabled_plugins"),
             RABBITMQ_CONFIG_FILE=os.path.join(tmp, "rabbitmq"))
    return e


def port_outside_dist():
    """A free port outside 35672-35682 (rabbitmqctl's own listeners)."""
    while True:
        p = free_port()
        if not 35600 <= p <= 35700:
            return p


def start_rabbit(rep, tmp, port):
    env = env_for(tmp, port, port_outside_dist(), port_outside_dist())
    with open(os.path.join(tmp, "enabled_plugins"), "w") as f:
        f.write("[].\n")
    Child([RMQ + "/rabbitmq-server"], name="rabbitmq-server", stdin=False, env=env)
    w = subprocess.run([RMQ + "/rabbitmqctl", "wait", "--timeout", "90",
                        os.path.join(tmp, "rabbit.pid")], env=env, capture_output=True,
                       text=True, timeout=120)
    if not rep.check("rabbitmq-server up", w.returncode == 0 and wait_port(port), w.stderr[-500:]):
        return None
    for argv in (["add_user", USER, SECRET], ["set_permissions", USER, ".*", ".*", ".*"]):
        r = subprocess.run([RMQ + "/rabbitmqctl"] + argv, env=env, capture_output=True,
                           text=True, timeout=60)
        rep.check("rabbitmqctl " + argv[0], r.returncode == 0, r.stderr[-300:])
    return env


def stop_rabbit(tmp, env):
    subprocess.run([RMQ + "/rabbitmqctl", "stop", os.path.join(tmp, "rabbit.pid")], env=env,
                   capture_output=True, timeout=60)
    subprocess.run(["epmd", "-kill"], env=env, capture_output=True, timeout=10)


def methods_of(ex, name):
    return [(r, m) for r, m in sonde_msgs(ex) if m.get("method") == name]


def check(rep, ex, raw, pcap, port):
    types, methods, tags, _, _ = tshark(pcap, port)
    got = collections.Counter((m["class_id"], m["method_id"]) for _, m in sonde_msgs(ex)
                              if "method" in m)
    rep.check("methods (class, method) agree with tshark's dissection of the same traffic",
              got == methods and methods, f"sonde-only {dict(got - methods)} "
              f"tshark-only {dict(methods - got)}")
    heads = sum(1 for _, m in sonde_msgs(ex) if m.get("content", {}).get("body_size") is not None)
    frames = sum(m.get("content", {}).get("body_frames", 0) for _, m in sonde_msgs(ex))
    rep.check("content headers and body frames as many as tshark's",
              heads == types[2] and frames == types[3],
              f"sonde {heads}/{frames} tshark {types[2]}/{types[3]}")
    gtags = collections.Counter(m["arguments"]["delivery_tag"] for _, m in sonde_msgs(ex)
                                if "delivery_tag" in m.get("arguments", {}))
    rep.check("delivery tags agree with tshark's", gtags == tags, f"{dict(gtags)} vs {dict(tags)}")
    rep.check("the password appears in no record", SECRET not in raw)
    oks = methods_of(ex, "connection.start-ok")
    rep.check("connection.start-ok: response masked, user named",
              len(oks) == 1 and all(re.fullmatch(r"\*\*\*\*\[\d+:[0-9a-f]+\]",
                                                 m["arguments"]["response"])
                                    and m["arguments"]["user"] == USER for _, m in oks), oks[:1])
    for name in ("exchange.declare", "queue.declare", "queue.bind", "basic.qos",
                 "basic.consume", "confirm.select", "channel.open"):
        rs = [r for r, m in methods_of(ex, name) if r.get("request") is m]
        rep.check(f"{name} paired with its -ok", rs and all(
            r.get("response", {}).get("method") == name + "-ok" for r in rs), rs[:1])
    qd = [r for r, m in methods_of(ex, "queue.declare") if m["arguments"]["queue"] == "sonde.q"]
    rep.check("queue.declare-ok names the queue",
              qd and qd[0]["response"]["arguments"]["queue"] == "sonde.q", qd[:1])
    pubs = [m for _, m in methods_of(ex, "basic.publish") if m["arguments"]["exchange"] == "sonde.ex"]
    small = [m for m in pubs if m["content"]["body_size"] < 100]
    rep.check("4 publishes as events: exchange, routing key, properties, body",
              len(small) == 4 and all(m["arguments"]["routing_key"] == "rk"
                                      and m["content"]["properties"]["content_type"] == "text/plain"
                                      and m["content"]["properties"]["message_id"] == "m-1"
                                      and ["h1", "v1"] in m["content"]["properties"]["headers"]
                                      for m in small)
              and sorted(m["content"]["body"] for m in small) == [f"message {i}" for i in range(4)],
              small[:1])
    big = [m for m in pubs if m["content"]["body_size"] == BIG]
    rep.check(f"the {BIG}-byte message is one publish, reassembled from its body frames "
              "(kept to the body limit)",
              len(big) == 1 and big[0]["content"]["body_frames"] >= 3
              and big[0]["content"].get("body_truncated") is True
              and len(big[0]["content"]["body"]) == 65536, big[:1] and big[0]["content"].get("body_frames"))
    dels = [m for _, m in methods_of(ex, "basic.deliver") if m["arguments"]["exchange"] == "sonde.ex"]
    rep.check("5 deliveries as events, the big one reassembled too",
              len(dels) == 5 and sum(1 for m in dels if m["content"]["body_size"] == BIG) == 1,
              len(dels))
    cacks = [m for r, m in methods_of(ex, "basic.ack") if m["sender"] == "client"
             and r["conn"]["id"] == (dels[0] and [x for x in ex if x.get("response") is dels[0]]
                                     [0]["conn"]["id"])]
    rep.check("client acks name the deliveries they acknowledge (tag and routing key)",
              len(cacks) == 4 and all(m["acknowledged_count"] == 1 and
                                      m["acknowledges"][0]["delivery_tag"] ==
                                      m["arguments"]["delivery_tag"]
                                      and m["acknowledges"][0]["routing_key"] == "rk"
                                      for m in cacks), cacks[:1])
    nacks = [m for _, m in methods_of(ex, "basic.nack")]
    rep.check("the nack names its delivery (message 1)",
              len(nacks) == 1 and nacks[0]["acknowledged_count"] == 1
              and nacks[0]["arguments"]["requeue"] is False, nacks)
    sacks = [m for _, m in methods_of(ex, "basic.ack") if m["sender"] == "server"]
    confirmed = sum(m["acknowledged_count"] for m in sacks)
    rep.check("publisher confirms: the server's acks name the 5 publishes by sequence number",
              confirmed == 5 and all(not m.get("acknowledges_unknown") for m in sacks)
              and sorted(m["publish_seq"] for m in pubs) == [1, 2, 3, 4, 5], sacks[:2])
    early = [r for r, m in methods_of(ex, "basic.publish")
             if m["arguments"]["routing_key"] == "early.q"]
    getok = [r for r, m in methods_of(ex, "basic.get-ok")]
    rep.check("connection opened before sonde: its publish, basic.get/get-ok and ack dissected",
              len(early) == 1 and early[0]["request"]["content"]["body"] == "after sonde started"
              and "midstream" in early[0]["flags"]
              and any(r["request"]["method"] == "basic.get"
                      and r["response"]["content"]["body"] == "after sonde started"
                      for r in getok), early + getok[:1])
    bad = [r for r in ex if set(r["flags"]) & {"unsolicited", "request_parse_error",
                                                "response_parse_error"}]
    rep.check("nothing unsolicited or malformed", not bad, bad[:2])


def main():
    sonde, dry, keep, _ = parse_args(sys.argv[1:])
    rep = Report("amqp-live")
    if os.geteuid() != 0:
        rep.skip("needs root (eBPF)")
        return 0
    if not os.path.exists(RMQ + "/rabbitmq-server") or not shutil.which("tcpdump"):
        rep.skip("rabbitmq-server or tcpdump is not installed")
        return 0
    if subprocess.run([PY, "-c", "import pika"], capture_output=True).returncode:
        rep.skip("python3-pika is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-amqp.")
    port = port_outside_dist()
    env = None
    try:
        env = start_rabbit(rep, tmp, port)
        if not env:
            return 1
        early = Child([PY, "-c", EARLY, str(port), USER, SECRET], name="early client")
        if not rep.check("early connection opened before sonde", early.wait_for("connected", 30),
                         early.stderr()[-500:]):
            return 1
        pcap = os.path.join(tmp, "amqp.pcap")
        dump = Child(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", pcap, f"tcp port {port}"],
                     name="tcpdump", stdin=False)
        time.sleep(1)
        # the big message is one write: copied whole (past the 64k default)
        run = SondeRun(sonde, tmp, "amqp", ["--port", str(port), "--capture-limit", "1m"], rep,
                       dry=dry)
        if dry or not run.ok:
            return 0 if dry else 1
        early.send(b"go\n")
        rep.check("early client published and got", early.wait_for("done", 30),
                  early.stderr()[-500:])
        c = subprocess.run([PY, "-c", CLIENT, str(port), USER, SECRET, str(BIG)],
                           capture_output=True, text=True, timeout=120)
        ok = rep.check("pika client ran (declare, publish with confirms, consume, ack/nack)",
                       c.returncode == 0, c.stderr[-800:])
        rc, recs = run.stop()
        dump._signal_group(signal.SIGINT)
        rep.check("sonde exited 0", rc == 0, run.stderr()[-1000:])
        with open(run.out) as f:
            raw = f.read()
        ex = [r for r in recs if r.get("protocol") == "amqp"]
        stats = [r for r in recs if r.get("type") == "stats"]
        rep.info(f"{len(ex)} amqp records; stats: " + (json.dumps(
            {k: v for k, v in stats[-1].items() if v and k != "type"})[:600] if stats else "none"))
        if ok:
            check(rep, ex, raw, pcap, port)
        rep.check("no parse errors", stats and stats[-1].get("parse_errors") == 0,
                  stats[-1:] and stats[-1].get("parse_errors"))
        return 1 if rep.failed else 0
    finally:
        kill_sondes()
        if env:
            stop_rabbit(tmp, env)
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            rep.info(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
