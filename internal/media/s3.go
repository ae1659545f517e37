package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// Bucket is an S3-compatible bucket given by its owner (a tenant's cloud
// storage): its keys are the tenant's, not the environment's.
type Bucket struct {
	Endpoint  string // https://…; empty is AWS S3
	Region    string
	Name      string
	AccessKey string
	Secret    string
}

// Check says what is missing or malformed in the bucket's settings, by
// field; an empty map is none.
func (b Bucket) Check() map[string]string {
	errs := map[string]string{}
	if b.Endpoint != "" {
		if u, err := url.Parse(b.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs["endpoint"] = "Give the store's address, like https://s3.eu-central-1.wasabisys.com, or leave it empty for AWS S3."
		}
	}
	if strings.TrimSpace(b.Region) == "" {
		errs["region"] = "Give the bucket's region (us-east-1 if the store has none)."
	}
	if strings.TrimSpace(b.Name) == "" {
		errs["bucket"] = "Give the bucket's name."
	}
	if strings.TrimSpace(b.AccessKey) == "" {
		errs["access_key"] = "Give the access key."
	}
	if b.Secret == "" {
		errs["secret"] = "Give the secret key."
	}
	return errs
}

// OpenBucket opens b with its own keys.
func OpenBucket(ctx context.Context, b Bucket) (*Store, error) {
	cfg := aws.Config{
		Region:      b.Region,
		Credentials: credentials.NewStaticCredentialsProvider(b.AccessKey, b.Secret, ""),
		// Only the checksums S3 requires: S3-compatible stores differ in
		// the rest (see Open).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if b.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(b.Endpoint, "/"))
			o.UsePathStyle = true
		}
	})
	bk, err := s3blob.OpenBucket(ctx, client, b.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", b.Name, err)
	}
	return &Store{b: bk, url: "s3://" + b.Name}, nil
}

// probeKey is the object Probe writes, reads and deletes.
const probeKey = "parley-probe"

// Probe writes, reads back and deletes a small object, as Connect does
// before a bucket is saved. Its error is the store's own words (see
// StoreWords).
func (s *Store) Probe(ctx context.Context) error {
	want := []byte("parley probe " + time.Now().UTC().Format(time.RFC3339Nano))
	if err := s.b.WriteAll(ctx, probeKey, want, &blob.WriterOptions{ContentType: "text/plain"}); err != nil {
		return fmt.Errorf("write a test object: %w", err)
	}
	r, err := s.b.NewReader(ctx, probeKey, nil)
	if err != nil {
		return fmt.Errorf("read the test object back: %w", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("read the test object back: %w", err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("read the test object back: it came back changed")
	}
	if err := s.b.Delete(ctx, probeKey); err != nil {
		return fmt.Errorf("delete the test object: %w", err)
	}
	return nil
}

// StoreWords is what the store said in err: its error code and message
// (for instance "NoSuchBucket: The specified bucket does not exist"), or
// the error itself when the store said nothing (it could not be reached).
func StoreWords(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m := ae.ErrorMessage(); m != "" {
			return ae.ErrorCode() + ": " + m
		}
		return ae.ErrorCode()
	}
	return err.Error()
}

// Exists says whether the file key is in the store.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return s.b.Exists(ctx, key)
}

// SignedURL is a link that downloads the file key for expiry, without
// signing in (a presigned GET).
func (s *Store) SignedURL(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	u, err := s.b.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: expiry, Method: "GET"})
	if err != nil {
		return "", fmt.Errorf("sign a link to %s: %w", key, err)
	}
	return u, nil
}
