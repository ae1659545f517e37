package httpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"parley/internal/app/apptest"
	"parley/internal/conversation"
	"parley/internal/media"
	"parley/internal/media/s3test"
	"parley/internal/sandbox"
)

// Two replicas on one database and one bucket share every file: a photo a
// client sent, stored by whichever replica fetched it, is downloaded by an
// agent on the other; a file an agent sent through replica two is served to
// the provider by replica one.
func TestTwoReplicasShareFilesThroughTheBucket(t *testing.T) {
	t.Parallel()
	bucket := s3test.URL(t)
	one := demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true, MediaURL: bucket}))
	two := demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true, DBURL: one.env.DBURL, MediaURL: bucket}))

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 3000)...)
	one.customerWrites(t, "+15557654321", "", sandbox.MediaFile{ContentType: "image/png", Filename: "receipt.png", Data: png})
	chat := one.liveChats(t)[0]
	eventually(t, "the photo to be stored", func() bool {
		return one.count(t, `SELECT count(*) FROM attachments WHERE state = 'stored'`) == 1
	})
	var photo conversation.Attachment
	for _, m := range one.messages(t, chat.ID) {
		for _, a := range m.Attachments {
			photo = a
		}
	}
	status, body := two.env.Get(t, two.client, fmt.Sprintf("/files/%d", photo.ID))
	if status != http.StatusOK || body != string(png) {
		t.Fatalf("replica two's download of the client's photo: %d, %d bytes", status, len(body))
	}
	var sum string
	_ = one.env.App.DB.InTenant(context.Background(), one.admin.TenantID, func(tx pgxTx) error {
		return tx.QueryRow(context.Background(), `SELECT sha256 FROM attachments WHERE id = $1`, photo.ID).Scan(&sum)
	})
	if len(sum) != 64 {
		t.Fatalf("the photo's checksum is %q", sum)
	}

	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("y"), 6000)...)
	if status, body := two.reply(t, chat.ID, "Your invoice", "key-two", pdf, "invoice.pdf"); status != http.StatusOK {
		t.Fatalf("reply through replica two: %d\n%.300s", status, body)
	}
	var token string
	_ = one.env.App.DB.InTenant(context.Background(), one.admin.TenantID, func(tx pgxTx) error {
		return tx.QueryRow(context.Background(), `SELECT public_token FROM attachments WHERE filename = 'invoice.pdf'`).Scan(&token)
	})
	// The link the provider is given is signed, as replica two signed it.
	signed := media.SignToken([]byte(apptest.SecretKey), token, time.Now().Add(time.Hour))
	resp, err := http.Get(one.env.URL + "/media/public/" + signed + "/invoice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, pdf) {
		t.Fatalf("replica one serving replica two's file: %d, %d bytes", resp.StatusCode, len(got))
	}
}
