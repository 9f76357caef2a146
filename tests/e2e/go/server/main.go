// A Go net/http HTTPS server for sonde's Go TLS tests
// (tests/e2e/test_go_tls_live.py): HTTP/1.1 and HTTP/2 (negotiated by ALPN),
// keep-alive.
//
//	server PORT CERT KEY
//
// Prints "listening" once it accepts connections; stops on SIGTERM/SIGINT or
// when stdin closes. Every answer names its request (its path, and for POSTs
// the body), so a record whose response belongs to another request shows at
// once. By the last element of the path:
//
//	.../missing          404 "not found PATH\n"
//	GET  .../big?size=N  200 N bytes, byte i = i % 251
//	POST .../created     201 "created PATH LEN BODY\n"
//	POST .../upload      200 "uploaded PATH LEN SUM\n" (SUM: the bytes' sum)
//	POST anything else   200 "echo PATH BODY\n"
//	GET  anything else   200 "hello PATH\n"
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strconv"
	"syscall"
)

func handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	uri := r.URL.RequestURI()
	last := path.Base(r.URL.Path)
	var out []byte
	status := http.StatusOK
	switch {
	case last == "missing":
		status, out = http.StatusNotFound, []byte("not found "+uri+"\n")
	case r.Method == http.MethodGet && last == "big":
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		out = make([]byte, n)
		for i := range out {
			out[i] = byte(i % 251)
		}
	case r.Method == http.MethodPost && last == "created":
		status, out = http.StatusCreated, []byte(fmt.Sprintf("created %s %d %s\n", uri, len(body), body))
	case r.Method == http.MethodPost && last == "upload":
		sum := 0
		for _, b := range body {
			sum += int(b)
		}
		out = []byte(fmt.Sprintf("uploaded %s %d %d\n", uri, len(body), sum))
	case r.Method == http.MethodPost:
		out = []byte("echo " + uri + " " + string(body) + "\n")
	default:
		out = []byte("hello " + uri + "\n")
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	w.Write(out)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: server PORT CERT KEY")
		os.Exit(2)
	}
	cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(handle),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	done := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		go func() { io.Copy(io.Discard, os.Stdin); sig <- syscall.SIGTERM }()
		<-sig
		srv.Close()
		close(done)
	}()
	fmt.Println("listening")
	// ServeTLS with the certificate in TLSConfig: h2 and http/1.1 by ALPN
	if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	<-done
}
