package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"parley/internal/mailpit"
	"parley/internal/postgres/pgtest"
)

// TestDevFollowsAddr runs `parley dev` as `PARLEY_ADDR=:PORT make run`
// does, with no PARLEY_BASE_URL: the base URL must follow the address, or
// seeding the demo tenant (which reaches the sandbox over HTTP at the base
// URL) fails and the server stops.
func TestDevFollowsAddr(t *testing.T) {
	if os.Getenv("PARLEY_MAIN_CHILD") == "dev" {
		os.Exit(run([]string{"dev"}))
	}
	// A free port, not 8080.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	base := "http://localhost:" + port

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	owner := pgtest.URL(t)
	cmd := exec.Command(exe, "-test.run=^TestDevFollowsAddr$")
	cmd.Dir = t.TempDir() // ./.data goes there
	mailpitBin, err := mailpit.Find()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"PARLEY_MAIN_CHILD=dev", "PARLEY_OWNER_DATABASE_URL=" + owner, "DATABASE_URL=" + pgtest.AppURL(owner), "PARLEY_ADDR=:" + port,
		"PARLEY_MAILPIT=" + mailpitBin}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	wait := func() error {
		var err error
		once.Do(func() { err = cmd.Wait() })
		return err
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = wait() })

	// dev prints the banner once the demo tenant is seeded.
	sc := bufio.NewScanner(stdout)
	running := false
	for !running && sc.Scan() {
		running = strings.Contains(sc.Text(), "Parley is running: "+base)
	}
	if !running {
		err := wait()
		t.Fatalf("parley dev with PARLEY_ADDR=:%s did not run at %s (%v); stderr:\n%s", port, base, err, stderr.String())
	}
	// and where the mails it sends can be read: Mailpit's inbox.
	inbox := ""
	for inbox == "" && sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "Mails Parley sends (Mailpit): "); ok {
			inbox = strings.TrimSpace(after)
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if resp, err := http.Get(inbox + "/api/v1/info"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the mail inbox %q does not answer: %v", inbox, err)
	} else {
		resp.Body.Close()
	}

	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/sandbox/info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Integrations []struct {
			Provider   string
			WebhookURL string `json:"webhook_url"`
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(info.Integrations) != 2 ||
		!strings.HasPrefix(info.Integrations[0].WebhookURL, base+"/webhooks/") {
		t.Fatalf("/sandbox/info: %d %+v %v", resp.StatusCode, info, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("parley dev after SIGTERM: %v; stderr:\n%s", err, stderr.String())
	}
}
