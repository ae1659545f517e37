package conversation_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/internal/conversation"
)

// A file written for a message whose row never committed (the replica
// died in between) is deleted by the sweep; the files of messages stay.
func TestTheSweepDeletesFilesNoMessagePointsTo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.receive(t, "SM1", "+15557654321", "send me the menu")
	if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{
		File: conversation.UploadOf("menu.pdf", "application/pdf", []byte("%PDF-1.4\nsoup, bread\n%%EOF\n")),
	}); err != nil {
		t.Fatal(err)
	}
	sent := storedFiles(t, f.MediaDir)
	if len(sent) != 1 {
		t.Fatalf("files after a reply with a file: %v", sent)
	}
	orphan := filepath.Join(f.MediaDir, f.Admin.TenantID.String(), "0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(orphan, []byte("half a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Within the hour the row may still be on its way.
	f.clock.Set(time.Now())
	if n, _, err := f.Conv.SweepOrphanFiles(ctx, nil, time.Time{}); err != nil || n != 0 {
		t.Fatalf("sweep of a new file deleted %d (%v), want none", n, err)
	}
	f.clock.Set(time.Now().Add(2 * time.Hour))
	if n, _, err := f.Conv.SweepOrphanFiles(ctx, nil, time.Time{}); err != nil || n != 1 {
		t.Fatalf("sweep deleted %d (%v), want the orphan", n, err)
	}
	if got := storedFiles(t, f.MediaDir); len(got) != 1 || got[0] != sent[0] {
		t.Fatalf("files after the sweep: %v, want %v", got, sent)
	}
}
