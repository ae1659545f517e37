package sandbox

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
)

// Sample media of the demo templates: what a provider keeps as the
// approved sample of a media header (Twilio's template media, Meta's
// header_handle), served by each simulator under /samples/{name} so that
// previews show something and sends of fixed media can be fetched.

// SampleImage is the demo image template's sample: a small PNG.
const SampleImage = "spring-menu.png"

var samples = map[string]struct {
	contentType string
	data        func() []byte
}{
	SampleImage:    {"image/png", func() []byte { return samplePNG(color.RGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff}) }},
	"welcome.png":  {"image/png", func() []byte { return samplePNG(color.RGBA{R: 0x15, G: 0x65, B: 0xc0, A: 0xff}) }},
	"guide.pdf":    {"application/pdf", func() []byte { return []byte(samplePDF) }},
	"tour.mp4":     {"video/mp4", func() []byte { return []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom") }},
	"receipt.pdf":  {"application/pdf", func() []byte { return []byte(samplePDF) }},
	"location.png": {"image/png", func() []byte { return samplePNG(color.RGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}) }},
}

const samplePDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

func samplePNG(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 120, 68))
	for y := range 68 {
		for x := range 120 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// serveSample answers GET /samples/{name}.
func serveSample(w http.ResponseWriter, r *http.Request, name string) {
	s, ok := samples[strings.TrimPrefix(name, "/")]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", s.contentType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.data())
}
