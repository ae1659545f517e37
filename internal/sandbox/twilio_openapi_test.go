package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/twilio/twilio-go/client"
)

// The providers' published OpenAPI documents, copied unchanged into
// testdata/ (see testdata/README.md for their sources and versions).
const (
	apiSpecPath     = "testdata/twilio_api_v2010_messages.openapi.json"
	contentSpecPath = "testdata/twilio_content_v1.openapi.json"
)

var (
	specOnce    sync.Once
	apiSpec     *openapi3.T
	contentSpec *openapi3.T
	specErr     error
)

// loadSpecs loads both documents once, with validators for the string
// formats Twilio's documents use beyond OpenAPI's own, so that dates,
// phone numbers, currencies and URLs are checked and not just accepted.
func loadSpecs(t *testing.T) (api, content *openapi3.T) {
	t.Helper()
	specOnce.Do(func() {
		openapi3.DefineStringFormatValidator("date-time-rfc-2822", openapi3.NewCallbackValidator(func(s string) error {
			_, err := time.Parse(time.RFC1123Z, s)
			return err
		}))
		phone := regexp.MustCompile(`^(whatsapp:)?\+[1-9][0-9]{6,14}$`)
		openapi3.DefineStringFormatValidator("phone-number", openapi3.NewCallbackValidator(func(s string) error {
			if !phone.MatchString(s) {
				return fmt.Errorf("%q is not a phone number or channel address", s)
			}
			return nil
		}))
		openapi3.DefineStringFormatValidator("currency", openapi3.NewRegexpFormatValidator(`^[A-Za-z]{3}$`))
		// Absolute, or relative to the API host as the 2010-04-01 list
		// pages' uri fields are (twilio-go prefixes them with
		// https://api.twilio.com: client/page_util_test.go).
		openapi3.DefineStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme == "" || u.Host == "") && !strings.HasPrefix(s, "/2010-04-01/") {
				return fmt.Errorf("%q is not an absolute URI", s)
			}
			return nil
		}))
		loader := openapi3.NewLoader()
		if apiSpec, specErr = loader.LoadFromFile(apiSpecPath); specErr != nil {
			return
		}
		contentSpec, specErr = loader.LoadFromFile(contentSpecPath)
	})
	if specErr != nil {
		t.Fatalf("load OpenAPI documents: %v", specErr)
	}
	return apiSpec, contentSpec
}

// exchange is one request the simulator answered.
type exchange struct {
	method, path, query string
	status              int
	header              http.Header
	body                []byte
}

// recorder keeps every exchange of the handler it wraps.
type recorder struct {
	mu  sync.Mutex
	exs []exchange
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.exs = append(rec.exs, exchange{
			method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
			status: cw.status, header: w.Header().Clone(), body: cw.buf.Bytes(),
		})
	})
}

func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]exchange(nil), rec.exs...)
}

type captureWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.buf.Write(b)
	return c.ResponseWriter.Write(b)
}

// validateExchanges checks every JSON answer of the Twilio API and the
// Content API: successes against the operation's response schema in the
// published document (status code included), errors against the error body
// that twilio-go decodes (the documents define no error responses).
func validateExchanges(t *testing.T, exs []exchange) {
	t.Helper()
	for _, ex := range exs {
		if ex.status == 0 || ex.method == http.MethodHead {
			continue // abandoned by a timeout fault, or bodiless
		}
		var doc *openapi3.T
		var specPath string
		api, content := loadSpecs(t)
		switch {
		case strings.HasPrefix(ex.path, "/api/"):
			doc, specPath = api, strings.TrimPrefix(ex.path, "/api")
		case strings.HasPrefix(ex.path, "/content/"):
			doc, specPath = content, strings.TrimPrefix(ex.path, "/content")
		default:
			continue
		}
		if ex.status >= 400 {
			validateErrorBody(t, ex)
			continue
		}
		if ex.status == http.StatusTemporaryRedirect {
			if ex.header.Get("Location") == "" {
				t.Errorf("%s %s: redirect without Location", ex.method, ex.path)
			}
			continue
		}
		validateAgainstSpec(t, doc, specPath, ex)
	}
}

// validateAgainstSpec runs kin-openapi's response validation for the
// operation that the document defines for the exchange's method and path.
func validateAgainstSpec(t *testing.T, doc *openapi3.T, specPath string, ex exchange) {
	t.Helper()
	tmpl, item, params := findPath(doc, specPath)
	if item == nil {
		t.Errorf("%s %s: the OpenAPI document has no such path", ex.method, specPath)
		return
	}
	op := item.GetOperation(ex.method)
	if op == nil {
		t.Errorf("%s %s: the OpenAPI document has no such operation", ex.method, tmpl)
		return
	}
	servers := item.Servers
	if len(servers) == 0 {
		servers = doc.Servers
	}
	req := httptest.NewRequest(ex.method, servers[0].URL+specPath+"?"+ex.query, nil)
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: ex.method, Operation: op},
		},
		Status:  ex.status,
		Header:  ex.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(ex.body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("%s %s (%d) does not match %s in the OpenAPI document: %v\nbody: %s", ex.method, ex.path, ex.status, tmpl, err, ex.body)
	}
	// The documents type Content "types" as a bare object; check each
	// item's types against the document's own "types" schema too.
	if strings.HasPrefix(tmpl, "/v1/Content") {
		typesSchema := doc.Components.Schemas["types"].Value
		var body map[string]any
		if err := json.Unmarshal(ex.body, &body); err != nil {
			t.Errorf("%s: %v", ex.path, err)
			return
		}
		items, _ := body["contents"].([]any)
		if _, ok := body["types"]; ok {
			items = append(items, body)
		}
		for _, it := range items {
			types := it.(map[string]any)["types"]
			if err := typesSchema.VisitJSON(types); err != nil {
				t.Errorf("%s: types %v do not match the document's types schema: %v", ex.path, types, err)
			}
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// findPath matches a concrete path against the document's path templates,
// which (unlike the routers kin-openapi ships) may end in ".json".
func findPath(doc *openapi3.T, p string) (string, *openapi3.PathItem, map[string]string) {
	for tmpl, item := range doc.Paths.Map() {
		var re strings.Builder
		re.WriteString("^")
		last := 0
		var names []string
		for _, loc := range pathParam.FindAllStringSubmatchIndex(tmpl, -1) {
			re.WriteString(regexp.QuoteMeta(tmpl[last:loc[0]]))
			re.WriteString(`([^/]+?)`)
			names = append(names, tmpl[loc[2]:loc[3]])
			last = loc[1]
		}
		re.WriteString(regexp.QuoteMeta(tmpl[last:]) + "$")
		m := regexp.MustCompile(re.String()).FindStringSubmatch(p)
		if m == nil {
			continue
		}
		params := map[string]string{}
		for i, n := range names {
			params[n] = m[i+1]
		}
		return tmpl, item, params
	}
	return "", nil, nil
}

// validateErrorBody checks that an error answer is exactly Twilio's JSON
// error and that twilio-go decodes it into *client.TwilioRestError.
func validateErrorBody(t *testing.T, ex exchange) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(ex.body, &raw); err != nil {
		t.Errorf("%s %s (%d): error body is not JSON: %s", ex.method, ex.path, ex.status, ex.body)
		return
	}
	for _, k := range []string{"code", "message", "more_info", "status"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("%s %s: error body lacks %q: %s", ex.method, ex.path, k, ex.body)
		}
	}
	var e client.TwilioRestError
	dec := json.NewDecoder(bytes.NewReader(ex.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Errorf("%s %s: error body does not decode into TwilioRestError: %v", ex.method, ex.path, err)
		return
	}
	if e.Status != ex.status || e.Code == 0 || e.Message == "" || e.MoreInfo != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", e.Code) {
		t.Errorf("%s %s: bad error body %s for status %d", ex.method, ex.path, ex.body, ex.status)
	}
}

// TestEveryRouteAnswersPerOpenAPI drives each route directly, including the
// ones twilio-go tests do not reach, and validates every answer.
func TestEveryRouteAnswersPerOpenAPI(t *testing.T) {
	h := newHarness(t)
	h.sim.SeedDemoTemplates(testAccount)
	ctx := context.Background()
	inSid, err := h.sim.CustomerSends(ctx, InboundMessage{
		From: testCustomer, To: testSender, Body: "photo", ProfileName: "Ann",
		Media: []MediaFile{{ContentType: "image/png", Filename: "a.png", Data: []byte("\x89PNG fake")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.parley.next(t)

	do := func(method, p string, form url.Values, auth bool) *http.Response {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, h.base+p, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth {
			req.SetBasicAuth(testAccount, testToken)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	acctPath := "/api/2010-04-01/Accounts/" + testAccount
	do("GET", acctPath+".json", nil, true)
	do("GET", acctPath+".json", nil, false)
	out := do("POST", acctPath+"/Messages.json", url.Values{"To": {"whatsapp:" + testCustomer}, "From": {"whatsapp:" + testSender}, "Body": {"hi"}}, true)
	if out.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", out.StatusCode)
	}
	do("POST", acctPath+"/Messages.json", url.Values{"From": {"whatsapp:" + testSender}, "Body": {"hi"}}, true)
	do("POST", acctPath+"/Messages.json", url.Values{"To": {"whatsapp:" + testCustomer}, "From": {"whatsapp:" + testSender}, "Body": {"again"}}, true)
	list := "/Messages.json?" + url.Values{"To": {"whatsapp:" + testCustomer}, "From": {"whatsapp:" + testSender}, "PageSize": {"1"}}.Encode()
	do("GET", acctPath+list, nil, true)
	do("GET", acctPath+list+"&Page=1&PageToken="+encodePageToken(1), nil, true)
	do("GET", acctPath+"/Messages.json?DateSent%3E="+time.Now().UTC().Format(time.DateOnly), nil, true)
	do("GET", acctPath+"/Messages.json?DateSent=yesterday", nil, true)
	do("GET", acctPath+"/Messages.json", nil, false)
	do("GET", acctPath+"/Messages/"+inSid+".json", nil, true)
	do("GET", acctPath+"/Messages/SM00000000000000000000000000000000.json", nil, true)
	h.sim.mu.Lock()
	mediaSid := h.sim.messages[inSid].media[0].sid
	sids := append([]string(nil), h.sim.tplOrder[testAccount]...)
	h.sim.mu.Unlock()
	do("GET", acctPath+"/Messages/"+inSid+"/Media/"+mediaSid+".json", nil, true)
	do("GET", acctPath+"/Messages/"+inSid+"/Media/"+mediaSid, nil, true)
	do("GET", acctPath+"/Messages/"+inSid+"/Media/"+mediaSid, nil, false)
	do("DELETE", acctPath+".json", nil, true)
	do("GET", "/content/v1/ContentAndApprovals?PageSize=3", nil, true)
	do("GET", "/content/v1/ContentAndApprovals?PageSize=3&Page=2&PageToken="+encodePageToken(6), nil, true)
	do("GET", "/content/v1/ContentAndApprovals", nil, false)
	do("GET", "/content/v1/Content?PageSize=5", nil, true)
	do("GET", "/content/v1/Content/"+sids[0], nil, true)
	do("GET", "/content/v1/Content/"+sids[2]+"/ApprovalRequests", nil, true)
	do("GET", "/content/v1/Content/HX00000000000000000000000000000000", nil, true)
	do("GET", "/api/2010-04-01/Nope.json", nil, true)

	h.sim.WaitIdle()
	exs := h.rec.exchanges()
	if len(exs) < 15 {
		t.Fatalf("recorded %d exchanges", len(exs))
	}
	// validateExchanges also runs at cleanup; run it here to fail close to the cause.
	validateExchanges(t, exs)
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}
