package credential_test

import (
	"bytes"
	"strings"
	"testing"

	"parley/internal/credential"
)

func TestSealOpen(t *testing.T) {
	s, err := credential.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("auth-token-123456", "integration-a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("auth-token")) {
		t.Fatal("sealed credential contains the plain text")
	}
	if got, err := s.Open(sealed, "integration-a"); err != nil || got != "auth-token-123456" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, "integration-b"); err == nil {
		t.Fatal("a credential moved to another integration opened")
	}
	other, _ := credential.NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, "integration-a"); err == nil {
		t.Fatal("opened with the wrong key")
	}
	if h := credential.Hint("abcdefghijklmnop"); h != "••••••••mnop" || strings.Contains(credential.Hint("short"), "short") {
		t.Fatalf("hint = %q", h)
	}
}
