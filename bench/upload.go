package main

// upload: a large file streamed over HTTP into Parley's attachment store
// (a directory, then an S3 bucket), measuring throughput and the peak
// resident memory of the process that stores it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"parley/internal/config"
	"parley/internal/media"
)

// s3ServeEnv makes the bench binary an S3 server (gofakes3) instead: the
// store runs in a process of its own, so that its memory is not counted as
// Parley's.
const s3ServeEnv = "PARLEY_BENCH_S3_SERVE"

func init() {
	if os.Getenv(s3ServeEnv) == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b := s3mem.New()
	if err := b.CreateBucket("bench"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	_ = http.Serve(ln, gofakes3.New(b).Server())
	os.Exit(0)
}

// startS3 runs the S3 server process and returns its endpoint.
func startS3(ctx context.Context) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), s3ServeEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return "", nil, fmt.Errorf("S3 server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	return "http://" + strings.TrimSpace(addr), stop, nil
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pattern is an endless stream of bytes that are not all alike.
type pattern struct{ n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.n*31 + p.n>>9)
		p.n++
	}
	return len(b), nil
}

// storeHandler streams a multipart upload's "file" part into store, as the
// composer's upload does: the part is never held whole.
func storeHandler(store *media.Store, keys chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				http.Error(w, "no file", http.StatusBadRequest)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if part.FormName() != "file" {
				continue
			}
			key := media.NewKey(uuid.New())
			info, err := store.Put(r.Context(), key, "application/octet-stream", part)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			keys <- key
			fmt.Fprintf(w, "%d %s", info.Size, info.SHA256)
			return
		}
	}
}

// upload posts size bytes as a multipart file to url.
func upload(ctx context.Context, url string, size int64) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "big.bin")
		if err == nil {
			_, err = io.CopyN(fw, &pattern{}, size)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), strconv.FormatInt(size, 10)+" ") {
		return fmt.Errorf("upload of %d bytes: %d %s", size, resp.StatusCode, body)
	}
	return nil
}

func runUpload(ctx context.Context, e *env) error {
	endpoint, stop, err := startS3(ctx)
	if err != nil {
		return err
	}
	defer stop()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_EC2_METADATA_DISABLED": "true"} {
		if os.Getenv(k) == "" {
			_ = os.Setenv(k, v)
		}
	}
	dir, err := os.MkdirTemp("", "parley-bench-media-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	backends := []struct{ name, url string }{
		{"directory", config.DirURL(filepath.Join(dir, "media"))},
		{"S3 (gofakes3, own process)", "s3://bench?endpoint=" + endpoint + "&region=us-east-1&use_path_style=true"},
	}
	w := e.Out
	fmt.Fprintln(w, "\n### upload: a file streamed over HTTP (multipart) into the attachment store")
	fmt.Fprintln(w, "\nPeak RSS is the storing process's high-water mark (VmHWM) after the upload; the upload generator runs in it too, streaming. The composer rows post to a chat's reply route of a running Parley whose tenant has cloud storage connected: the file streams into the bucket and the client gets a link.")
	fmt.Fprintln(w, "\n| store | file | time | throughput | peak RSS |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	// First, while this process's high-water mark is still Parley's own.
	if err := composerUpload(ctx, e, endpoint, []int64{100 << 20, 1 << 30}); err != nil {
		return err
	}
	for _, b := range backends {
		store, err := media.Open(ctx, b.url)
		if err != nil {
			return err
		}
		keys := make(chan string, 1)
		srv := httptest.NewServer(storeHandler(store, keys))
		for _, size := range []int64{100 << 20, 1 << 30} {
			progress("upload: %s, %d MB", b.name, size>>20)
			start := time.Now()
			if err := upload(ctx, srv.URL, size); err != nil {
				srv.Close()
				return err
			}
			took := time.Since(start)
			fmt.Fprintf(w, "| %s | %d MB | %.1f s | %.0f MB/s | %d MB |\n", b.name, size>>20, took.Seconds(), float64(size>>20)/took.Seconds(), peakRSS()>>20)
			_ = store.Delete(ctx, <-keys)
		}
		srv.Close()
		_ = store.Close()
	}
	return nil
}
