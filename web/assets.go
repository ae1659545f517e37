package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"
)

// AssetFile is one static file, ready to serve: its bytes, gzipped once at
// start when that makes it smaller, and its content-hashed name.
type AssetFile struct {
	Name   string // as in web/static: "app.css"
	Hashed string // "app.3f2a9c1b0d5e.css": changes whenever the bytes do
	Type   string // Content-Type
	Raw    []byte
	Gzip   []byte // nil when gzip would not shrink it (images)
	ETag   string
	// Immutable: asked for by its hashed name, so cacheable for ever.
	Immutable bool
}

type assetTable struct {
	byName   map[string]*AssetFile // plain and hashed names
	toHashed map[string]string
}

var (
	assetsOnce sync.Once
	assets     assetTable
)

// hashedName puts the first 12 hex digits of the content's SHA-256 before
// the file's extension.
func hashedName(name, h string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + h + ext
}

func loadAssets() {
	assets = assetTable{byName: map[string]*AssetFile{}, toHashed: map[string]string{}}
	sub, err := fs.Sub(Static, "static")
	if err != nil {
		panic(err)
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		typ := mime.TypeByExtension(path.Ext(p))
		if typ == "" {
			typ = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])[:12]
		f := AssetFile{Name: p, Hashed: hashedName(p, h), Type: typ, Raw: b, ETag: `"` + h + `"`}
		if compressible(typ) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(b)
			_ = zw.Close()
			if buf.Len() < len(b) {
				f.Gzip = buf.Bytes()
			}
		}
		plain, hashed := f, f
		hashed.Immutable = true
		assets.byName[p] = &plain
		assets.byName[f.Hashed] = &hashed
		assets.toHashed[p] = f.Hashed
		return nil
	})
	if err != nil {
		panic(err)
	}
}

func compressible(typ string) bool {
	return strings.HasPrefix(typ, "text/") || strings.Contains(typ, "javascript") ||
		strings.Contains(typ, "json") || strings.Contains(typ, "svg")
}

// Asset is the URL of a static file by its name in web/static: its
// content-hashed address, which browsers may cache for ever. Every page
// refers to its scripts and styles through it.
func Asset(name string) string {
	assetsOnce.Do(loadAssets)
	if h, ok := assets.toHashed[name]; ok {
		return "/static/" + h
	}
	return "/static/" + name
}

// LookupAsset finds a static file by its plain or hashed name.
func LookupAsset(name string) (*AssetFile, bool) {
	assetsOnce.Do(loadAssets)
	f, ok := assets.byName[name]
	return f, ok
}
