package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"parley/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestBadConfigExitsTwoWithOneLine runs the binary the way an operator would.
func TestBadConfigExitsTwoWithOneLine(t *testing.T) {
	if os.Getenv("PARLEY_MAIN_CHILD") == "1" {
		os.Exit(run([]string{"serve"}))
	}
	cmd := exec.Command(os.Args[0], "-test.run=TestBadConfigExitsTwoWithOneLine")
	cmd.Env = []string{"PARLEY_MAIN_CHILD=1", "DATABASE_URL=postgres://x@localhost/x", "PARLEY_BASE_URL=http://localhost:8080"}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2; output:\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "PARLEY_SECRET_KEY") {
		t.Fatalf("output %q, want one line naming PARLEY_SECRET_KEY", out)
	}
}

// TestAddrInUseExitsTwoWithOneLine: an address another process listens on
// is a configuration error like the others, found before anything starts.
func TestAddrInUseExitsTwoWithOneLine(t *testing.T) {
	if os.Getenv("PARLEY_MAIN_CHILD") == "1" {
		os.Exit(run([]string{"serve"}))
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	cmd := exec.Command(os.Args[0], "-test.run=TestAddrInUseExitsTwoWithOneLine")
	cmd.Env = []string{"PARLEY_MAIN_CHILD=1", "DATABASE_URL=postgres://x@localhost/x", "PARLEY_BASE_URL=http://localhost:8080",
		"PARLEY_SECRET_KEY=0000000000000000000000000000000000000000000000000000000000000001", "PARLEY_ADDR=" + addr}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2; output:\n%s", err, out)
	}
	want := "parley: configuration: PARLEY_ADDR: " + addr + " is already in use"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
}
