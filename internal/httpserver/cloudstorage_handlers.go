package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"parley/internal/channel"
	"parley/internal/cloudstorage"
	"parley/internal/conversation"
	"parley/internal/media"
	"parley/internal/problem"
	"parley/web"
)

// cloudStoragePage shows the tenant's cloud storage, or the form to
// connect one.
func (s *Server) cloudStoragePage(w http.ResponseWriter, r *http.Request) {
	s.renderCloudStorage(w, r, http.StatusOK, web.Form{}, r.URL.Query().Get("saved") == "1")
}

func (s *Server) renderCloudStorage(w http.ResponseWriter, r *http.Request, status int, f web.Form, saved bool) {
	v := web.CloudStorageView{Saved: saved}
	st, err := s.CloudStorage.Get(r.Context(), signed(r).Tenant.ID)
	switch {
	case err == nil:
		v.Storage = &st
	case !errors.Is(err, cloudstorage.ErrNotConnected):
		s.fail(w, r, err)
		return
	}
	if f.Values == nil {
		f.Values = map[string]string{}
	}
	for k, def := range map[string]string{"max_mb": web.MB(cloudstorage.DefaultMaxBytes), "link_days": strconv.Itoa(cloudstorage.DefaultLinkDays)} {
		if _, ok := f.Values[k]; !ok {
			f.Values[k] = def
			if v.Storage != nil {
				f.Values["max_mb"], f.Values["link_days"] = web.MB(st.MaxBytes), strconv.Itoa(st.LinkDays)
			}
		}
	}
	s.render(w, r, status, web.CloudStoragePage(s.page(r, "Cloud storage", "settings"), v, f))
}

// limitsOf reads the size limit (MB) and link expiry (days) fields.
func limitsOf(r *http.Request) (int64, int) {
	mb, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("max_mb")), 10, 64)
	if err != nil || mb < 0 || mb > 1<<20 {
		mb = 0
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("link_days")))
	if err != nil {
		days = 0
	}
	return mb << 20, days
}

// connectCloudStorage probes the bucket and saves it, or shows the form
// again with the store's words.
func (s *Server) connectCloudStorage(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	maxBytes, days := limitsOf(r)
	_, err := s.CloudStorage.Connect(r.Context(), signed(r).Tenant.ID, cloudstorage.Form{
		Bucket: media.Bucket{
			Endpoint: r.PostFormValue("endpoint"), Region: r.PostFormValue("region"), Name: r.PostFormValue("bucket"),
			AccessKey: r.PostFormValue("access_key"), Secret: r.PostFormValue("secret"),
		},
		MaxBytes: maxBytes, LinkDays: days,
	})
	if p, ok := problem.As(err); ok && (p.Kind == problem.Invalid || p.Kind == problem.Unavailable) {
		s.renderCloudStorage(w, r, statusOf(p.Kind), formOf(r, err, "endpoint", "region", "bucket", "access_key", "max_mb", "link_days"), false)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/cloud-storage?saved=1")
}

func (s *Server) setCloudStorageLimits(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	maxBytes, days := limitsOf(r)
	err := s.CloudStorage.SetLimits(r.Context(), signed(r).Tenant.ID, maxBytes, days)
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		s.renderCloudStorage(w, r, statusOf(p.Kind), formOf(r, err, "max_mb", "link_days"), false)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/cloud-storage?saved=1")
}

func (s *Server) disconnectCloudStorage(w http.ResponseWriter, r *http.Request) {
	if err := s.CloudStorage.Disconnect(r.Context(), signed(r).Tenant.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/cloud-storage")
}

// replyAsLink sends a reply whose file is over WhatsApp's limit: the file
// streams from the request into the tenant's bucket (never whole in
// memory) and the client gets a text with its name, size and a presigned
// link, which the conversation shows too. A refused, failed or cancelled
// upload sends nothing and leaves nothing in the bucket.
func (s *Server) replyAsLink(w http.ResponseWriter, r *http.Request, c conversation.Case, cs cloudstorage.Storage) {
	ctx := r.Context()
	sg := signed(r)
	refuse := func(err error) {
		f := formOf(r, err)
		if p, ok := problem.As(err); ok && len(p.Fields) == 0 {
			f.Errors, f.Msg = map[string]string{"file": p.Msg}, ""
		}
		kind := problem.Unavailable
		if p, ok := problem.As(err); ok {
			kind = p.Kind
		}
		s.renderComposer(w, r, statusOf(kind), c, f)
	}
	if r.ContentLength > cs.MaxBytes+1<<20 {
		refuse(problem.New(problem.TooLarge, fmt.Sprintf("Your cloud storage takes files up to %s (Settings → Integrations → Cloud storage); this one is %s. Nothing was sent.",
			channel.SizeWords(cs.MaxBytes), channel.SizeWords(r.ContentLength))))
		return
	}
	// Refused before the upload, not after it: a chat that cannot take a
	// text now.
	if c.State != conversation.StateLive || !c.WindowOpen(s.Clock.Now()) {
		refuse(problem.New(problem.Conflict, "A file can be sent as a link only in a live chat whose 24-hour window is open. Nothing was sent."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, cs.MaxBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		refuse(problem.New(problem.Invalid, "The message could not be read. Try again."))
		return
	}
	vals := url.Values{}
	var link *cloudstorage.Link
	drop := func() {
		if link != nil {
			if err := s.CloudStorage.Delete(context.WithoutCancel(ctx), sg.Tenant.ID, link.Key); err != nil {
				s.Log.Error("delete a file whose link was not sent", "key", link.Key, "err", err)
			}
		}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			drop()
			if ctx.Err() != nil {
				return // the agent cancelled
			}
			refuse(problem.New(problem.Invalid, "The message could not be read. Try again."))
			return
		}
		switch {
		case part.FormName() == "file" && part.FileName() != "" && link == nil:
			l, err := s.CloudStorage.Upload(ctx, sg.Tenant.ID, part.FileName(), part.Header.Get("Content-Type"), -1, part, s.Clock.Now())
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				refuse(err)
				return
			}
			link = &l
		case part.FormName() == "file":
		default:
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				drop()
				return
			}
			vals.Add(part.FormName(), string(b))
		}
		part.Close()
	}
	if link == nil {
		refuse(problem.New(problem.Invalid, "The message could not be read. Try again."))
		return
	}
	text := link.Text()
	if body := strings.TrimSpace(vals.Get("body")); body != "" {
		text = body + "\n\n" + text
	}
	_, err = s.Conversations.SendReply(ctx, sg.Tenant.ID, sg.Agent.ID, c.ID, conversation.Reply{
		Body: text, Status: vals.Get("status"), IdempotencyKey: vals.Get("key"),
	})
	if err != nil {
		drop()
		if _, ok := problem.As(err); ok {
			refuse(err)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.renderComposer(w, r, http.StatusOK, c, web.Form{})
}

// sendSmallAsLink is replyAsLink for a file the form already read (just
// over 16 MB, within the reply form's margin).
func (s *Server) sendSmallAsLink(w http.ResponseWriter, r *http.Request, c conversation.Case, reply conversation.Reply) {
	ctx := r.Context()
	sg := signed(r)
	refuse := func(err error) {
		f := formOf(r, err)
		kind := problem.Unavailable
		if p, ok := problem.As(err); ok {
			kind = p.Kind
			if len(p.Fields) == 0 {
				f.Errors, f.Msg = map[string]string{"file": p.Msg}, ""
			}
		}
		s.renderComposer(w, r, statusOf(kind), c, f)
	}
	if c.State != conversation.StateLive || !c.WindowOpen(s.Clock.Now()) {
		refuse(problem.New(problem.Conflict, "A file can be sent as a link only in a live chat whose 24-hour window is open. Nothing was sent."))
		return
	}
	f := reply.File
	l, err := s.CloudStorage.Upload(ctx, sg.Tenant.ID, f.Filename, f.ContentType, f.Size, f.Content, s.Clock.Now())
	if err != nil {
		refuse(err)
		return
	}
	reply.File, reply.Template, reply.Buttons = nil, nil, nil
	reply.Body = strings.TrimSpace(reply.Body + "\n\n" + l.Text())
	if _, err := s.Conversations.SendReply(ctx, sg.Tenant.ID, sg.Agent.ID, c.ID, reply); err != nil {
		if derr := s.CloudStorage.Delete(context.WithoutCancel(ctx), sg.Tenant.ID, l.Key); derr != nil {
			s.Log.Error("delete a file whose link was not sent", "key", l.Key, "err", derr)
		}
		if _, ok := problem.As(err); ok {
			refuse(err)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.renderComposer(w, r, http.StatusOK, c, web.Form{})
}

// fileLink opens the link a client got for a file sent through the
// tenant's cloud storage: a redirect to the store while the link lives;
// once it expired, or the file is gone, a page that says so in words.
func (s *Server) fileLink(w http.ResponseWriter, r *http.Request) {
	url, err := s.CloudStorage.Open(r.Context(), chi.URLParam(r, "tenant"), chi.URLParam(r, "token"), chi.URLParam(r, "name"), s.Clock.Now())
	if p, ok := problem.As(err); ok {
		s.errorPage(w, r, statusOf(p.Kind), "This file cannot be opened", p.Msg)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // the store's link lives minutes
	http.Redirect(w, r, url, http.StatusFound)
}
