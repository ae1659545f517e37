package httpserver

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"parley/internal/cloudstorage"
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
