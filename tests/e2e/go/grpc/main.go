// A gRPC-Go server and client over TLS for sonde's Go TLS tests
// (tests/e2e/test_go_tls_live.py). The service is gRPC's own health check
// (grpc.health.v1.Health, generated code shipped with grpc-go), so no
// protoc is needed:
//
//	grpc server PORT CERT KEY     prints "listening"; stops when stdin closes
//	grpc client [-wait] PORT NAME...
//
// The server answers Check(service NAME) with SERVING, except for a NAME
// starting "unknown", answered with the error NOT_FOUND "unknown service NAME".
// The client prints one line per call: "OK <status>" or "ERR <code> <message>".
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

type health struct {
	healthpb.UnimplementedHealthServer
}

func (health) Check(ctx context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if strings.HasPrefix(r.Service, "unknown") {
		return nil, status.Errorf(codes.NotFound, "unknown service %s", r.Service)
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func server(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: grpc server PORT CERT KEY")
		return 2
	}
	cert, err := tls.LoadX509KeyPair(args[1], args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc server:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc server:", err)
		return 1
	}
	s := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	healthpb.RegisterHealthServer(s, health{})
	go func() { io.Copy(io.Discard, os.Stdin); s.Stop() }()
	fmt.Println("listening")
	if err := s.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "grpc server:", err)
		return 1
	}
	return 0
}

func client(args []string) int {
	wait := len(args) > 0 && args[0] == "-wait"
	if wait {
		args = args[1:]
	}
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: grpc client [-wait] PORT NAME...")
		return 2
	}
	if wait {
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds := credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	conn, err := grpc.DialContext(ctx, "127.0.0.1:"+args[0], grpc.WithTransportCredentials(creds), grpc.WithBlock())
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc client:", err)
		return 1
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for _, name := range args[1:] {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
		if err != nil {
			st := status.Convert(err)
			fmt.Printf("ERR %d %s\n", st.Code(), st.Message())
			continue
		}
		fmt.Printf("OK %s\n", r.Status)
	}
	return 0
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "server" {
		os.Exit(server(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == "client" {
		os.Exit(client(os.Args[2:]))
	}
	fmt.Fprintln(os.Stderr, "usage: grpc server|client ...")
	os.Exit(2)
}
