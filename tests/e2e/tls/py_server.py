"""An HTTPS server on Python's ssl module (http.server, HTTP/1.1 keep-alive).
Usage: py_server.py PORT CERT KEY WWWDIR
GET serves files of WWWDIR, POST /created answers 201. Prints "listening".
"""
import functools
import http.server
import ssl
import sys

port, cert, key, www = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = b"created %d\n" % len(self.rfile.read(n))
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=www))
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
print("listening", flush=True)
httpd.serve_forever()
