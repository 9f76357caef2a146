// A Go net/http HTTPS client for sonde's Go TLS tests
// (tests/e2e/test_go_tls_live.py), talking to ../server.
//
//	client [-h1] [-wait] PORT REQUEST...
//	client [-h1] [-wait] -g G -n N -prefix P [-conns C] PORT
//
// A REQUEST is PATH (a GET), POST:PATH:BODY, POST:PATH:@N (a body of N
// bytes, byte i = i % 251), SLEEP:MS (a pause), WAIT (print "waiting" and
// wait for a line on stdin) or NEWCONN (close the idle connection: the next
// request opens a new one). The requests go one after
// the other on one keep-alive connection; each answer is printed
//
//	STATUS SIZE BODY PROTO LOCALPORT MS
//
// BODY quoted (%q; "..." past 200 bytes), LOCALPORT the client's port of the
// connection it went on, MS when the request was made, in milliseconds since
// main() began. -h1 forces HTTP/1.1 (TLSNextProto empty), else HTTP/2
// is negotiated by ALPN. -wait: print "ready" and wait for a line on stdin
// before the first request (its pid is known before it connects).
//
// With -g: G goroutines each POST N requests P/g<i>/r<j> with the body
// "body P g<i> r<j>" and check that the answer is its own echo; prints
// "ok K" (answers that matched), one "bad ..." line per mismatch, and exits 1
// if any request failed. -conns C: at most C connections, each kept for reuse
// (without it, Go's transport opens and abandons connections mid-handshake
// when hundreds of goroutines start at once).
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func main() {
	t0 := time.Now()
	h1 := flag.Bool("h1", false, "force HTTP/1.1")
	wait := flag.Bool("wait", false, "print ready, wait for a line on stdin")
	g := flag.Int("g", 0, "goroutines (concurrency mode)")
	n := flag.Int("n", 1, "requests per goroutine")
	prefix := flag.String("prefix", "/c", "path prefix (concurrency mode)")
	conns := flag.Int("conns", 0, "connections per host at most, all kept idle for reuse (0: Go's defaults)")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: client [-h1] [-wait] PORT REQUEST... | -g G -n N -prefix P [-conns C] PORT")
		os.Exit(2)
	}
	base := "https://127.0.0.1:" + flag.Arg(0)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: *conns,
		MaxConnsPerHost:     *conns,
	}
	if *h1 {
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	cl := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	stdin := bufio.NewReader(os.Stdin) // one reader: -wait and WAIT share its buffer
	if *wait {
		fmt.Println("ready")
		stdin.ReadString('\n')
	}
	if *g > 0 {
		os.Exit(concurrent(cl, base, *g, *n, *prefix))
	}
	rc := 0
	for _, spec := range flag.Args()[1:] {
		if spec == "WAIT" {
			fmt.Println("waiting")
			stdin.ReadString('\n')
			continue
		}
		if spec == "NEWCONN" {
			tr.CloseIdleConnections()
			continue
		}
		if strings.HasPrefix(spec, "SLEEP:") {
			ms, _ := strconv.Atoi(spec[6:])
			time.Sleep(time.Duration(ms) * time.Millisecond)
			continue
		}
		method, path, body := "GET", spec, []byte(nil)
		if strings.HasPrefix(spec, "POST:") {
			p := strings.SplitN(spec[5:], ":", 2)
			method, path, body = "POST", p[0], []byte{}
			if len(p) == 2 {
				body = []byte(p[1])
				if strings.HasPrefix(p[1], "@") {
					size, _ := strconv.Atoi(p[1][1:])
					body = pattern(size)
				}
			}
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			rc = 1
			continue
		}
		if body != nil {
			req.Header.Set("Content-Type", "text/plain")
		}
		local, ms := "?", time.Since(t0).Milliseconds()
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if a, ok := info.Conn.LocalAddr().(*net.TCPAddr); ok {
					local = strconv.Itoa(a.Port)
				}
			},
		}))
		resp, err := cl.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			rc = 1
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			rc = 1
		}
		q := fmt.Sprintf("%q", b)
		if len(b) > 200 {
			q = `"..."`
		}
		fmt.Printf("%d %d %s %s %s %d\n", resp.StatusCode, len(b), q, resp.Proto, local, ms)
	}
	os.Exit(rc)
}

func concurrent(cl *http.Client, base string, g, n int, prefix string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, failed := 0, 0
	start := make(chan struct{})
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			for j := 0; j < n; j++ {
				path := fmt.Sprintf("%s/g%d/r%d", prefix, i, j)
				body := fmt.Sprintf("body %s g%d r%d", prefix, i, j)
				want := "echo " + path + " " + body + "\n"
				resp, err := cl.Post(base+path, "text/plain", strings.NewReader(body))
				var got []byte
				if err == nil {
					got, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					failed++
					fmt.Printf("bad %s: %v\n", path, err)
				case resp.StatusCode != 200 || string(got) != want:
					failed++
					fmt.Printf("bad %s: %d %q\n", path, resp.StatusCode, got)
				default:
					ok++
				}
				mu.Unlock()
			}
		}(i)
	}
	close(start)
	wg.Wait()
	fmt.Printf("ok %d\n", ok)
	if failed > 0 {
		return 1
	}
	return 0
}
