package httpserver_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"parley/internal/app/apptest"
)

// Pages refer to their styles and scripts by content-hashed names; those
// are served gzipped (to a browser that takes gzip) and cached for ever;
// the plain names still work, cached for an hour.
func TestStaticAssetsHashedCompressedImmutable(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(path, ae string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", env.URL+path, nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, page := get("/login", "")
	refs := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(string(page), -1)
	want := map[string]string{"app.css": "", "app.js": "", "keys.js": "", "htmx-2.0.11.min.js": ""}
	for _, m := range refs {
		for name := range want {
			ext := name[strings.LastIndex(name, "."):]
			base := strings.TrimSuffix(name, ext)
			if ok, _ := regexp.MatchString(`^/static/`+regexp.QuoteMeta(base)+`\.[0-9a-f]{12}`+regexp.QuoteMeta(ext)+`$`, m[1]); ok {
				want[name] = m[1]
			}
		}
	}
	for name, url := range want {
		if url == "" {
			t.Fatalf("the login page does not refer to %s by a hashed name: %q", name, refs)
		}
	}
	for name, url := range want {
		_, plain := get("/static/"+name, "")
		resp, body := get(url, "gzip, deflate, br")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: %d, Content-Encoding %q", url, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", url, cc)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Vary %q", url, resp.Header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: not gzip: %v", url, err)
		}
		unzipped, _ := io.ReadAll(zr)
		if !bytes.Equal(unzipped, plain) || len(plain) == 0 {
			t.Errorf("%s: %d bytes unzipped, the plain file has %d", url, len(unzipped), len(plain))
		}
		if len(body) >= len(plain) {
			t.Errorf("%s: gzipped %d bytes, plain %d", url, len(body), len(plain))
		}
		t.Logf("%s: %d bytes, %d gzipped", name, len(plain), len(body))
		// No gzip asked for: the plain bytes.
		resp, body = get(url, "")
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, plain) {
			t.Errorf("%s without Accept-Encoding: Content-Encoding %q, %d bytes", url, resp.Header.Get("Content-Encoding"), len(body))
		}
		resp, _ = get(url, "gzip;q=0")
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s with gzip;q=0: Content-Encoding %q", url, resp.Header.Get("Content-Encoding"))
		}
		// The plain name still works, for an hour's caching.
		resp, _ = get("/static/"+name, "gzip")
		if resp.StatusCode != 200 || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("/static/%s: %d, Cache-Control %q", name, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		// A revalidation by ETag answers 304.
		req, _ := http.NewRequest("GET", env.URL+url, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		if r2, err := raw.Do(req); err != nil || r2.StatusCode != http.StatusNotModified {
			t.Errorf("%s If-None-Match: %v %v", url, r2.StatusCode, err)
		} else {
			r2.Body.Close()
		}
	}
	// A hashed name with the wrong hash is not found.
	if resp, _ := get("/static/app.000000000000.css", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a wrong hash: %d", resp.StatusCode)
	}
}
