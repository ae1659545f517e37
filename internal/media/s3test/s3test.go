// Package s3test runs an S3-compatible server for tests, the way pgtest
// runs Postgres: one per test process, a fresh bucket per test.
//
// The server is gofakes3 in-process. SeaweedFS's weed binary was the first
// choice, but it cannot be installed in CI's time: `go install` refuses its
// module (its go.mod has replace directives), and building it from source
// compiles some 2,000 packages (cloud SDKs, Kafka, FUSE), which did not
// finish in 25 minutes on a CI-sized machine; MinIO's server is under the
// AGPL. gofakes3 speaks the S3 REST API over real HTTP (the AWS SDK signs
// and sends real requests, multipart uploads included); it does not check
// signatures.
package s3test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

var (
	once     sync.Once
	server   *httptest.Server
	backend  gofakes3.Backend
	nBuckets atomic.Int64
)

// Credentials the test server is reached with.
const (
	AccessKey = "parley-test"
	SecretKey = "parley-test-secret"
	Region    = "us-east-1"
)

// Endpoint is the server's base URL (http://127.0.0.1:PORT), started on
// first use.
func Endpoint() string {
	once.Do(func() {
		backend = s3mem.New()
		server = httptest.NewServer(refuseDenied(gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server()))
		// The AWS SDK reads keys from the environment; never the
		// instance metadata service (there is none here).
		for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey, "AWS_EC2_METADATA_DISABLED": "true"} {
			if os.Getenv(k) == "" {
				_ = os.Setenv(k, v)
			}
		}
	})
	return server.URL
}

// Bucket creates an empty bucket for the test and returns its name.
func Bucket(t testing.TB) string {
	t.Helper()
	Endpoint()
	name := fmt.Sprintf("t%d-%s", nBuckets.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 63 {
		name = name[:63]
	}
	name = strings.TrimRight(name, "-")
	if err := backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	return name
}

// URL is the PARLEY_MEDIA_URL of a fresh bucket.
func URL(t testing.TB) string {
	return BucketURL(Bucket(t))
}

// BucketURL is the PARLEY_MEDIA_URL of the bucket name on the server.
func BucketURL(name string) string {
	q := url.Values{"endpoint": {Endpoint()}, "region": {Region}, "use_path_style": {"true"}}
	return "s3://" + name + "?" + q.Encode()
}

// denied holds the access keys the server refuses, as a store refuses a
// wrong or revoked key (gofakes3 checks no signature, so without this every
// key would do).
var denied sync.Map

// DenyKey has the server refuse every request signed with accessKey from
// now on until the test ends (403 InvalidAccessKeyId, S3's answer to an
// unknown key): a wrong key, or one revoked after the bucket was connected.
func DenyKey(t testing.TB, accessKey string) {
	Endpoint()
	denied.Store(accessKey, true)
	t.Cleanup(func() { denied.Delete(accessKey) })
}

// accessKeyOf is the access key a request was signed with (SigV4, in the
// Authorization header or a presigned URL's X-Amz-Credential).
func accessKeyOf(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if _, after, ok := strings.Cut(a, "Credential="); ok {
			cred = after
		}
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

func refuseDenied(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := denied.Load(accessKeyOf(r)); ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
			return
		}
		next.ServeHTTP(w, r)
	})
}
