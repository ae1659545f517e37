package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

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
