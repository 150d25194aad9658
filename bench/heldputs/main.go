// Command heldputs fills a server's upload queue for bench/memory.sh: it
// opens one connection that starts an upload and never sends its body (with
// -concurrentFileUploadLimit 1 that upload holds the only slot), then -n more
// connections, each sending a presigned PutObject with its whole body of
// -size bytes, all of which queue behind it. It prints "queued N" once every
// request is written and keeps the connections open until -hold has passed
// or stdin is closed, then exits.
//
//	heldputs -endpoint http://127.0.0.1:8333 -n 10000 -size 4KiB -hold 1m
//
// The requests are presigned (UNSIGNED-PAYLOAD, only the host signed), so
// the server verifies each signature before it queues the upload.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "heldputs:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("heldputs", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:8333", "S3 endpoint URL (path-style)")
	accessKey := fs.String("accessKey", os.Getenv("AWS_ACCESS_KEY_ID"), "access key (default $AWS_ACCESS_KEY_ID)")
	secretKey := fs.String("secretKey", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret key (default $AWS_SECRET_ACCESS_KEY)")
	bucket := fs.String("bucket", "bench", "bucket (created when missing)")
	n := fs.Int("n", 10000, "uploads to queue behind the one that holds the slot")
	size := fs.Int("size", 4096, "body size of each upload, in bytes")
	parallel := fs.Int("parallel", 64, "connections opened at once")
	hold := fs.Duration("hold", time.Minute, "how long to keep the connections open once all are queued (or until stdin closes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *n < 1 || *size < 1 || *parallel < 1:
		return errors.New("-n, -size and -parallel must be positive")
	case *accessKey == "" || *secretKey == "":
		return errors.New("no credentials: set -accessKey/-secretKey or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	u, err := url.Parse(*endpoint)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-endpoint %q: want http://host:port", *endpoint)
	}
	client := s3.New(s3.Options{
		BaseEndpoint:               endpoint,
		Region:                     "us-east-1",
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(*accessKey, *secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	ctx := context.Background()
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); err != nil {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
			return fmt.Errorf("create bucket %s: %w", *bucket, err)
		}
	}
	presigner := s3.NewPresignClient(client, s3.WithPresignExpires(time.Hour))
	request := func(i int, body bool) ([]byte, error) {
		r, err := presigner.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(fmt.Sprintf("heldputs/%05d", i))})
		if err != nil {
			return nil, err
		}
		pu, err := url.Parse(r.URL)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", pu.RequestURI(), pu.Host, *size)
		if body {
			b.WriteString(strings.Repeat("q", *size))
		}
		return []byte(b.String()), nil
	}

	// The holder: admitted first, then waits for a body that never comes.
	holder, err := dialSend(u.Host, func() ([]byte, error) { return request(0, false) })
	if err != nil {
		return fmt.Errorf("holder: %w", err)
	}
	defer holder.Close()
	// Give the server time to admit it before anything queues.
	time.Sleep(500 * time.Millisecond)

	conns := make([]net.Conn, *n)
	var failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				c, err := dialSend(u.Host, func() ([]byte, error) { return request(i+1, true) })
				if err != nil {
					if failed.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d connections failed; first: %v", f, *n, firstErr)
	}
	// A queued upload gets no answer; one that did was refused or failed.
	answered := 0
	for _, c := range conns[:min(len(conns), 20)] {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		buf := make([]byte, 512)
		if k, err := c.Read(buf); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			answered++
			if answered == 1 {
				fmt.Fprintf(os.Stderr, "heldputs: an upload was answered instead of queued: %q %v\n", firstLine(buf[:k]), err)
			}
		}
	}
	if answered > 0 {
		return fmt.Errorf("%d of the first 20 uploads were answered, not queued (is -concurrentFileUploadLimit 1 set?)", answered)
	}
	fmt.Printf("queued %d\n", *n)

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-time.After(*hold):
	case <-stdinClosed:
	}
	return nil
}

func dialSend(host string, req func() ([]byte, error)) (net.Conn, error) {
	b, err := req()
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", host, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(b); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}
