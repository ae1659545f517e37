package main

// upload through the composer: a file over 16 MB posted to a chat's reply
// route, as the browser's composer posts it, streamed by Parley into the
// tenant's cloud storage (an S3 bucket) and sent to the client as a link.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"parley/internal/cloudstorage"
	"parley/internal/media"
	"parley/internal/sandbox"
)

// composerUpload measures uploads of sizes through the reply route of a
// running Parley (demo tenant, sandbox Twilio) whose tenant has the S3
// server at endpoint (bucket "bench") as its cloud storage.
func composerUpload(ctx context.Context, e *env, endpoint string, sizes []int64) error {
	p, err := startParley(ctx, e)
	if err != nil {
		return err
	}
	defer p.stop()
	a := p.app
	if _, err := a.CloudStorage.Connect(ctx, p.tenantID, cloudstorage.Form{
		Bucket:   media.Bucket{Endpoint: endpoint, Region: "us-east-1", Name: "bench", AccessKey: "bench", Secret: "bench-secret"},
		MaxBytes: 2 << 30, LinkDays: 7,
	}); err != nil {
		return fmt.Errorf("connect cloud storage: %w", err)
	}
	igs, err := a.Integrations.List(ctx, p.tenantID)
	if err != nil {
		return err
	}
	if _, err := a.Sandbox.Twilio.CustomerSends(ctx, sandbox.InboundMessage{From: "+15550001111", ProfileName: "Bench", To: igs[0].Sender, Body: "send the video"}); err != nil {
		return err
	}
	admin, err := a.Tenants.Authenticate(ctx, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		return err
	}
	var chatID int64
	for deadline := time.Now().Add(30 * time.Second); chatID == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cs, err := a.Conversations.LiveChats(ctx, p.tenantID, admin.ID); err == nil && len(cs) > 0 {
			chatID = cs[0].ID
		}
	}
	if chatID == 0 {
		return errors.New("the customer's chat did not open")
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(p.baseURL+"/login", url.Values{"email": {sandbox.DemoEmail}, "password": {sandbox.DemoPassword}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	w := e.Out
	for _, size := range sizes {
		progress("upload: composer route to cloud storage, %d MB", size>>20)
		start := time.Now()
		if err := composerPost(ctx, c, fmt.Sprintf("%s/chats/%d/reply", p.baseURL, chatID), size); err != nil {
			return err
		}
		took := time.Since(start)
		fmt.Fprintf(w, "| composer → tenant's cloud storage (S3, gofakes3 own process) | %d MB | %.1f s | %.0f MB/s | %d MB |\n", size>>20, took.Seconds(), float64(size>>20)/took.Seconds(), peakRSS()>>20)
	}
	return nil
}

// composerPost posts the composer's form with a file of size bytes,
// generated as it is sent, with its Content-Length known as a browser's is.
func composerPost(ctx context.Context, c *http.Client, target string, size int64) error {
	var head, tail bytes.Buffer
	mw := multipart.NewWriter(&head)
	_ = mw.WriteField("key", uuid.NewString())
	_ = mw.WriteField("body", "")
	if _, err := mw.CreateFormFile("file", "big.bin"); err != nil {
		return err
	}
	headLen := head.Len()
	_ = mw.Close()
	tail.Write(head.Bytes()[headLen:])
	head.Truncate(headLen)
	body := io.MultiReader(bytes.NewReader(head.Bytes()), io.LimitReader(&pattern{}, size), bytes.NewReader(tail.Bytes()))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return err
	}
	req.ContentLength = int64(head.Len()) + size + int64(tail.Len())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("HX-Request", "true")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `id="composer"`) {
		return fmt.Errorf("composer upload of %d bytes: %d %.500s", size, resp.StatusCode, out)
	}
	return nil
}
