// Command s3limit is S3 traffic control: an S3 server with limits
// (serve, shell) and bandwidth-capped transfers (cp).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/s3limit/s3limit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
