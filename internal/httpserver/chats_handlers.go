package httpserver

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/problem"
	"parley/web"
)

// maxReplyBytes is the reply route's body limit: a 16 MB file and the form.
const maxReplyBytes = channel.MaxOutboundFileBytes + 1<<20

func (s *Server) chatsPage(w http.ResponseWriter, r *http.Request) {
	s.renderChats(w, r, 0)
}

func (s *Server) chatPage(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderChats(w, r, id)
}

func (s *Server) renderChats(w http.ResponseWriter, r *http.Request, openID int64) {
	ctx := r.Context()
	sg := signed(r)
	v, err := s.chatsView(r, openID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Open != nil && v.Open.Unread > 0 {
		if err := s.Conversations.MarkRead(ctx, sg.Tenant.ID, openID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	p := s.page(r, "Chats", "chats")
	if v.Open != nil {
		p.Title = v.Open.ClientName + " · Chats"
		p.Events = "/events?case=" + strconv.FormatInt(openID, 10)
	}
	s.render(w, r, http.StatusOK, web.ChatsPage(p, v))
}

// chatsView gathers the chats page: the live chats and, when openID is
// set, that conversation and its composer.
func (s *Server) chatsView(r *http.Request, openID int64) (web.ChatsView, error) {
	ctx := r.Context()
	sg := signed(r)
	v := web.ChatsView{Now: s.Clock.Now()}
	var err error
	if v.Chats, err = s.Conversations.LiveChats(ctx, sg.Tenant.ID, sg.Agent.ID); err != nil {
		return v, err
	}
	if openID == 0 {
		return v, nil
	}
	c, err := s.Conversations.Case(ctx, sg.Tenant.ID, openID)
	if err != nil {
		return v, err
	}
	v.Open = &c
	if v.Messages, err = s.Conversations.Messages(ctx, sg.Tenant.ID, openID); err != nil {
		return v, err
	}
	v.Composer = s.composer(c, web.Form{})
	return v, nil
}

func (s *Server) composer(c conversation.Case, f web.Form) web.ComposerView {
	return web.ComposerView{
		CaseID: c.ID, Live: c.State == conversation.StateLive, Open: c.WindowOpen(s.Clock.Now()), Ends: c.WindowEnds(),
		Key: uuid.NewString(), Form: f, MaxBytes: channel.MaxOutboundFileBytes,
	}
}

// reply stores an agent's reply (text or one file) and answers with a fresh
// composer; the conversation updates through server-sent events.
func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sg := signed(r)
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Conversations.Case(ctx, sg.Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tooLarge := func(size int64) {
		f := web.Form{Values: map[string]string{}, Errors: map[string]string{
			"file": fmt.Sprintf("The file is larger than 16 MB (%.1f MB); WhatsApp accepts files up to 16 MB. Nothing was sent.", float64(size)/(1<<20)),
		}}
		s.render(w, r, http.StatusRequestEntityTooLarge, web.Composer(s.composer(c, f)))
	}
	if r.ContentLength > maxReplyBytes {
		tooLarge(r.ContentLength)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReplyBytes)
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(mbe.Limit)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, web.Composer(s.composer(c, web.Form{Msg: "The message could not be read. Try again."})))
		return
	}
	reply := conversation.Reply{Body: r.FormValue("body"), IdempotencyKey: r.FormValue("key")}
	if file, hdr, err := r.FormFile("file"); err == nil {
		data, err := io.ReadAll(file)
		file.Close()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		reply.File = &conversation.Upload{Filename: hdr.Filename, ContentType: hdr.Header.Get("Content-Type"), Data: data}
	}
	_, err = s.Conversations.SendReply(ctx, sg.Tenant.ID, sg.Agent.ID, id, reply)
	if p, ok := problem.As(err); ok && p.Kind != problem.NotFound {
		f := formOf(r, err)
		f.Values = map[string]string{"body": r.FormValue("body")}
		if len(p.Fields) == 0 {
			f.Msg = p.Msg
		}
		s.render(w, r, statusOf(p.Kind), web.Composer(s.composer(c, f)))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Composer(s.composer(c, web.Form{})))
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	caseID, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msgID, err := idParam(r, "msg")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Conversations.DeleteMessage(r.Context(), signed(r).Tenant.ID, caseID, msgID); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") == "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	redirect(w, r, "/chats/"+strconv.FormatInt(caseID, 10))
}

// file serves an attachment to the tenant's agents.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, f, err := s.Conversations.OpenAttachment(r.Context(), signed(r).Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	serveAttachment(w, r, a, f, r.URL.Query().Get("download") == "1" || !a.IsImage())
}

// publicMedia serves an agent's outgoing file to the provider, by the
// unguessable token in its URL.
func (s *Server) publicMedia(w http.ResponseWriter, r *http.Request) {
	a, f, err := s.Conversations.OpenPublicAttachment(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	serveAttachment(w, r, a, f, false)
}

func serveAttachment(w http.ResponseWriter, r *http.Request, a conversation.Attachment, f io.ReadSeeker, download bool) {
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	// A stored file is never a page of ours: nothing in it may run.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
	disp := "inline"
	if download {
		disp = "attachment"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": strings.ReplaceAll(a.Filename, "\"", "")}))
	http.ServeContent(w, r, "", time.Time{}, f)
}
